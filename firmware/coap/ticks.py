"""Millisecond ticks for the engine: MicroPython's wrapping ticks, or plain integers from a
monotonic clock under CPython (where the sans-I/O cores are tested and fuzzed)."""

try:
    from time import ticks_add, ticks_diff, ticks_ms
except ImportError:
    import time as _time

    def ticks_ms():
        return int(_time.monotonic() * 1000)

    def ticks_add(a, b):
        return a + b

    def ticks_diff(a, b):
        return a - b
