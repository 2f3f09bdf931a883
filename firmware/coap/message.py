"""CoAP message codec (RFC 7252 §3). No I/O: bytes in, Message out, and back."""

from micropython import const

from coap import numbers as N
from coap import options as O

code_str = N.code_str

_VERSION = const(1)
_PAYLOAD_MARKER = const(0xFF)
_MAX_TOKEN = const(8)


class DecodeError(ValueError):
    """A datagram that is not a valid CoAP message.

    field: which part failed ("header", "token", "option 11", "payload marker"...);
    reason: why; bad_code_hint: None when the message must be rejected outright (RST for CON,
    silent drop otherwise), or a response code (4.00/4.02) when a request was recognisable
    enough to be answered. mtype/code/mid/token are set once the header was read (else None)."""

    def __init__(self, field, reason, bad_code_hint=None, mtype=None, code=None, mid=None, token=None):
        super().__init__("%s: %s" % (field, reason))
        self.field = field
        self.reason = reason
        self.bad_code_hint = bad_code_hint
        self.mtype = mtype
        self.code = code
        self.mid = mid
        self.token = token


class Message:
    def __init__(self, mtype=N.CON, code=N.GET, mid=0, token=b"", options=None, payload=b""):
        self.mtype = mtype
        self.code = code
        self.mid = mid
        self.token = token
        self.options = options if options is not None else []
        self.payload = payload

    # --- options ---
    def add_option(self, number, value):
        self.options.append((number, value))
        return self

    def set_option(self, number, value):
        """Replace every occurrence of `number` by one (or none, if value is None)."""
        self.remove_option(number)
        if value is not None:
            self.options.append((number, value))
        return self

    def remove_option(self, number):
        self.options = [o for o in self.options if o[0] != number]

    def opt(self, number, default=None):
        for n, v in self.options:
            if n == number:
                return v
        return default

    def opts(self, number):
        return [v for n, v in self.options if n == number]

    def uri_path(self):
        return self.opts(N.URI_PATH)

    def uri_query(self):
        return self.opts(N.URI_QUERY)

    def path_str(self):
        return "/" + "/".join(self.uri_path())

    def set_uri_path(self, path):
        self.remove_option(N.URI_PATH)
        for seg in path.split("/"):
            if seg:
                self.options.append((N.URI_PATH, seg))
        return self

    def set_uri_query(self, queries):
        self.remove_option(N.URI_QUERY)
        for q in queries:
            self.options.append((N.URI_QUERY, q))
        return self

    def content_format(self):
        return self.opt(N.CONTENT_FORMAT)

    def location_path(self):
        return self.opts(N.LOCATION_PATH)

    def is_request(self):
        return N.is_request_code(self.code)

    def is_response(self):
        return N.is_response_code(self.code)

    def is_empty(self):
        return self.code == N.EMPTY

    def __repr__(self):
        return "<CoAP %s %s mid=%d tok=%s opts=%r %dB>" % (
            N.TYPE_NAMES[self.mtype], code_str(self.code), self.mid,
            bytes(self.token).hex(), self.options, len(self.payload))

    # --- encoding ---
    def _sorted_options(self):
        opts = self.options
        for i in range(1, len(opts)):
            if opts[i][0] < opts[i - 1][0]:
                # MicroPython's list.sort is not stable; a unique (number, position) key makes
                # the order stable anyway, so repeated options keep their order.
                idx = sorted(range(len(opts)), key=lambda j: (opts[j][0], j))
                return [opts[j] for j in idx]
        return opts

    def encoded_size(self):
        opts = self._sorted_options()
        n = 4 + len(self.token)
        prev = 0
        for num, val in opts:
            ln = O.value_len(num, val)
            n += O.header_len(num - prev, ln) + ln
            prev = num
        if self.payload:
            n += 1 + len(self.payload)
        return n

    def encode_into(self, buf, off=0):
        """Write the message into buf at off (buf must be large enough); return the end offset."""
        tok = self.token
        if len(tok) > _MAX_TOKEN:
            raise ValueError("token longer than 8 bytes")
        buf[off] = (_VERSION << 6) | (self.mtype << 4) | len(tok)
        buf[off + 1] = self.code
        buf[off + 2] = (self.mid >> 8) & 0xFF
        buf[off + 3] = self.mid & 0xFF
        off += 4
        buf[off:off + len(tok)] = tok
        off += len(tok)
        prev = 0
        for num, val in self._sorted_options():
            raw = O.value_bytes(val)
            off = O.write_header(buf, off, num - prev, len(raw))
            buf[off:off + len(raw)] = raw
            off += len(raw)
            prev = num
        pl = self.payload
        if pl:
            buf[off] = _PAYLOAD_MARKER
            off += 1
            buf[off:off + len(pl)] = pl
            off += len(pl)
        return off

    def encode(self):
        buf = bytearray(self.encoded_size())
        self.encode_into(buf)
        return bytes(buf)

    # --- decoding ---
    @staticmethod
    def decode(buf, length=None):
        """Parse buf[:length] (bytes, bytearray or memoryview). Raises DecodeError only."""
        mv = memoryview(buf)
        end = len(mv) if length is None else length
        if end < 4:
            raise DecodeError("header", "datagram shorter than 4 bytes")
        b0 = mv[0]
        if b0 >> 6 != _VERSION:
            # RFC 7252 §3: unknown version -> silently ignore; no hint, no header info.
            raise DecodeError("header", "version %d" % (b0 >> 6))
        mtype = (b0 >> 4) & 3
        tkl = b0 & 0x0F
        code = mv[1]
        mid = (mv[2] << 8) | mv[3]
        if tkl > _MAX_TOKEN:
            raise DecodeError("token", "TKL %d > 8" % tkl, None, mtype, code, mid)
        off = 4 + tkl
        if off > end:
            raise DecodeError("token", "truncated", None, mtype, code, mid)
        token = bytes(mv[4:off])
        if code == N.EMPTY:
            if end != 4:
                raise DecodeError("header", "empty message with content", None, mtype, code, mid)
            return Message(mtype, code, mid, b"", [], b"")
        # A request is "recognisable" from here on: errors in its options get 4.00/4.02.
        hint = N.BAD_REQUEST if N.is_request_code(code) else None
        opts = []
        num = 0
        payload = b""
        while off < end:
            b = mv[off]
            off += 1
            if b == _PAYLOAD_MARKER:
                if off >= end:
                    raise DecodeError("payload marker", "marker with empty payload",
                                      hint, mtype, code, mid, token)
                payload = bytes(mv[off:end])
                break
            try:
                delta, off = O.read_ext(mv, off, end, b >> 4)
                olen, off = O.read_ext(mv, off, end, b & 0x0F)
            except ValueError as e:
                raise DecodeError("option after %d" % num, str(e), hint, mtype, code, mid, token)
            num += delta
            if off + olen > end:
                raise DecodeError("option %d" % num, "value runs past datagram end",
                                  hint, mtype, code, mid, token)
            try:
                val = O.decode_value(num, mv[off:off + olen])
            except ValueError as e:
                # RFC 7252 §5.4.3: a bad value is an unrecognized option: elective -> ignore it,
                # critical -> 4.02 (requests) / reject.
                if O.is_critical(num):
                    raise DecodeError("option %d" % num, str(e),
                                      N.BAD_OPTION if hint else None, mtype, code, mid, token)
                off += olen
                continue
            opts.append((num, val))
            off += olen
        return Message(mtype, code, mid, token, opts, payload)


def unknown_critical(msg):
    """First critical option number the codec does not know, else None (RFC 7252 §5.4.1)."""
    for num, _ in msg.options:
        if O.is_critical(num) and not O.is_known(num):
            return num
    return None
