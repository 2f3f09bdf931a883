# AT response parsing and line framing: pure logic, no I/O (imports under CPython for fuzzing).
#
# Syntax follows 3GPP TS 27.007 / ITU-T V.250: information responses are `+NAME: p1,"p2",3`,
# final result codes end a command, vendors add their own prefixes (%, #, ^) and finals
# (`SEND OK`).  The framer turns a byte stream into events (a line, a `>` prompt, a block of
# raw bytes announced by the previous line) with one preallocated buffer.
import binascii

from micropython import const

# Event kinds returned by LineFramer.next()
EV_NONE = const(0)
EV_LINE = const(1)
EV_PROMPT = const(2)
EV_RAW = const(3)
EV_LINE_RAW = const(4)  # a line whose tail is binary data of announced length (SIM7080 +CARECV)

# Final result code kinds
FINAL_NONE = const(0)
FINAL_OK = const(1)
FINAL_ERROR = const(2)
FINAL_CME = const(3)
FINAL_CMS = const(4)
FINAL_SEND_OK = const(5)
FINAL_SEND_FAIL = const(6)
FINAL_NO_CARRIER = const(7)

RX_SIZE = const(2048)
MAX_LINE = const(1100)  # a 255-byte APDU in hex plus the CGLA framing fits

_FINALS = {
    "OK": FINAL_OK,
    "ERROR": FINAL_ERROR,
    "SEND OK": FINAL_SEND_OK,
    "SEND FAIL": FINAL_SEND_FAIL,
    "NO CARRIER": FINAL_NO_CARRIER,
}

FINAL_NAMES = ("", "OK", "ERROR", "+CME ERROR", "+CMS ERROR", "SEND OK", "SEND FAIL", "NO CARRIER")


def final_kind(line):
    """(kind, code) for a final result code, (FINAL_NONE, None) otherwise.

    The code of +CME/+CMS ERROR is an int in numeric mode (AT+CMEE=1), the text in verbose mode."""
    k = _FINALS.get(line)
    if k is not None:
        return k, None
    if line.startswith("+CME ERROR:"):
        return FINAL_CME, _num(line[11:].strip())
    if line.startswith("+CMS ERROR:"):
        return FINAL_CMS, _num(line[11:].strip())
    return FINAL_NONE, None


def _num(tok):
    if not tok:
        return None
    i = 1 if tok[0] == "-" and len(tok) > 1 else 0
    for c in tok[i:]:
        if c < "0" or c > "9":
            return tok
    return int(tok)


def info_prefix(line):
    """`+CEREG` for `+CEREG: 1,5`; None for a line that is not a prefixed information response."""
    if not line or line[0] not in "+%#^$":
        return None
    c = line.find(":")
    if c < 2:
        return None
    return line[:c]


def split_params(s, start=0):
    """Split an AT parameter list: quoted strings keep commas and come back as str (quotes
    removed), bare decimal numbers as int, other bare tokens as str, empty fields as None."""
    out = []
    n = len(s)
    i = start
    while True:
        while i < n and s[i] == " ":
            i += 1
        if i < n and s[i] == '"':
            j = s.find('"', i + 1)
            if j < 0:
                raise ValueError("unterminated quote at %d in %r" % (i, s))
            out.append(s[i + 1:j])
            i = j + 1
            while i < n and s[i] == " ":
                i += 1
            if i < n and s[i] != ",":
                raise ValueError("junk after quoted string at %d in %r" % (i, s))
        else:
            j = s.find(",", i)
            if j < 0:
                j = n
            out.append(_num(s[i:j].strip()))
            i = j
        if i >= n:
            return out
        i += 1  # the comma
        if i >= n:
            out.append(None)
            return out


def parse_info(line):
    """(prefix, params) for `+X: a,b`; raises ValueError when the line is not of that form."""
    p = info_prefix(line)
    if p is None:
        raise ValueError("not an information response: %r" % (line,))
    return p, split_params(line, len(p) + 1)


def unhex(s, field="hex"):
    """bytes from a hex string; ValueError names the field."""
    if len(s) & 1:
        raise ValueError("%s: odd hex length %d" % (field, len(s)))
    try:
        return binascii.unhexlify(s)
    except Exception:
        raise ValueError("%s: not hex: %r" % (field, s[:16]))


def tohex(b):
    return binascii.hexlify(b).decode().upper()


_HEXDIGITS = b"0123456789ABCDEF"


def put_ascii(buf, off, text):
    """Copy an ASCII str/bytes into buf at off; the new offset."""
    n = len(text)
    buf[off:off + n] = text if not isinstance(text, str) else text.encode()
    return off + n


def put_hex(buf, off, data):
    """Upper-case hex of `data` into buf at off without allocating; the new offset."""
    for b in data:
        buf[off] = _HEXDIGITS[b >> 4]
        buf[off + 1] = _HEXDIGITS[b & 15]
        off += 2
    return off


def hex_field(line, field="hex"):
    """bytes of the quoted hex string of a line like `+CGLA: 4,"9000"` (the last quoted field)."""
    b = line.rfind('"')
    a = line.rfind('"', 0, b)
    if a < 0:
        raise ValueError("%s: no quoted hex in %r" % (field, line[:24]))
    return unhex(line[a + 1:b], field)


def hexint(v, field="hex"):
    """An int from a quoted hex field (`"1A2B"`), an int field as is, None for an empty field."""
    if v is None or v == "":
        return None
    if isinstance(v, int):
        # a bare all-digit hex field (e.g. TAC "0001") was read as decimal by split_params
        return int(str(v), 16)
    try:
        return int(v, 16)
    except ValueError:
        raise ValueError("%s: not hex: %r" % (field, v))


def parse_cereg(params, query):
    """Registration status from +CEREG (TS 27.007 §10.1.22) as a dict.

    A query answer starts with <n>; the unsolicited form does not.  Returns stat, tac, ci, act
    (None where absent) plus the PSM timers when the modem reports them (n=4/5)."""
    if query:
        params = params[1:]
    if not params or not isinstance(params[0], int):
        raise ValueError("+CEREG: no <stat> in %r" % (params,))
    g = params + [None] * (9 - len(params)) if len(params) < 9 else params
    return {
        "stat": g[0],
        "tac": hexint(g[1], "tac"),
        "ci": hexint(g[2], "ci"),
        "act": g[3],
        "active_time": g[7],
        "periodic_tau": g[8],
    }


def registered(stat):
    # 1 = home, 5 = roaming (TS 27.007 §10.1.22)
    return stat == 1 or stat == 5


class LineFramer:
    """Turns received bytes into AT events using one preallocated buffer.

    `push()` copies bytes in; `next()` returns one event kind and leaves its value in `.line`
    / `.raw`.  Between events the owner may call `expect_raw(n)` (the line just returned
    announced n bytes of binary data) or set `want_prompt` (a command waits for `>`).
    Lines longer than max_line are dropped whole and counted in `.overlong`; lines with control
    or non-ASCII bytes are dropped and counted in `.garbled`."""

    def __init__(self, size=RX_SIZE, max_line=MAX_LINE, inline_raw=()):
        self._buf = bytearray(size)
        self._mv = memoryview(self._buf)
        self.reset()
        self.max_line = max_line
        self.inline_raw = inline_raw
        self.line = None
        self.raw = None
        self.overlong = 0
        self.garbled = 0
        self.overflow = 0

    def reset(self):
        self._n = 0
        self._pos = 0
        self._raw_need = 0
        self._dropping = False
        self._skip_lf = False
        self.want_prompt = False

    def push(self, data):
        """Append received bytes; returns how many were taken (all, unless the buffer is full
        of one incomplete raw block, which cannot happen for raw blocks <= size)."""
        if self._pos:
            rest = self._n - self._pos
            if rest:
                self._buf[0:rest] = self._mv[self._pos:self._n]
            self._n = rest
            self._pos = 0
        room = len(self._buf) - self._n
        take = len(data)
        if take > room:
            # An unterminated line filled the buffer: drop it, it would be overlong anyway.
            if not self._raw_need:
                self._n = 0
                self._dropping = True
                self.overlong += 1
                room = len(self._buf)
            if take > room:
                self.overflow += take - room
                take = room
        self._mv[self._n:self._n + take] = data[:take] if take < len(data) else data
        self._n += take
        return take

    def expect_raw(self, n):
        if n > len(self._buf):
            raise ValueError("raw block of %d bytes exceeds rx buffer %d" % (n, len(self._buf)))
        self._raw_need = n

    def next(self):
        buf = self._buf
        while True:
            pos = self._pos
            end = self._n
            if pos >= end:
                return EV_NONE
            if self._skip_lf:
                self._skip_lf = False
                if buf[pos] == 10:
                    self._pos = pos + 1
                    continue
            if self._raw_need:
                need = self._raw_need
                if end - pos < need:
                    return EV_NONE
                self.raw = bytes(self._mv[pos:pos + need])
                self._raw_need = 0
                self._pos = pos + need
                return EV_RAW
            c = buf[pos]
            if c == 13 or c == 10:
                self._pos = pos + 1
                self._dropping = False  # the terminator ends a line being dropped
                continue
            if self.want_prompt and c == 62 and not self._dropping:  # '>'
                self._pos = pos + 1
                if pos + 1 < end and buf[pos + 1] == 32:
                    self._pos = pos + 2
                self.want_prompt = False
                return EV_PROMPT
            if self.inline_raw and not self._dropping:
                r = self._inline(pos, end)
                if r < 0:
                    return EV_NONE
                if r > 0:
                    return EV_LINE_RAW
            # find the terminator
            i = pos
            while i < end:
                c = buf[i]
                if c == 13 or c == 10:
                    break
                i += 1
            if i >= end:
                if self._dropping:
                    self._pos = end  # still inside a line already counted as overlong
                elif end - pos > self.max_line:
                    self._dropping = True
                    self.overlong += 1
                    self._pos = end
                return EV_NONE
            self._pos = i + 1
            if buf[i] == 13:
                self._skip_lf = True
            if self._dropping:
                self._dropping = False
                continue
            if i - pos > self.max_line:
                self.overlong += 1
                continue
            line = self._decode(pos, i)
            if line is None:
                self.garbled += 1
                continue
            self.line = line
            return EV_LINE

    def _decode(self, a, b):
        buf = self._buf
        for k in range(a, b):
            c = buf[k]
            if c < 32 or c > 126:
                if c != 9:
                    return None
        return bytes(self._mv[a:b]).decode().strip()

    def _inline(self, pos, end):
        # `+CARECV: <len>,<len bytes>`: 1 when complete, -1 when more bytes are needed, 0 if not such a line.
        buf = self._buf
        for pfx in self.inline_raw:
            lp = len(pfx)
            if end - pos < lp:
                if bytes(self._mv[pos:end]) == pfx[:end - pos]:
                    return -1
                continue
            if bytes(self._mv[pos:pos + lp]) != pfx:
                continue
            i = pos + lp
            while i < end and buf[i] == 32:
                i += 1
            j = i
            while j < end and 48 <= buf[j] <= 57:
                j += 1
            if j >= end:
                return -1
            if buf[j] != 44 or j == i:  # no ',' → ordinary line (e.g. `+CARECV: 0`)
                return 0
            n = int(bytes(self._mv[i:j]))
            if n > len(buf) - 64:
                return 0
            if end - (j + 1) < n:
                if self._pos > 0 or end < len(buf):
                    return -1
                return 0
            self.line = bytes(self._mv[pos:j]).decode()
            self.raw = bytes(self._mv[j + 1:j + 1 + n])
            self._pos = j + 1 + n
            return 1
        return 0
