"""Clock abstraction: millisecond ticks and wall-clock time, injectable for tests.

  Clock()          ticks_ms() ticks_diff(a, b) ticks_add(t, d) time() set_time(unix_s)
  FakeClock(ms=0, unix=0)   the same plus advance(ms); never wraps, never sleeps
  default          the process-wide Clock; firmware code takes a clock argument defaulting to it
time() is Unix seconds on every port: ports whose epoch is 2000 (embedded) are shifted, and
set_time() (from the network or a server's /3/0/13 write) moves the wall clock without touching
the ticks.
"""

from micropython import const

try:
    import time
except ImportError:  # a port without any clock (the bare QEMU image): only FakeClock is usable
    time = None

_EPOCH_2000 = const(946684800)

try:
    _ticks_ms = time.ticks_ms
    _ticks_diff = time.ticks_diff
    _ticks_add = time.ticks_add
except AttributeError:  # CPython (monotonic ms that never wrap), or no time module at all
    def _ticks_ms():
        return int(time.monotonic() * 1000) if time is not None else 0

    def _ticks_diff(a, b):
        return a - b

    def _ticks_add(t, d):
        return t + d

try:
    _PORT_EPOCH = _EPOCH_2000 if time.gmtime(0)[0] == 2000 else 0
except (AttributeError, OverflowError):
    _PORT_EPOCH = 0


class Clock:
    def __init__(self):
        self._offset = 0

    def ticks_ms(self):
        return _ticks_ms()

    def ticks_diff(self, a, b):
        return _ticks_diff(a, b)

    def ticks_add(self, t, d):
        return _ticks_add(t, d)

    def _raw_time(self):
        return int(time.time()) + _PORT_EPOCH if time is not None else 0

    def time(self):
        return self._raw_time() + self._offset

    def set_time(self, unix_s):
        self._offset = unix_s - self._raw_time()


class FakeClock(Clock):
    def __init__(self, ms=0, unix=0):
        super().__init__()
        self.ms = ms
        self._unix0 = unix

    def ticks_ms(self):
        return self.ms

    def ticks_diff(self, a, b):
        return a - b

    def ticks_add(self, t, d):
        return t + d

    def _raw_time(self):
        return self._unix0 + self.ms // 1000

    def advance(self, ms):
        self.ms += ms


default = Clock()
