"""CoAP option values and the option header (RFC 7252 §3.1, §3.2, §5.4, §5.10; RFC 7959 §2.2).

Values are plain Python objects: uint options as int, string options as str, opaque options as
bytes, empty options as b"". Unknown option numbers stay opaque bytes."""

from micropython import const

from coap import numbers as N

FMT_EMPTY = const(0)
FMT_OPAQUE = const(1)
FMT_UINT = const(2)
FMT_STRING = const(3)

# RFC 7252 §5.10 table plus RFC 7641/7959/8613, 4 entries per option: number, format, min and max
# length. Numbers are literals (a test checks them against coap.numbers) so that the whole table
# is one constant tuple, which a frozen image keeps in flash instead of building a dict in RAM.
_TABLE = (
    1, FMT_OPAQUE, 0, 8,  # If-Match
    3, FMT_STRING, 1, 255,  # Uri-Host
    4, FMT_OPAQUE, 1, 8,  # ETag
    5, FMT_EMPTY, 0, 0,  # If-None-Match
    6, FMT_UINT, 0, 3,  # Observe
    7, FMT_UINT, 0, 2,  # Uri-Port
    8, FMT_STRING, 0, 255,  # Location-Path
    9, FMT_OPAQUE, 0, 255,  # OSCORE
    11, FMT_STRING, 0, 255,  # Uri-Path
    12, FMT_UINT, 0, 2,  # Content-Format
    14, FMT_UINT, 0, 4,  # Max-Age
    15, FMT_STRING, 0, 255,  # Uri-Query
    17, FMT_UINT, 0, 2,  # Accept
    20, FMT_STRING, 0, 255,  # Location-Query
    23, FMT_UINT, 0, 3,  # Block2
    27, FMT_UINT, 0, 3,  # Block1
    28, FMT_UINT, 0, 4,  # Size2
    35, FMT_STRING, 1, 1034,  # Proxy-Uri
    39, FMT_STRING, 1, 255,  # Proxy-Scheme
    60, FMT_UINT, 0, 4,  # Size1
    258, FMT_UINT, 0, 1,  # No-Response
)


def _find(number):
    """Index of `number`'s entry in _TABLE, or -1."""
    t = _TABLE
    for i in range(0, len(t), 4):
        if t[i] == number:
            return i
    return -1


def is_known(number):
    return _find(number) >= 0


def value_format(number):
    i = _find(number)
    return _TABLE[i + 1] if i >= 0 else FMT_OPAQUE


def is_critical(number):
    # RFC 7252 §5.4.6: the lowest bit of the number marks a critical option.
    return number & 1 == 1


def is_unsafe(number):
    return number & 2 == 2


def is_no_cache_key(number):
    return number & 0x1E == 0x1C


def uint_len(value):
    n = 0
    while value:
        n += 1
        value >>= 8
    return n


def value_len(number, value):
    """Encoded length of one option value."""
    if isinstance(value, int):
        return uint_len(value)
    if isinstance(value, str):
        return len(value.encode())
    return len(value)


def value_bytes(value):
    """Encoded form of one option value (int -> shortest big-endian, RFC 7252 §3.2)."""
    if isinstance(value, int):
        if value < 0:
            raise ValueError("negative uint option")
        return value.to_bytes(uint_len(value), "big")
    if isinstance(value, str):
        return value.encode()
    return bytes(value)


def decode_value(number, raw):
    """raw (bytes/memoryview slice) -> Python value; raises ValueError for bad lengths/UTF-8."""
    i = _find(number)
    if i < 0:
        return bytes(raw)
    fmt, lo, hi = _TABLE[i + 1], _TABLE[i + 2], _TABLE[i + 3]
    n = len(raw)
    if n < lo or n > hi:
        raise ValueError("length %d outside %d..%d" % (n, lo, hi))
    if fmt == FMT_UINT:
        v = 0
        for b in raw:
            v = (v << 8) | b
        return v
    if fmt == FMT_STRING:
        return str(bytes(raw), "utf-8")
    return bytes(raw)


def header_len(delta, length):
    """Bytes needed for the option header (delta/length nibbles and their extensions)."""
    n = 1
    if delta >= 269:
        n += 2
    elif delta >= 13:
        n += 1
    if length >= 269:
        n += 2
    elif length >= 13:
        n += 1
    return n


def _nibble(v):
    if v < 13:
        return v, 0
    if v < 269:
        return 13, 1
    return 14, 2


def write_header(buf, off, delta, length):
    """Write one option header at buf[off]; return the new offset."""
    if delta > 65804 or length > 65804:
        raise ValueError("option delta/length too large")
    dn, dx = _nibble(delta)
    ln, lx = _nibble(length)
    buf[off] = (dn << 4) | ln
    off += 1
    for nib, ext, v in ((dn, dx, delta), (ln, lx, length)):
        if ext == 1:
            buf[off] = v - 13
            off += 1
        elif ext == 2:
            v -= 269
            buf[off] = v >> 8
            buf[off + 1] = v & 0xFF
            off += 2
    return off


def read_ext(buf, off, end, nib):
    """Resolve a delta/length nibble; return (value, new offset).

    Raises ValueError for nibble 15 (reserved here, RFC 7252 §3.1) or a truncated extension."""
    if nib < 13:
        return nib, off
    if nib == 13:
        if off >= end:
            raise ValueError("truncated 1-byte extension")
        return buf[off] + 13, off + 1
    if nib == 14:
        if off + 2 > end:
            raise ValueError("truncated 2-byte extension")
        return ((buf[off] << 8) | buf[off + 1]) + 269, off + 2
    raise ValueError("reserved nibble 15")


# --- Block1/Block2 value: NUM (up to 20 bits) | M | SZX (RFC 7959 §2.2) ---

def block_encode(num, more, szx):
    if szx < 0 or szx > N.BLOCK_SZX_MAX:
        raise ValueError("SZX %d not in 0..6" % szx)
    if num < 0 or num >= 1 << 20:
        raise ValueError("block number out of range")
    return (num << 4) | (8 if more else 0) | szx


def block_decode(value):
    """-> (num, more, szx). SZX 7 is passed through; callers reject it with 4.00 (RFC 7959 §2.2)."""
    return value >> 4, bool(value & 8), value & 7


def szx_to_size(szx):
    return 1 << (szx + 4)


def size_to_szx(size):
    """Largest SZX whose block size is <= size (16..1024)."""
    szx = N.BLOCK_SZX_MAX
    while szx > 0 and (1 << (szx + 4)) > size:
        szx -= 1
    return szx
