# A filesystem for hal.storage.Store that resets the "device" at a chosen step: every file write,
# flush, rename and remove is a step; a crash during a write leaves half the bytes (a torn write).
import os


class Crash(Exception):
    pass


def tmpdir(tag):
    import time

    base = "%s/lwm2m_model_%s_%d" % (os.getenv("DTEST_TMPDIR") or "/tmp", tag, time.time_ns() % 1000000000)
    os.mkdir(base)
    return base


def rmtree(path):
    for name in os.listdir(path):
        os.remove(path + "/" + name)
    os.rmdir(path)


class _File:
    def __init__(self, fs, f):
        self.fs = fs
        self.f = f

    def write(self, data):
        if self.fs.step():
            self.f.write(data[:len(data) // 2])
            self.f.close()
            raise Crash()
        return self.f.write(data)

    def flush(self):
        if self.fs.step():
            self.f.close()
            raise Crash()
        self.f.flush()

    def close(self):
        self.f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()
        return False


class CrashFs:
    def __init__(self, crash_at=None):
        self.steps = 0
        self.crash_at = crash_at
        self.stat = os.stat
        self.listdir = os.listdir
        self.mkdir = os.mkdir

    def step(self):
        self.steps += 1
        return self.steps == self.crash_at

    def open(self, path, mode="r"):
        if "w" in mode:
            if self.step():
                raise Crash()
            return _File(self, open(path, mode))
        return open(path, mode)

    def rename(self, a, b):
        if self.step():
            raise Crash()
        os.rename(a, b)

    def remove(self, path):
        if self.step():
            raise Crash()
        os.remove(path)
