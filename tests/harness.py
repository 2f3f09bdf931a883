"""Shared test harness: where the MicroPython build is, how to run firmware on it, free ports,
and processes that are always reaped (process groups, bounded waits)."""

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
ON_DEVICE = os.path.join(ROOT, "tests", "on_device")
MICROPYTHON = os.environ.get("MICROPYTHON", os.path.join(ROOT, "build", "bin", "micropython"))
QEMU_ELF = os.path.join(ROOT, "build", "bin", "firmware-qemu-mps2-an385.elf")

# Source first, so tests exercise the working tree; the frozen copy of the same files follows
# (it provides asyncio). tests/test_frozen_image.py proves the frozen image on its own.
MICROPYPATH = os.pathsep.join([FIRMWARE, ".frozen", ON_DEVICE])


def micropython_env(extra_path=()):
    env = dict(os.environ)
    env["MICROPYPATH"] = os.pathsep.join(list(extra_path) + [MICROPYPATH])
    return env


def micropython_version():
    out = subprocess.run(
        [MICROPYTHON, "-c", "import sys; print(sys.version); print(sys.implementation._build)"],
        capture_output=True, text=True, timeout=20, check=True,
    ).stdout.split("\n")
    return out[0].strip(), out[1].strip()


def build_id(path):
    """The first 12 hex digits of the binary's SHA-256: names exactly which build ran."""
    import hashlib

    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:12]


def free_port(kind=socket.SOCK_DGRAM, host="127.0.0.1"):
    """A port the kernel says is free now on loopback (UDP by default)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class DeviceProcess:
    """A MicroPython (or any) process whose output lines are collected by a thread.

    Started in its own process group, so stop() reaps children too; stop() is idempotent and is
    called by the `device` fixture even when the test failed."""

    def __init__(self, argv, env=None, cwd=ROOT, name="device"):
        self.name = name
        self.argv = argv
        self.lines = []
        self._queue = queue.Queue()
        self.proc = subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True, bufsize=0,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        try:
            for raw in iter(self.proc.stdout.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.lines.append(line)
                self._queue.put(line)
        except (ValueError, OSError):
            pass  # stop() closed the pipe while this thread was reading: the process is gone
        self._queue.put(None)

    def expect(self, pattern, timeout=10.0):
        """Wait for an output line matching `pattern` (regex); return the match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("%s: no line matching %r within %.1fs; output:\n%s"
                                   % (self.name, pattern, timeout, self.output()))
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise EOFError("%s exited (rc=%s) before %r; output:\n%s"
                               % (self.name, self.proc.wait(), pattern, self.output()))
            m = rx.search(line)
            if m:
                return m

    def send_line(self, text):
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()

    def wait(self, timeout=30.0):
        rc = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return rc

    def output(self):
        return "\n".join(self.lines[-200:])

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=3)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=3)
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass


def start_micropython(script_or_module, args=(), heapsize=None, name="device", module=True,
                      extra_path=()):
    """Run firmware on the Unix port: `-m module` (default) or a script path."""
    argv = [MICROPYTHON]
    if heapsize:
        argv += ["-X", "heapsize=%s" % heapsize]
    argv += ["-m", script_or_module] if module else [script_or_module]
    argv += [str(a) for a in args]
    return DeviceProcess(argv, env=micropython_env(extra_path), name=name)


def start_python(module, args=(), name="host"):
    """Run a host tool (CPython, this venv) as a separate process."""
    argv = [sys.executable, "-u", "-m", module] + [str(a) for a in args]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, env.get("PYTHONPATH", "")])
    return DeviceProcess(argv, env=env, name=name)


def run_on_qemu(script_path, timeout=120.0):
    """Boot the QEMU MPS2-AN385 image (Cortex-M3, ~140 KB heap, firmware frozen), run one script
    on it with mpremote over the emulated UART (a pty), and return (output, returncode)."""
    qemu = subprocess.Popen(
        ["qemu-system-arm", "-machine", "mps2-an385", "-nographic", "-monitor", "null",
         "-semihosting", "-serial", "pty", "-kernel", QEMU_ELF],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        pty = None
        deadline = time.monotonic() + 20
        while pty is None and time.monotonic() < deadline:
            line = qemu.stdout.readline().decode(errors="replace")
            if not line:
                break
            m = re.search(r"(/dev/pts/\d+)", line)
            if m:
                pty = m.group(1)
        if pty is None:
            return "qemu did not report its serial pty", -1
        mpremote = os.path.join(os.path.dirname(sys.executable), "mpremote")
        try:
            proc = subprocess.run([mpremote, "connect", pty, "run", script_path],
                                  capture_output=True, text=True, timeout=timeout)
            return proc.stdout + proc.stderr, proc.returncode
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            return out, "timeout after %ss" % timeout
    finally:
        try:
            os.killpg(qemu.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        qemu.wait(timeout=5)
        qemu.stdout.close()


def parse_device_results(out, rc):
    """Per-test results from tests/on_device/device_runner.py output: name -> None (passed) or
    the failure text; "@@output"/"@@rc" keep the whole run for tests that never started."""
    results, current, trace = {}, None, None
    for line in out.splitlines():
        parts = line.split(" ", 1)
        if parts[0] == "@@START":
            current = parts[1]
        elif parts[0] == "@@PASS":
            results[parts[1]] = None
            current = None
        elif parts[0] == "@@FAIL":
            trace = []
        elif parts[0] == "@@END" and trace is not None:
            results[current] = "\n".join(trace)
            trace, current = None, None
        elif trace is not None:
            trace.append(line)
    if current is not None and current not in results:
        results[current] = "MicroPython stopped inside this test (rc=%s):\n%s" % (rc, out[-3000:])
    results["@@output"] = out
    results["@@rc"] = rc
    return results
