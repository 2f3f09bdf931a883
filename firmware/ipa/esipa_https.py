"""ESipa over HTTPS (SGP.32 v1.2 §6.1 ASN.1 binding): the I/O half. TCP + TLS through
MicroPython's `tls` module and asyncio streams, one kept-alive connection per procedure, every
wait bounded. The HTTP bytes come from ipa.http (sans-I/O).

    eim = EsipaHttps("https://eim.example:443", cadata=der_root)
    answer = await eim.exchange(esipa_message)        # b"" when the eIM answers 204
    s = await eim.open_stream(get_bpp_request)        # body read piecewise: await s.read(n)
    await eim.close()                                 # end of the procedure

Trust: the eIM's TLS trust anchor is given by the device's eIM configuration as DER (`cadata`;
PEM is converted). mbedTLS 2.28 (MicroPython 1.25) parses DER and NUL-terminated PEM only, and
refuses certificates with a critical extension it cannot evaluate (e.g. critical
certificatePolicies as in the RSP PKI), so the anchor and the eIM's chain must avoid those.
The certificate is always verified (CERT_REQUIRED, host name from the URL or server_hostname);
there is no switch to turn that off (plain http:// URLs exist for local tests only).

Failures raise EsipaHttpsError (an OSError, so ipa.runner turns it into EimUnreachable):
.kind is one of connect / tls / timeout / http / closed / protocol / memory, .status the HTTP
status."""

import asyncio

from micropython import const

from ipa import http

_RX_SIZE = const(1024)
_CONNECT_TIMEOUT_MS = const(20000)
_IO_TIMEOUT_MS = const(30000)
_MAX_BODY = const(16384)      # whole-answer exchanges; a BPP goes through open_stream()


class EsipaHttpsError(OSError):
    def __init__(self, kind, detail, status=None):
        super().__init__("ESipa HTTPS %s%s: %s" % (
            kind, "" if status is None else " %d" % status, detail))
        self.kind = kind
        self.status = status
        self.detail = detail


def parse_url(url):
    """"https://host[:port][/path]" -> (tls, host, port, path). An eimFqdn without scheme (as
    stored in EimConfigurationData) is taken as https."""
    tls = True
    if url.startswith("https://"):
        rest = url[8:]
    elif url.startswith("http://"):
        tls = False
        rest = url[7:]
    elif "://" in url:
        raise ValueError("eIM URL scheme in %r" % url)
    else:
        rest = url
    slash = rest.find("/")
    path = http.ESIPA_PATH
    if slash >= 0:
        if rest[slash:] not in ("/", ""):
            path = rest[slash:]
        rest = rest[:slash]
    port = 443 if tls else 80
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            raise ValueError("eIM URL host in %r" % url)
        host = rest[1:end]
        if rest[end + 1:end + 2] == ":":
            port = int(rest[end + 2:])
    elif ":" in rest:
        host, p = rest.rsplit(":", 1)
        port = int(p)
    else:
        host = rest
    if not host or not 0 < port < 65536:
        raise ValueError("eIM URL host/port in %r" % url)
    return tls, host, port, path


def pem_to_der(data):
    """The first certificate of a PEM text as DER; DER input is returned unchanged."""
    if data[:1] == b"\x30":    # a DER SEQUENCE (PEM text starts with "-----")
        return bytes(data)
    import binascii

    text = bytes(data).decode()
    a = text.find("-----BEGIN")
    if a < 0:
        raise ValueError("trust anchor is neither DER nor PEM")
    a = text.find("\n", a) + 1
    b = text.find("-----END", a)
    return binascii.a2b_base64("".join(text[a:b].split()))


def make_context(cadata):
    """The client TLS context for an eIM trust anchor (DER or PEM). mbedTLS takes ~40 KB of
    contiguous heap for it on the Unix port: make it early, while the heap is unfragmented,
    and keep it (EsipaHttps(ssl_context=...) reuses it for every connection)."""
    import tls

    ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = tls.CERT_REQUIRED
    try:
        ctx.load_verify_locations(pem_to_der(cadata))
    except ValueError as e:
        raise EsipaHttpsError("tls", "trust anchor refused by mbedTLS (%s)" % e)
    return ctx


class _BodyStream:
    """The body of one response, read piecewise; the connection stays with EsipaHttps."""

    def __init__(self, link):
        self.link = link

    async def read(self, n):
        return await self.link._read_body(n)


class EsipaHttps:
    def __init__(self, url, cadata=None, server_hostname=None, timeout_ms=_IO_TIMEOUT_MS,
                 connect_timeout_ms=_CONNECT_TIMEOUT_MS, rx_size=_RX_SIZE, max_body=_MAX_BODY,
                 ssl_context=None):
        self.tls, self.host, self.port, self.path = parse_url(url)
        if self.tls and cadata is None and ssl_context is None:
            raise ValueError("https eIM needs a trust anchor (cadata)")
        self.cadata = None if cadata is None else pem_to_der(cadata)
        self.server_hostname = server_hostname or self.host
        self.timeout_ms = timeout_ms
        self.connect_timeout_ms = connect_timeout_ms
        self.max_body = max_body
        self._buf = bytearray(rx_size)
        self._mv = memoryview(self._buf)
        self._have = 0        # bytes in _buf not yet fed (a != b leftovers of one read)
        self._pos = 0
        self.resp = http.Response()
        self._r = None
        self._w = None
        self._ctx = ssl_context
        # figures for the benchmark and the log
        self.requests = 0
        self.connects = 0
        self.bytes_tx = 0     # HTTP bytes (head + body), before TLS
        self.bytes_rx = 0
        self.body_tx = 0
        self.body_rx = 0

    # --- connection ----------------------------------------------------------------------------

    def _context(self):
        if self._ctx is None:
            try:
                self._ctx = make_context(self.cadata)
            except MemoryError:
                # no contiguous heap for mbedTLS now: a failed exchange, retried after back-off
                raise EsipaHttpsError("memory", "no heap for the TLS context")
        return self._ctx

    async def _connect(self):
        ctx = self._context() if self.tls else None
        try:
            if ctx is None:
                r, w = await asyncio.wait_for_ms(
                    asyncio.open_connection(self.host, self.port), self.connect_timeout_ms)
            else:
                r, w = await asyncio.wait_for_ms(
                    asyncio.open_connection(self.host, self.port, ssl=ctx,
                                            server_hostname=self.server_hostname),
                    self.connect_timeout_ms)
        except asyncio.TimeoutError:
            raise EsipaHttpsError("timeout", "connect %s:%d" % (self.host, self.port))
        except OSError as e:
            raise EsipaHttpsError("connect", "%s:%d %r" % (self.host, self.port, e))
        self._r, self._w = r, w
        self.connects += 1

    async def close(self):
        """Drop the kept-alive connection (end of a procedure, or after an error)."""
        w = self._w
        self._r = self._w = None
        self._have = self._pos = 0
        if w is not None:
            try:
                w.close()
                await w.wait_closed()
            except OSError:
                pass    # already reset by the peer: nothing left to release

    # --- one request ---------------------------------------------------------------------------

    async def _send(self, msg, fresh):
        head = http.request_head("%s:%d" % (self.host, self.port), len(msg), self.path)
        w = self._w
        # A non-blocking connect (and the TLS handshake) completes during the first write:
        # a refusal there is a connect failure, on a reused connection a closed one.
        what = "connect" if fresh else "write"
        try:
            w.write(head)
            w.write(msg)
        except (OSError, ValueError) as e:
            raise self._os_error(e, what)
        await self._io(w.drain(), what)
        self.bytes_tx += len(head) + len(msg)
        self.body_tx += len(msg)

    async def _io(self, aw, what):
        try:
            return await asyncio.wait_for_ms(aw, self.timeout_ms)
        except asyncio.TimeoutError:
            raise EsipaHttpsError("timeout", "%s after %d ms" % (what, self.timeout_ms))
        except (OSError, ValueError) as e:
            if isinstance(e, EsipaHttpsError):
                raise
            raise self._os_error(e, what)

    def _os_error(self, e, what):
        # mbedTLS reports a failed verification as ValueError, its other errors as negative
        # numbers; the socket's errors are errno values
        code = e.args[0] if e.args and isinstance(e.args[0], int) else 0
        if code < 0 or isinstance(e, ValueError):
            kind = "tls"
        elif what == "connect":
            kind = "connect"
        else:
            kind = "closed"
        return EsipaHttpsError(kind, "%s %s:%d: %r" % (what, self.host, self.port, e))

    async def _fill(self):
        """Read more bytes into the buffer; 0 means the peer closed."""
        r = self._r
        n = None
        while n is None:    # a TLS record may be incomplete: readinto answers None
            n = await self._io(r.readinto(self._buf), "read")
        self.bytes_rx += n
        self._pos = 0
        self._have = n
        return n

    async def _head(self):
        """Feed until the status and header fields are parsed; returns True if the body
        follows (and the response is a 200 carrying ASN.1)."""
        resp = self.resp
        while resp.status is None:
            if self._pos >= self._have:
                if await self._fill() == 0:
                    resp.eof()
            self._pos = resp.feed(self._buf, self._pos, self._have)[0]
        if resp.status == 204:
            return False
        if resp.status != 200:
            raise EsipaHttpsError("http", resp.reason or "status", resp.status)
        if resp.done:
            return False    # 200 with an empty body
        ct = resp.headers.get("content-type", "")
        if ct.split(";")[0].strip().lower() != http.CONTENT_TYPE:
            raise EsipaHttpsError("protocol", "content-type %r" % ct, resp.status)
        return True

    async def _read_body(self, n):
        """Up to n body bytes; b"" once the response is complete."""
        resp = self.resp
        n = max(n, 1)
        while True:
            if self._pos < self._have and not resp.done:
                end = min(self._have, self._pos + n)
                off, a, b = resp.feed(self._buf, self._pos, end)
                self._pos = off
                if b > a:
                    self.body_rx += b - a
                    return bytes(self._mv[a:b])
                continue
            if resp.done:
                await self._finish()
                return b""
            if await self._fill() == 0:
                resp.eof()

    async def _finish(self):
        if self._pos < self._have:
            raise EsipaHttpsError("protocol", "%d bytes after the response"
                                  % (self._have - self._pos), self.resp.status)
        if not self.resp.keep_alive():
            await self.close()

    async def _start(self, msg):
        """Send msg and parse the response head; reconnects once when a kept-alive
        connection turns out to be closed by the eIM before answering."""
        for attempt in (0, 1):
            reused = self._w is not None
            if not reused:
                await self._connect()
            self.resp.reset()
            self._have = self._pos = 0
            try:
                await self._send(msg, not reused)
                self.requests += 1
                return await self._head()
            except (EsipaHttpsError, http.HttpError) as e:
                got = self.resp.status is not None or self._have > 0
                await self.close()
                if isinstance(e, http.HttpError):
                    raise EsipaHttpsError("protocol", str(e), e.status)
                if not reused or got or e.kind not in ("closed", "protocol"):
                    raise
        raise EsipaHttpsError("closed", "eIM closed the connection twice")

    async def exchange(self, msg):
        """POST one EsipaMessageFromIpaToEim; returns the EsipaMessageFromEimToIpa bytes."""
        try:
            if not await self._start(msg):
                await self._finish()
                return b""
            out = bytearray()
            while True:
                piece = await self._read_body(len(self._buf))
                if not piece:
                    return bytes(out)
                if len(out) + len(piece) > self.max_body:
                    raise EsipaHttpsError("protocol", "answer over %d bytes" % self.max_body,
                                          self.resp.status)
                out.extend(piece)
        except http.HttpError as e:
            await self.close()
            raise EsipaHttpsError("protocol", str(e), e.status)
        except BaseException:
            await self.close()
            raise

    async def open_stream(self, msg):
        """POST msg; the answer's body is read piecewise from the returned object."""
        try:
            body = await self._start(msg)
        except BaseException:
            await self.close()
            raise
        if not body:
            await self._finish()
            return _EmptyStream()
        return _GuardedStream(self)


class _EmptyStream:
    async def read(self, n):
        return b""


class _GuardedStream(_BodyStream):
    async def read(self, n):
        try:
            return await self.link._read_body(n)
        except http.HttpError as e:
            await self.link.close()
            raise EsipaHttpsError("protocol", str(e), e.status)
        except BaseException:
            await self.link.close()
            raise
