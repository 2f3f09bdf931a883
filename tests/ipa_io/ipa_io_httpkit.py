"""Shared by the HTTP codec tests (MicroPython and CPython): drive ipa.http.Response over a
byte string cut into pieces of the given sizes, collecting the body."""

from ipa import http


def parse(data, cuts=(), max_head=http.MAX_HEAD, close=True):
    """Feed data split at the offsets in `cuts`; returns (response, body bytes). Calls eof()
    at the end when `close` (the peer closed after the last byte)."""
    r = http.Response(max_head=max_head)
    body = bytearray()
    bounds = [0] + [c for c in sorted(cuts) if 0 < c < len(data)] + [len(data)]
    for i in range(len(bounds) - 1):
        piece = bytearray(data[bounds[i]:bounds[i + 1]])
        off = 0
        while off < len(piece) and not r.done:
            off, a, b = r.feed(piece, off, len(piece))
            body.extend(piece[a:b])
        if r.done and off < len(piece):
            raise http.HttpError("body", "%d bytes after the end of the response"
                                 % (len(piece) - off))
    if close and not r.done:
        r.eof()
    return r, bytes(body)


def chunked(body, sizes):
    """`body` in the chunked coding, chunk sizes taken cyclically from `sizes` (> 0)."""
    out = bytearray()
    off = 0
    i = 0
    while off < len(body):
        n = min(sizes[i % len(sizes)], len(body) - off)
        out.extend(("%x\r\n" % n).encode())
        out.extend(body[off:off + n])
        out.extend(b"\r\n")
        off += n
        i += 1
    out.extend(b"0\r\n\r\n")
    return bytes(out)
