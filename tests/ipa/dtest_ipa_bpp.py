# The BPP splitter on MicroPython with a small heap: a 64 KB Bound Profile Package is generated
# piecewise, streamed through in network-sized chunks, and cut into SGP.22 §5.7.6 segments;
# the heap in use stays flat (the package is never held whole).
# mpy-heapsize: 96K
import gc

from ipa import apdu, bpp, tlv


def _bpp_stream(n86, size86, chunk):
    """Yield a BoundProfilePackage as chunks without building it (headers computed up front)."""
    isc = tlv.encode(0xBF23, tlv.encode(0x02, b"\x01") + tlv.encode(0x80, bytes(16))
                     + tlv.encode(0x5F37, bytes(64)))
    a0 = tlv.encode(0xA0, tlv.encode(0x87, bytes(40)))
    a1 = tlv.encode(0xA1, tlv.encode(0x88, bytes(30)))
    h86 = tlv.header_bytes(0x86, size86)
    a3_len = n86 * (len(h86) + size86)
    a3h = tlv.header_bytes(0xA3, a3_len)
    body = len(isc) + len(a0) + len(a1) + len(a3h) + a3_len
    head = tlv.header_bytes(0xBF36, body) + isc + a0 + a1 + a3h
    buf = bytearray(chunk)
    fill = 0
    pieces = [head]
    for i in range(n86):
        pieces.append(h86)
        pieces.append(None)       # stands for size86 bytes of ciphertext
        while pieces:
            p = pieces.pop(0)
            left = size86 if p is None else len(p)
            off = 0
            while left:
                n = min(left, chunk - fill)
                if p is None:
                    for k in range(n):
                        buf[fill + k] = (i + k) & 0xFF
                else:
                    buf[fill:fill + n] = p[off:off + n]
                fill += n
                off += n
                left -= n
                if fill == chunk:
                    yield buf
                    fill = 0
    if fill:
        yield buf[:fill]


def _run(total86, size86=1020, chunk=1024):
    sd = apdu.StoreData(0)
    sp = bpp.BppSplitter(sd)
    # Preallocated so the test's own bookkeeping does not grow with the package size.
    seg_heads = bytearray(80)
    state = {"new": True, "peak": 0, "segments": 0}
    gc.collect()
    base = gc.mem_alloc()
    for piece in _bpp_stream(total86 // size86, size86, chunk):
        g = sp.feed(piece)
        r = None
        while True:
            try:
                a = g.send(r)
            except StopIteration:
                break
            if state["new"]:
                seg_heads[state["segments"]] = a[5]
                state["new"] = False
            last = a[2] == 0x91
            if last:
                state["new"] = True
                state["segments"] += 1
            done = last and state["segments"] == 4 + total86 // size86 + 1
            r = (b"\xbf\x37\x00", 0x9000) if done else (b"", 0x9000)
        gc.collect()
        state["peak"] = max(state["peak"], gc.mem_alloc() - base)
    sp.finish()
    return sp, list(seg_heads[:state["segments"]]), state["peak"], sd.blocks_sent


def test_bpp_64KB_streamed_in_segments_small_heap():
    sp, heads, peak, blocks = _run(64 * 1020)
    assert sp.result == b"\xbf\x37\x00"
    # BF36+BF23, A0, A1 header, 88, A3 header, then 64 '86' segments.
    assert heads[:5] == [0xBF, 0xA0, 0xA1, 0x88, 0xA3] and heads[5:] == [0x86] * 64
    assert peak < 8 * 1024, peak


def test_bpp_peak_heap_does_not_grow_with_size():
    _, _, peak16, _ = _run(16 * 1020)
    _, _, peak64, _ = _run(64 * 1020)
    assert peak64 <= peak16 + 128, (peak16, peak64)


def test_bpp_early_error_result_stops_stream():
    sd = apdu.StoreData(0)
    sp = bpp.BppSplitter(sd)
    sent = 0
    for piece in _bpp_stream(8, 1020, 512):
        g = sp.feed(piece)
        r = None
        while True:
            try:
                a = g.send(r)
            except StopIteration:
                break
            sent += 1
            # The eUICC rejects the first '86' segment: the result arrives with its last block.
            r = (b"\xbf\x37\x01\x01", 0x9000) if (a[2] == 0x91 and sent > 6) else (b"", 0x9000)
        if sp.done:
            break
    assert sp.done and sp.result == b"\xbf\x37\x01\x01"
