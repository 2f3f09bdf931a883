"""On-device helper for the BPP splitter tests and benchmark (MicroPython and CPython): a
Bound Profile Package generated piecewise (never whole in RAM) and a pump that streams it
through ipa.bpp.BppSplitter against a fake eUICC, measuring the live heap as it goes."""

import gc

from ipa import apdu, bpp, tlv


def bpp_stream(n86, size86, chunk):
    """Yield a BoundProfilePackage with n86 '86' elements of size86 bytes, chunk bytes at a time
    (one reused buffer: consume each chunk before asking for the next)."""
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
    for i in range(-1, n86):
        parts = (head,) if i < 0 else (h86, None)
        for p in parts:
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


def pump(sp, piece, respond):
    """Feed one piece; respond(apdu) gives the fake eUICC's (data, sw)."""
    g = sp.feed(piece)
    r = None
    while True:
        try:
            a = g.send(r)
        except StopIteration:
            return
        r = respond(a)


def measure(n86, size86=1020, chunk=1024, fail_after=None):
    """Stream one BPP; returns dict(result, heads, peak, blocks, floor, segments, bytes).
    peak: most heap held (after gc) beyond the starting point; floor: fewest STORE DATA blocks
    the §5.7.6 segment boundaries allow."""
    sd = apdu.StoreData(0)
    sp = bpp.BppSplitter(sd)
    # Preallocated so the bookkeeping here does not grow with the package size.
    heads = bytearray(n86 + 8)
    st = {"new": True, "segments": 0, "seglen": 0, "floor": 0, "bytes": 0}
    want = 5 + n86

    def respond(a):
        if st["new"]:
            heads[st["segments"]] = a[5]
            st["new"] = False
        st["seglen"] += a[4]
        st["bytes"] += a[4]
        if a[2] != 0x91:
            return b"", 0x9000
        st["new"] = True
        st["segments"] += 1
        st["floor"] += (st["seglen"] + 254) // 255
        st["seglen"] = 0
        if fail_after is not None and st["segments"] > fail_after:
            return b"\xbf\x37\x01\x01", 0x9000
        if st["segments"] == want:
            return b"\xbf\x37\x00", 0x9000
        return b"", 0x9000

    gc.collect()
    base = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
    peak = 0
    for piece in bpp_stream(n86, size86, chunk):
        pump(sp, piece, respond)
        if hasattr(gc, "mem_alloc"):
            gc.collect()
            peak = max(peak, gc.mem_alloc() - base)
        if sp.done:
            break
    if fail_after is None:
        sp.finish()
    return {"result": sp.result, "heads": bytes(heads[:st["segments"]]), "peak": peak,
            "blocks": sd.blocks_sent, "floor": st["floor"], "segments": st["segments"],
            "bytes": st["bytes"]}
