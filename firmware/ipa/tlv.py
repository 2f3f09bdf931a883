"""Streaming BER-TLV codec for the ES10x/ESipa data objects (ISO/IEC 8825-1 subset used by
SGP.22/SGP.32): tags of 1..3 bytes held as one int (0x5A, 0xBF2D, 0x5F37), definite lengths of
1..4 bytes (short form, 81, 82, 83). Indefinite lengths and longer length fields are rejected:
no eUICC object needs them and they would let a peer announce 4 GB.

Decoding works by offset into any buffer (bytes, bytearray, memoryview) so nothing is copied;
callers slice only the value they keep. Encoding writes into a preallocated bytearray (Writer)
or into a sink callable (put_header + the value)."""

from micropython import const

_MAX_TAG_BYTES = const(3)
_MAX_LEN = const(0xFFFFFF)


class TlvError(ValueError):
    """Malformed TLV; .tag is the tag being read (None if the tag itself was bad), .offset the
    byte offset where decoding stopped."""

    def __init__(self, msg, tag=None, offset=0):
        self.tag = tag
        self.offset = offset
        if tag is None:
            super().__init__("%s at offset %d" % (msg, offset))
        else:
            super().__init__("%s (tag %X at offset %d)" % (msg, tag, offset))


def is_constructed(tag):
    # The constructed bit lives in the first tag byte whatever the tag's length.
    while tag > 0xFF:
        tag >>= 8
    return bool(tag & 0x20)


def read_tag(buf, off, end):
    """Return (tag, offset after the tag)."""
    if off >= end:
        raise TlvError("truncated tag", None, off)
    start = off
    b = buf[off]
    tag = b
    off += 1
    if b & 0x1F == 0x1F:
        while True:
            if off >= end:
                raise TlvError("truncated tag", None, start)
            b = buf[off]
            tag = (tag << 8) | b
            off += 1
            if not b & 0x80:
                break
            if off - start >= _MAX_TAG_BYTES:
                raise TlvError("tag longer than 3 bytes", None, start)
    return tag, off


def read_len(buf, off, end, tag=None):
    """Return (length, offset after the length field)."""
    if off >= end:
        raise TlvError("truncated length", tag, off)
    b = buf[off]
    if b < 0x80:
        return b, off + 1
    n = b & 0x7F
    if n == 0:
        raise TlvError("indefinite length", tag, off)
    if n > 3:
        raise TlvError("length field of %d bytes" % n, tag, off)
    if off + 1 + n > end:
        raise TlvError("truncated length", tag, off)
    length = 0
    for i in range(n):
        length = (length << 8) | buf[off + 1 + i]
    return length, off + 1 + n


def header(buf, off=0, end=None):
    """Decode the TLV at off: return (tag, value_offset, value_end). The value must fit in end."""
    if end is None:
        end = len(buf)
    tag, voff = read_tag(buf, off, end)
    length, voff = read_len(buf, voff, end, tag)
    vend = voff + length
    if vend > end:
        raise TlvError("value of %d bytes truncated" % length, tag, off)
    return tag, voff, vend


def expect(buf, tag, off=0, end=None):
    """Decode the TLV at off and insist on its tag; return (value_offset, value_end)."""
    t, voff, vend = header(buf, off, end)
    if t != tag:
        raise TlvError("expected tag %X, got" % tag, t, off)
    return voff, vend


def children(buf, off=0, end=None):
    """Iterate over consecutive TLVs in [off, end): yields (tag, value_offset, value_end)."""
    if end is None:
        end = len(buf)
    while off < end:
        tag, voff, vend = header(buf, off, end)
        yield tag, voff, vend
        off = vend


def find(buf, tag, off=0, end=None):
    """First child with this tag in [off, end): (value_offset, value_end) or None."""
    for t, voff, vend in children(buf, off, end):
        if t == tag:
            return voff, vend
    return None


def elements(buf, off=0, end=None):
    """Like children() but also yields where each TLV starts: (tag, start, value_offset, value_end),
    for callers that forward whole child TLVs untouched."""
    if end is None:
        end = len(buf)
    while off < end:
        tag, voff, vend = header(buf, off, end)
        yield tag, off, voff, vend
        off = vend


def uint(buf, voff, vend, tag=None):
    """Decode a non-negative INTEGER value (up to 4 bytes; sequence numbers, counters, codes)."""
    n = vend - voff
    if n < 1 or n > 5:
        raise TlvError("INTEGER of %d bytes" % n, tag, voff)
    v = 0
    for i in range(voff, vend):
        v = (v << 8) | buf[i]
    if n < 5 and buf[voff] & 0x80:
        v -= 1 << (8 * n)
    return v


def text(buf, voff, vend, tag=None):
    """UTF8String value as str; malformed UTF-8 is a TlvError like any other bad field."""
    try:
        return bytes(buf[voff:vend]).decode()
    except UnicodeError:
        raise TlvError("invalid UTF-8", tag, voff)


def tag_size(tag):
    if tag > 0xFFFF:
        return 3
    if tag > 0xFF:
        return 2
    return 1


def len_size(length):
    if length < 0x80:
        return 1
    if length < 0x100:
        return 2
    if length < 0x10000:
        return 3
    if length <= _MAX_LEN:
        return 4
    raise TlvError("length %d too large" % length)


def put_header(buf, off, tag, length):
    """Write tag and length at buf[off:]; return the offset after them."""
    n = tag_size(tag)
    for i in range(n - 1, -1, -1):
        buf[off] = (tag >> (8 * i)) & 0xFF
        off += 1
    n = len_size(length)
    if n == 1:
        buf[off] = length
        return off + 1
    buf[off] = 0x80 | (n - 1)
    off += 1
    for i in range(n - 2, -1, -1):
        buf[off] = (length >> (8 * i)) & 0xFF
        off += 1
    return off


def header_bytes(tag, length):
    b = bytearray(tag_size(tag) + len_size(length))
    put_header(b, 0, tag, length)
    return bytes(b)


def encode(tag, value=b""):
    """One TLV as bytes (small objects; large ones go through Writer)."""
    return header_bytes(tag, len(value)) + bytes(value)


def encode_uint(tag, value):
    """INTEGER as minimal two's complement (non-negative values)."""
    n = 1
    while value >= 1 << (8 * n - 1):
        n += 1
    return encode(tag, value.to_bytes(n, "big"))


def encode_seq(tag, *parts):
    """Constructed TLV from already-encoded children; None parts (absent OPTIONALs) skipped."""
    body = b"".join(p for p in parts if p is not None)
    return encode(tag, body)


class Writer:
    """Encoder into one preallocated buffer. open(tag) ... close() nest constructed TLVs: the
    length is patched at close, moving the content when it needs a long-form length."""

    def __init__(self, size=512, depth=8):
        self.buf = bytearray(size)
        self.mv = memoryview(self.buf)
        self.pos = 0
        self._stack = [0] * depth
        self._sp = 0

    def reset(self):
        self.pos = 0
        self._sp = 0

    def _room(self, n, tag):
        if self.pos + n > len(self.buf):
            raise TlvError("writer buffer of %d bytes full" % len(self.buf), tag, self.pos)

    def put(self, tag, value=b""):
        n = len(value)
        self._room(tag_size(tag) + len_size(n) + n, tag)
        self.pos = put_header(self.buf, self.pos, tag, n)
        self.mv[self.pos:self.pos + n] = value
        self.pos += n
        return self

    def put_uint(self, tag, value):
        n = 1
        while value >= 1 << (8 * n - 1):
            n += 1
        self._room(tag_size(tag) + 1 + n, tag)
        self.pos = put_header(self.buf, self.pos, tag, n)
        for i in range(n - 1, -1, -1):
            self.buf[self.pos] = (value >> (8 * i)) & 0xFF
            self.pos += 1
        return self

    def raw(self, data):
        """Append already-encoded TLV bytes."""
        n = len(data)
        self._room(n, None)
        self.mv[self.pos:self.pos + n] = data
        self.pos += n
        return self

    def open(self, tag):
        if self._sp >= len(self._stack):
            raise TlvError("nesting deeper than %d" % len(self._stack), tag, self.pos)
        self._room(tag_size(tag) + 1, tag)
        self.pos = put_header(self.buf, self.pos, tag, 0)
        # Remember where the one-byte length placeholder sits.
        self._stack[self._sp] = self.pos - 1
        self._sp += 1
        return self

    def close(self):
        if not self._sp:
            raise TlvError("close() without open()", None, self.pos)
        self._sp -= 1
        lpos = self._stack[self._sp]
        start = lpos + 1
        n = self.pos - start
        extra = len_size(n) - 1
        if extra:
            self._room(extra, None)
            buf = self.buf
            # Shift the content right, last byte first, so it never overwrites itself.
            for i in range(self.pos - 1, start - 1, -1):
                buf[i + extra] = buf[i]
            self.pos += extra
        self._put_len(lpos, n)
        return self

    def _put_len(self, off, n):
        size = len_size(n)
        buf = self.buf
        if size == 1:
            buf[off] = n
            return
        buf[off] = 0x80 | (size - 1)
        for i in range(size - 1):
            buf[off + size - 1 - i] = (n >> (8 * i)) & 0xFF

    def value(self):
        """memoryview of what has been written (valid until the next reset)."""
        if self._sp:
            raise TlvError("%d constructed TLVs still open" % self._sp, None, self.pos)
        return self.mv[:self.pos]

    def getvalue(self):
        return bytes(self.value())

    def flush_to(self, sink):
        sink(self.value())
        self.reset()
