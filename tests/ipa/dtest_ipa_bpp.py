# The BPP splitter on MicroPython with a small heap: a 64 KB Bound Profile Package is generated
# piecewise, streamed through in network-sized chunks, and cut into SGP.22 §5.7.6 segments;
# the heap in use stays flat (the package is never held whole).
# mpy-heapsize: 96K
from ipa_bppgen import measure


def test_bpp_64KB_streamed_in_segments_small_heap():
    m = measure(64)
    assert m["result"] == b"\xbf\x37\x00"
    # BF36+BF23, A0, A1 header, 88, A3 header, then 64 '86' segments.
    assert m["heads"] == b"\xbf\xa0\xa1\x88\xa3" + b"\x86" * 64
    assert m["peak"] < 8 * 1024, m["peak"]
    assert m["blocks"] == m["floor"]


def test_bpp_peak_heap_does_not_grow_with_size():
    p16 = measure(16)["peak"]
    p64 = measure(64)["peak"]
    assert p64 <= p16 + 128, (p16, p64)


def test_bpp_early_error_result_stops_stream():
    m = measure(8, chunk=512, fail_after=5)
    assert m["result"] == b"\xbf\x37\x01\x01"
    assert m["segments"] == 6
