# Proves the on-device harness itself: sync and async tests run on MicroPython, the heap limit
# from the header line is applied, and a raised exception is caught by the runner.
# mpy-heapsize: 96K
import gc
import sys


def test_runs_on_micropython():
    assert sys.implementation.name == "micropython"


def test_heapsize_header_applied():
    gc.collect()
    total = gc.mem_free() + gc.mem_alloc()
    assert 90 * 1024 < total <= 96 * 1024, total


async def test_async_test_runs_under_asyncio():
    import asyncio

    await asyncio.sleep_ms(1)
    assert True is not False
