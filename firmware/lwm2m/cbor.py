"""CBOR (RFC 8949) for MicroPython: a streaming encoder and a pull decoder, sans-I/O.

Encoder(write=None): items are written as they are produced, to `write(bytes)` or, by default, to
  an internal bytearray (getvalue()). Methods: uint int bytes text bool null float tag value,
  array(n) / map(n) with n=None for an indefinite container closed by end(). Floats are written in
  the shortest of half/single/double that keeps the value exactly; ints in the shortest head.
Decoder(data, max_depth=16, max_items=4096, skip_tags=True): reads from a bytes-like object by
  offset (no re-slicing). head() -> (major, arg) pulls one item head (arg None = indefinite);
  value() reads one whole item as Python objects (array keys of maps become tuples); skip();
  done(). Indefinite arrays/maps/strings are accepted. Tags are skipped (the tagged item is
  returned) or, with skip_tags=False, refused.
loads(data, ...) decodes exactly one item; dumps(value) encodes one.
Every decoding failure raises CBORError, a model.Error carrying 4.00 Bad Request.
"""

import struct

from micropython import const

from lwm2m.model import Error, BAD_REQUEST, INTERNAL_SERVER_ERROR

_M_UINT = const(0)
_M_NINT = const(1)
_M_BYTES = const(2)
_M_TEXT = const(3)
_M_ARRAY = const(4)
_M_MAP = const(5)
_M_TAG = const(6)
_M_SIMPLE = const(7)
_BREAK = const(0xFF)
_INDEF = const(31)


def _half_bits(x):
    """Half-precision bits for x when it converts exactly, else None."""
    if x != x:
        return 0x7E00
    try:
        b = struct.pack(">f", x)
    except OverflowError:
        return None
    bits = struct.unpack(">I", b)[0]
    sign = (bits >> 16) & 0x8000
    exp = (bits >> 23) & 0xFF
    mant = bits & 0x7FFFFF
    # Some ports turn an out-of-range value into infinity instead of raising: compare first.
    if struct.unpack(">f", b)[0] != x:
        return None
    if exp == 0xFF:
        return sign | 0x7C00
    if exp == 0 and mant == 0:
        return sign
    if exp == 0:
        return None
    e = exp - 127
    if -14 <= e <= 15:
        if mant & 0x1FFF:
            return None
        return sign | ((e + 15) << 10) | (mant >> 13)
    if -24 <= e < -14:
        full = mant | 0x800000
        shift = -1 - e
        if full & ((1 << shift) - 1):
            return None
        return sign | (full >> shift)
    return None


def _half_value(h):
    e = (h >> 10) & 0x1F
    m = h & 0x3FF
    if e == 0:
        v = m * 5.960464477539063e-08
    elif e == 31:
        v = float("inf") if m == 0 else float("nan")
    else:
        v = (m | 0x400) * 2.0 ** (e - 25)
    return -v if h & 0x8000 else v


class Encoder:
    def __init__(self, write=None):
        self._buf = None
        if write is None:
            self._buf = bytearray()
            write = self._buf.extend
            self._byte = self._buf.append
        self._w = write

    def getvalue(self):
        return bytes(self._buf)

    def _byte(self, b):
        # Replaced by bytearray.append when encoding into the internal buffer (no allocation).
        self._w(bytes((b,)))

    def _head(self, major, n):
        mt = major << 5
        if n < 24:
            self._byte(mt | n)
        elif n < 0x100:
            self._byte(mt | 24)
            self._byte(n)
        elif n < 0x10000:
            self._w(struct.pack(">BH", mt | 25, n))
        elif n < 0x100000000:
            self._w(struct.pack(">BI", mt | 26, n))
        elif n < 0x10000000000000000:
            self._w(struct.pack(">BII", mt | 27, n >> 32, n & 0xFFFFFFFF))
        else:
            raise Error(INTERNAL_SERVER_ERROR, "cbor: integer %d too large" % n)

    def uint(self, n):
        self._head(_M_UINT, n)

    def int(self, n):
        if n < 0:
            self._head(_M_NINT, -1 - n)
        else:
            self._head(_M_UINT, n)

    def bytes(self, b):
        self._head(_M_BYTES, len(b))
        self._w(b)

    def text(self, s):
        b = s.encode()
        self._head(_M_TEXT, len(b))
        self._w(b)

    def array(self, n=None):
        if n is None:
            self._byte(0x9F)
        else:
            self._head(_M_ARRAY, n)

    def map(self, n=None):
        if n is None:
            self._byte(0xBF)
        else:
            self._head(_M_MAP, n)

    def end(self):
        self._byte(0xFF)

    def tag(self, t):
        self._head(_M_TAG, t)

    def bool(self, v):
        self._byte(0xF5 if v else 0xF4)

    def null(self):
        self._byte(0xF6)

    def float(self, x):
        h = _half_bits(x)
        if h is not None:
            self._w(struct.pack(">BH", 0xF9, h))
            return
        try:
            b = struct.pack(">f", x)
            if struct.unpack(">f", b)[0] == x:
                self._w(b"\xfa" + b)
                return
        except OverflowError:
            pass
        self._w(b"\xfb" + struct.pack(">d", x))

    def value(self, v):
        if v is None:
            self.null()
        elif isinstance(v, bool):
            self.bool(v)
        elif isinstance(v, int):
            self.int(v)
        elif isinstance(v, float):
            self.float(v)
        elif isinstance(v, str):
            self.text(v)
        elif isinstance(v, (bytes, bytearray, memoryview)):
            self.bytes(v)
        elif isinstance(v, (list, tuple)):
            self.array(len(v))
            for x in v:
                self.value(x)
        elif isinstance(v, dict):
            self.map(len(v))
            # MicroPython dicts are not ordered: sort (ints, then texts) so output is the same
            # on every port.
            try:
                keys = sorted(v)
            except TypeError:
                keys = list(v)
            for k in keys:
                self.value(k)
                self.value(v[k])
        else:
            raise Error(INTERNAL_SERVER_ERROR, "cbor: cannot encode %s" % type(v).__name__)


def _make_decoder():
    # The decoding half is made on first use, like this: a device that only ever encodes (Send,
    # notifications, SenML answers) keeps its ~1 KB of class and method objects free.
    global CBORError, Decoder

    class CBORError(Error):
        def __init__(self, msg, pos=-1):
            super().__init__(BAD_REQUEST, "cbor at %d: %s" % (pos, msg))

    class Decoder:
        def __init__(self, data, max_depth=16, max_items=4096, skip_tags=True):
            self.buf = memoryview(data)
            self.pos = 0
            self.max_depth = max_depth
            self.items_left = max_items
            self.skip_tags = skip_tags

        def done(self):
            return self.pos >= len(self.buf)

        def _need(self, n):
            if self.pos + n > len(self.buf):
                raise CBORError("truncated, %d bytes needed" % n, self.pos)

        def _u8(self):
            self._need(1)
            b = self.buf[self.pos]
            self.pos += 1
            return b

        def head(self):
            """One item head: (major, argument); argument None means indefinite length;
            for major 7 the argument is the simple value (20..23) or the float itself."""
            self.items_left -= 1
            if self.items_left < 0:
                raise CBORError("too many items", self.pos)
            start = self.pos
            ib = self._u8()
            major = ib >> 5
            ai = ib & 31
            if ai < 24:
                arg = ai
            elif ai < 28:
                n = 1 << (ai - 24)
                self._need(n)
                p = self.pos
                if major == _M_SIMPLE and ai > 24:
                    if ai == 25:
                        arg = _half_value((self.buf[p] << 8) | self.buf[p + 1])
                    else:
                        arg = struct.unpack(">f" if ai == 26 else ">d", bytes(self.buf[p:p + n]))[0]
                    self.pos += n
                    return major, arg
                arg = int.from_bytes(bytes(self.buf[p:p + n]), "big")
                self.pos += n
                if major == _M_SIMPLE and arg < 32:
                    raise CBORError("simple value %d in two bytes" % arg, start)
            elif ai == _INDEF and major in (_M_BYTES, _M_TEXT, _M_ARRAY, _M_MAP):
                arg = None
            elif ai == _INDEF and major == _M_SIMPLE:
                raise CBORError("unexpected break", start)
            else:
                raise CBORError("reserved additional info %d for major %d" % (ai, major), start)
            return major, arg

        def _string(self, major, n):
            if n is not None:
                self._need(n)
                b = bytes(self.buf[self.pos:self.pos + n])
                self.pos += n
            else:
                parts = []
                while True:
                    self._need(1)
                    if self.buf[self.pos] == _BREAK:
                        self.pos += 1
                        break
                    at = self.pos
                    m, cn = self.head()
                    if m != major or cn is None:
                        raise CBORError("bad chunk in indefinite string", at)
                    self._need(cn)
                    parts.append(bytes(self.buf[self.pos:self.pos + cn]))
                    self.pos += cn
                b = b"".join(parts)
            if major == _M_TEXT:
                try:
                    return b.decode()
                except Exception:
                    raise CBORError("text is not UTF-8", self.pos)
            return b

        def _at_break(self):
            self._need(1)
            if self.buf[self.pos] == _BREAK:
                self.pos += 1
                return True
            return False

        def value(self, depth=0):
            at = self.pos
            major, arg = self.head()
            if major == _M_UINT:
                return arg
            if major == _M_NINT:
                return -1 - arg
            if major == _M_BYTES or major == _M_TEXT:
                return self._string(major, arg)
            if major == _M_TAG:
                if not self.skip_tags:
                    raise CBORError("tag %d not accepted" % arg, at)
                return self.value(depth)
            if major == _M_SIMPLE:
                if isinstance(arg, float):
                    return arg
                if arg == 20:
                    return False
                if arg == 21:
                    return True
                if arg == 22 or arg == 23:
                    return None
                raise CBORError("simple value %d" % arg, at)
            if depth >= self.max_depth:
                raise CBORError("nesting deeper than %d" % self.max_depth, at)
            if arg is not None and arg > len(self.buf) - self.pos:
                raise CBORError("container of %d items exceeds input" % arg, at)
            if major == _M_ARRAY:
                out = []
                i = 0
                while (arg is None and not self._at_break()) or (arg is not None and i < arg):
                    out.append(self.value(depth + 1))
                    i += 1
                return out
            out = {}
            i = 0
            while (arg is None and not self._at_break()) or (arg is not None and i < arg):
                kat = self.pos
                k = self.value(depth + 1)
                if isinstance(k, list):
                    k = _frozen(k)
                elif isinstance(k, dict):
                    raise CBORError("map as map key", kat)
                if k in out:
                    raise CBORError("duplicate map key %r" % (k,), kat)
                out[k] = self.value(depth + 1)
                i += 1
            return out

        def skip(self):
            self.value()

    return Decoder


def __getattr__(name):
    if name in ("Decoder", "CBORError"):
        _make_decoder()
        return globals()[name]
    raise AttributeError(name)


def _frozen(v):
    try:
        out = tuple(_frozen(x) if isinstance(x, list) else x for x in v)
        hash(out)
        return out
    except TypeError:
        raise CBORError("unhashable map key")


def loads(data, max_depth=16, max_items=4096, skip_tags=True):
    try:
        d = (globals().get("Decoder") or _make_decoder())(data, max_depth, max_items, skip_tags)
        v = d.value()
    except CBORError:
        raise
    except Exception as exc:  # a bug-shaped input must still only ever yield 4.00
        raise CBORError("malformed (%s)" % type(exc).__name__)
    if not d.done():
        raise CBORError("%d bytes after the item" % (len(d.buf) - d.pos), d.pos)
    return v


def dumps(v):
    e = Encoder()
    e.value(v)
    return e.getvalue()
