"""HTTP/1.1 client codec for the ESipa ASN.1 binding (SGP.32 v1.2 §6.1, shaped like SGP.22
§6.1: POST /gsma/rsp2/asn1, Content-Type application/x-gsma-rsp-asn1, X-Admin-Protocol
gsma/rsp/v2.1.0, User-Agent gsma-rsp-ipad). Sans-I/O: request_head() builds bytes, Response
parses whatever the transport read, by offset, and hands body bytes out as (start, end) ranges
of the caller's buffer, so a bound profile package streams through without being held whole.

    r = Response()
    while not r.done:
        n = <read into buf>            # n == 0: call r.eof() (body delimited by close)
        off = 0
        while off < n and not r.done:
            off, a, b = r.feed(buf, off, n)   # returns once when the head is complete
            if b > a: sink(mv[a:b])

RFC 9112 parts implemented: status line, header fields (names case-insensitive, no obs-fold),
Content-Length, chunked transfer coding (extensions ignored, trailers skipped), 1xx interim
responses skipped, bodies delimited by close, no body for 204/304 (and HEAD is never sent).
Every malformed input raises HttpError naming the field."""

from micropython import const

ESIPA_PATH = "/gsma/rsp2/asn1"
CONTENT_TYPE = "application/x-gsma-rsp-asn1"
# SGP.32 §6.1 keeps the SGP.22 value for interoperability of the ASN.1 binding.
ADMIN_PROTOCOL = "gsma/rsp/v2.1.0"
USER_AGENT = "gsma-rsp-ipad"

MAX_HEAD = const(1024)        # status line + all header fields (an eIM sends ~150 bytes)
_MAX_CHUNK_LINE = const(64)   # "<hex size>[;ext]\r\n"
_MAX_CHUNK = const(0x7FFFFFFF)

_S_HEAD = const(0)
_S_BODY = const(1)        # Content-Length bytes left in self.left
_S_CLOSE = const(2)       # until the connection closes
_S_CSIZE = const(3)       # chunk-size line
_S_CDATA = const(4)       # chunk data, self.left bytes
_S_CCRLF = const(5)       # CRLF after chunk data
_S_TRAILER = const(6)     # trailer fields after the last chunk
_S_DONE = const(7)

# Header fields kept (lower-case); the rest are parsed for syntax and dropped.
_KEEP = ("content-length", "transfer-encoding", "connection", "content-type",
         "x-admin-protocol", "retry-after")


class HttpError(ValueError):
    """Malformed or unusable HTTP; .field names the part (status-line, content-length, ...),
    .status is the HTTP status when one was parsed."""

    def __init__(self, field, msg, status=None):
        super().__init__("HTTP %s: %s" % (field, msg))
        self.field = field
        self.status = status


def request_head(host, length, path=ESIPA_PATH, keep_alive=True,
                 admin_protocol=ADMIN_PROTOCOL, user_agent=USER_AGENT):
    """The request line and header fields of one ESipa POST whose body has `length` bytes."""
    return ("POST %s HTTP/1.1\r\n"
            "Host: %s\r\n"
            "User-Agent: %s\r\n"
            "X-Admin-Protocol: %s\r\n"
            "Content-Type: %s\r\n"
            "Content-Length: %d\r\n"
            "Connection: %s\r\n"
            "\r\n" % (path, host, user_agent, admin_protocol, CONTENT_TYPE, length,
                      "keep-alive" if keep_alive else "close")).encode()


def _digits(text, field, status=None):
    if not text or len(text) > 10:
        raise HttpError(field, "bad value %r" % text, status)
    n = 0
    for c in text:
        d = ord(c) - 48
        if d < 0 or d > 9:
            raise HttpError(field, "bad value %r" % text, status)
        n = n * 10 + d
    return n


def _hex_size(line, status):
    # chunk-size = 1*HEXDIG, then optional ";ext" (ignored) and BWS
    end = len(line)
    for i in range(len(line)):
        if line[i] in ";\t ":
            end = i
            break
    digits = line[:end]
    if not digits or len(digits) > 8:
        raise HttpError("chunk-size", "bad size %r" % line[:16], status)
    n = 0
    for c in digits:
        o = ord(c)
        if 48 <= o <= 57:
            d = o - 48
        elif 97 <= o <= 102:
            d = o - 87
        elif 65 <= o <= 70:
            d = o - 55
        else:
            raise HttpError("chunk-size", "bad size %r" % line[:16], status)
        n = n * 16 + d
    if n > _MAX_CHUNK:
        raise HttpError("chunk-size", "size %d too large" % n, status)
    return n


class Response:
    """Incremental parser of one response; reuse with reset() on a kept-alive connection."""

    def __init__(self, max_head=MAX_HEAD, request_method="POST"):
        self._head = bytearray(max_head)
        self._line = bytearray(_MAX_CHUNK_LINE)
        self.request_method = request_method
        self.reset()

    def reset(self):
        self.state = _S_HEAD
        self._hlen = 0
        self._llen = 0
        self.status = None
        self.reason = ""
        self.version = None
        self.headers = {}
        self.left = 0
        self.body_len = 0       # body bytes handed out so far
        self.chunked = False

    @property
    def done(self):
        return self.state == _S_DONE

    def keep_alive(self):
        """Whether the connection may carry the next request after this response."""
        conn = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return conn == "keep-alive"
        return conn != "close" and self.state == _S_DONE

    def content_length(self):
        return self.headers.get("content-length")

    def eof(self):
        """The peer closed the connection: ends a close-delimited body, else a truncation."""
        if self.state == _S_CLOSE:
            self.state = _S_DONE
            return
        if self.state != _S_DONE:
            raise HttpError("body" if self.state != _S_HEAD else "status-line",
                            "connection closed in state %d after %d body bytes"
                            % (self.state, self.body_len), self.status)

    def feed(self, buf, off, end):
        """Consume buf[off:end] up to the next body range; returns (off, a, b) where buf[a:b]
        is body (a == b: none) and off is where to continue."""
        while off < end:
            st = self.state
            if st == _S_HEAD:
                off = self._feed_head(buf, off, end)
                if self.state != _S_HEAD:
                    # Head complete: the caller looks at status and fields before the body.
                    return off, off, off
            elif st == _S_BODY or st == _S_CDATA:
                n = min(self.left, end - off)
                self.left -= n
                self.body_len += n
                if self.left == 0:
                    self.state = _S_DONE if st == _S_BODY else _S_CCRLF
                    self._llen = 0
                return off + n, off, off + n
            elif st == _S_CLOSE:
                self.body_len += end - off
                return end, off, end
            elif st == _S_DONE:
                raise HttpError("body", "%d bytes after the end of the response"
                                % (end - off), self.status)
            else:
                off = self._feed_line(buf, off, end)
            if self.state == _S_DONE:
                break
        return off, off, off

    # --- head ----------------------------------------------------------------------------------

    def _feed_head(self, buf, off, end):
        h = self._head
        start = self._hlen
        n = min(len(h) - start, end - off)
        h[start:start + n] = memoryview(buf)[off:off + n]
        self._hlen = start + n
        i = h.find(b"\r\n\r\n", max(0, start - 3), self._hlen)
        if i < 0:
            if self._hlen == len(h):
                raise HttpError("header-size", "head over %d bytes" % len(h))
            return off + n
        used = i + 4 - start
        self._parse_head(bytes(h[:i]))
        return off + used

    def _parse_head(self, head):
        try:
            text = head.decode()
        except UnicodeError:
            raise HttpError("status-line", "head is not text")
        lines = text.split("\r\n")
        sl = lines[0]
        parts = sl.split(" ", 2)
        if len(parts) < 2 or parts[0] not in ("HTTP/1.1", "HTTP/1.0") or len(parts[1]) != 3:
            raise HttpError("status-line", "bad status line %r" % sl[:40])
        status = _digits(parts[1], "status-line")
        if status < 100:
            raise HttpError("status-line", "status %d" % status)
        headers = {}
        for line in lines[1:]:
            c = line.find(":")
            if c <= 0 or line[0] in " \t" or line[c - 1] in " \t":
                raise HttpError("header-field", "bad field line %r" % line[:40], status)
            name = line[:c].lower()
            if name in _KEEP:
                value = line[c + 1:].strip()
                if name == "content-length":
                    n = _digits(value, "content-length", status)
                    if name in headers and headers[name] != n:
                        raise HttpError("content-length", "conflicting values", status)
                    value = n
                headers[name] = value
        self._hlen = 0
        if status < 200:
            # 1xx interim (100 Continue): the final response follows in the same stream.
            return
        self.status = status
        self.version = parts[0]
        self.reason = parts[2] if len(parts) > 2 else ""
        self.headers = headers
        te = headers.get("transfer-encoding")
        if status == 204 or status == 304 or self.request_method == "HEAD":
            self.state = _S_DONE
        elif te is not None:
            if te.lower() != "chunked":
                raise HttpError("transfer-encoding", "unsupported %r" % te, status)
            if "content-length" in headers:
                raise HttpError("content-length", "together with chunked", status)
            self.chunked = True
            self.state = _S_CSIZE
            self._llen = 0
        elif "content-length" in headers:
            self.left = headers["content-length"]
            self.state = _S_BODY if self.left else _S_DONE
        else:
            self.state = _S_CLOSE

    # --- chunked coding ------------------------------------------------------------------------

    def _feed_line(self, buf, off, end):
        """Collect one CRLF-terminated line (chunk size, CRLF after data, trailer field)."""
        ln = self._line
        while off < end:
            c = buf[off]
            off += 1
            if c == 10:
                if self._llen == 0 or ln[self._llen - 1] != 13:
                    raise HttpError(self._line_field(), "bare LF", self.status)
                line = bytes(ln[:self._llen - 1]).decode()
                self._llen = 0
                self._line_done(line)
                return off
            if self._llen == len(ln):
                raise HttpError(self._line_field(), "line over %d bytes" % len(ln), self.status)
            ln[self._llen] = c
            self._llen += 1
        return off

    def _line_field(self):
        if self.state == _S_CSIZE:
            return "chunk-size"
        return "chunk-data" if self.state == _S_CCRLF else "trailer"

    def _line_done(self, line):
        st = self.state
        if st == _S_CSIZE:
            n = _hex_size(line, self.status)
            if n:
                self.left = n
                self.state = _S_CDATA
            else:
                self.state = _S_TRAILER
        elif st == _S_CCRLF:
            if line:
                raise HttpError("chunk-data", "no CRLF after chunk data", self.status)
            self.state = _S_CSIZE
        elif line == "":
            self.state = _S_DONE
        elif line.find(":") <= 0:
            raise HttpError("trailer", "bad field line %r" % line[:40], self.status)
