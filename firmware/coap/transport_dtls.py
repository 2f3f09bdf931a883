"""CoAP over DTLS 1.2 in certificate mode (RFC 7252 §9.1.3.3), client role, on MicroPython's
`tls` module (mbedTLS): the device is the DTLS client of one server, and the server's own
requests come back over the same session.

    t = DtlsClientTransport("192.0.2.1", 5684, cadata=ca_der, cert=cli_der, key=key_der,
                            server_hostname="lwm2m.example")
    await t.connect()                        # optional: the first sendto() connects too
    ep = Endpoint(t, handler).start()
    resp = await ep.request(t.resolve("192.0.2.1", 5684), msg)

How `tls` does DTLS (MicroPython 1.25, extmod/modtls_mbedtls.c): wrap_socket() takes a
*connected* UDP socket and moves records through its stream read/write, so one session needs one
socket connected to the peer. mbedTLS drives handshake retransmissions from its own timer, which
only advances inside a read or write call; with do_handshake_on_connect=False every recv() is
one handshake step, so the loop below calls recv() whenever the socket turns readable and at
least every _HS_STEP_MS. recv() is one record (stream read1); read()/readinto() would glue
records together until the buffer is full. Any error other than EAGAIN leaves the SSL object
unusable (modtls keeps last_error), so the session is rebuilt from a new socket.

A lost session shows up as close_notify (recv() returns b""), a fatal alert or ICMP
unreachable (OSError), or silence: a server that restarted discards our records without a
word. Silence is taken as a lost session when nothing was received for `stale_ms` after the
first unanswered CON; the datagram being sent then is queued and goes out over the new
session once it is up. Sessions are rebuilt only when there is something to send. The default
12 s lets CoAP's first two retransmissions (at 2-3 s and 6-9 s) try the old session, so plain
loss rarely costs a handshake; the third (14-21 s) rebuilds it and the fourth uses the new one."""

from micropython import const

import errno
import socket
import tls
from collections import deque

import asyncio
from time import ticks_add, ticks_diff, ticks_ms

from coap.transport import Transport

_HS_STEP_MS = const(250)  # mbedTLS sees its retransmission timer only this often while idle
_PENDING_MAX = const(4)  # datagrams held while a session is being set up
_BACKOFF_FIRST_MS = const(1000)
_BACKOFF_MAX_MS = const(60000)
_RX_MAX = const(1500)
_ERR_X509_FATAL = const(-0x3000)  # MBEDTLS_ERR_X509_FATAL_ERROR

# The suite RFC 7925 §4.4 / LwM2M 1.1 make mandatory for certificate mode.
CIPHERS_RFC7925_CERT = ["TLS-ECDHE-ECDSA-WITH-AES-128-CCM-8"]

# Steps named in DtlsError.step.
STEP_SETUP = "setup"  # loading CA/certificate/key into the context
STEP_SOCKET = "socket"  # resolving and connecting the UDP socket
STEP_HANDSHAKE = "handshake"  # the DTLS exchange itself (alert, protocol error, unreachable)
STEP_VERIFY = "verify"  # the server certificate did not verify against the CA
STEP_TIMEOUT = "timeout"  # no complete handshake within handshake_timeout_ms, all attempts
STEP_RECORD = "record"  # reading or writing application data after the handshake


class DtlsError(OSError):
    """A DTLS failure: `step` (STEP_*), `code` (negative mbedTLS code or errno, 0 if none),
    `detail` (mbedTLS's message or the certificate verification result), `peer`."""

    def __init__(self, step, code, detail, peer=None):
        if code < 0:
            where = " (mbedTLS -0x%04X)" % -code
        else:
            where = " (errno %d)" % code if code else ""
        what = "handshake timed out" if step == STEP_TIMEOUT else step + " failed"
        super().__init__(code, "DTLS %s%s: %s%s" % (
            what, "" if peer is None else " with %s" % peer, detail, where))
        self.step = step
        self.code = code
        self.detail = detail
        self.peer = peer


def make_context(cadata=None, cert=None, key=None, ciphers=None, pinned=None):
    """A DTLS client SSLContext presenting `cert` with `key` (DER or PEM) when given, offering
    only `ciphers` (mbedTLS names, e.g. CIPHERS_RFC7925_CERT) when given, and trusting the
    server by one of (LwM2M 1.1 Security object, Certificate Usage /0/x/15):
        cadata only           the server's chain must verify against this CA (usage 0, "CA
                              constraint", with the CA as trust anchor)
        cadata and pinned     and the server's own certificate must be `pinned` (usage 1,
                              "service certificate constraint")
        pinned only           the server must present exactly `pinned` (usage 3,
                              "domain-issued certificate"); no chain is needed
    The context object is one large block (about 40 KB on a libc-backed mbedTLS with HAVEGE
    compiled in), so make it early, while the heap is whole, and hand it to every
    transport/re-connection instead of making new ones."""
    if not cadata and not pinned:
        # A client without a trust anchor could only run unauthenticated: refuse instead.
        raise DtlsError(STEP_SETUP, 0, "no CA certificate or pinned server certificate configured")
    ctx = tls.SSLContext(tls.PROTOCOL_DTLS_CLIENT)
    try:
        if ciphers:
            ctx.set_ciphers(ciphers)
        ctx.load_verify_locations(cadata or pinned)
        if cert is not None:
            ctx.load_cert_chain(cert, key)
    except (ValueError, OSError) as e:
        raise DtlsError(STEP_SETUP, _code_of(e), "%s (CA %s B, cert %s B, key %s B)" % (
            _text_of(e), cadata and len(cadata), cert and len(cert), key and len(key)))
    if pinned:
        ctx.verify_callback = _Pin(pinned).check
        if not cadata:
            # mbedTLS still walks the chain (and calls the check below for every element), but
            # its verdict no longer fails the handshake; the pin does.
            ctx.verify_mode = tls.CERT_OPTIONAL
    return ctx


class _Pin:
    """mbedTLS verify callback: the end-entity certificate (depth 0) must be the pinned DER."""

    def __init__(self, der):
        self.der = bytes(der)

    def check(self, cert, depth):
        if depth != 0 or bytes(cert) == self.der:
            return 0
        # Not X509_CERT_VERIFY_FAILED: under CERT_OPTIONAL mbedTLS would let that one pass.
        return _ERR_X509_FATAL


def _expects_answer(data):
    # Only a CON (type 0, RFC 7252 §3) must be answered; silence after NON or ACK proves nothing.
    return len(data) >= 4 and (data[0] >> 4) & 3 == 0


def _wait_readable(sock):
    yield asyncio.core._io_queue.queue_read(sock)


def _code_of(e):
    return e.args[0] if e.args and isinstance(e.args[0], int) else 0


def _text_of(e):
    if len(e.args) > 1:
        return str(e.args[1])
    if e.args and not isinstance(e.args[0], int):
        return str(e.args[0])
    code = _code_of(e)
    return errno.errorcode.get(code, "error %d" % code) if hasattr(errno, "errorcode") else str(code)


class DtlsClientTransport(Transport):
    max_datagram = 1152  # a 1024-byte block plus CoAP header and options; record fits 1280 MTU

    def __init__(self, host, port, cadata=None, cert=None, key=None, server_hostname=None,
                 handshake_timeout_ms=10000, handshake_attempts=3, stale_ms=12000, log=None,
                 context=None, ciphers=None, pinned=None):
        self.host = host
        self.port = port
        self.remote = (host, port)
        self.server_hostname = server_hostname or host
        self.handshake_timeout_ms = handshake_timeout_ms
        self.handshake_attempts = handshake_attempts
        self.stale_ms = stale_ms
        self.log = log
        self.last_error = None
        self.stats = {"handshakes": 0, "handshake_failures": 0, "sessions_lost": 0,
                      "tx": 0, "rx": 0, "tx_dropped": 0}
        self._ctx = context if context is not None else make_context(cadata, cert, key, ciphers, pinned)
        self._addr = None
        self._family = None
        self._sock = None
        self._ssl = None
        self._pending = deque((), _PENDING_MAX)
        self._early = None  # application data that arrived in the handshake's last flight
        self._kick = asyncio.Event()
        self._hs_done = None  # Event while a handshake runs; others wait on it
        self._retry_at = None  # after a failed handshake cycle, no new one before this
        self._backoff = _BACKOFF_FIRST_MS
        self._unanswered_since = None
        self._closed = False

    # ------------------------------------------------------------ Transport interface
    def resolve(self, host, port):
        if port != self.port or host not in (self.host, self.server_hostname):
            raise OSError(errno.EINVAL, "DTLS transport is bound to %s:%d, not %s:%d"
                          % (self.host, self.port, host, port))
        return self.remote

    def describe(self, remote):
        return "coaps://%s:%d" % (remote[0], remote[1])

    @property
    def connected(self):
        return self._ssl is not None

    def cipher(self):
        """(suite, version) of the current session, None without one."""
        return self._ssl.cipher() if self._ssl is not None else None

    async def connect(self):
        """Set up the session now (bounded attempts); raises DtlsError if it cannot."""
        await self._establish()

    def sendto(self, data, remote):
        if self._closed:
            raise OSError(errno.EBADF, "DTLS transport closed")
        n = len(data)
        if n > self.max_datagram:
            # mbedTLS would fail the whole session on an oversized record; drop just this one.
            self._drop("datagram of %d bytes over max_datagram %d" % (n, self.max_datagram))
            return
        now = ticks_ms()
        if self._ssl is not None and self.stale_ms and self._unanswered_since is not None \
                and ticks_diff(now, self._unanswered_since) >= self.stale_ms:
            self._lose("nothing received for %d ms after sending" % ticks_diff(now, self._unanswered_since))
        if self._ssl is None:
            if len(self._pending) == _PENDING_MAX:
                self.stats["tx_dropped"] += 1
            self._pending.append(bytes(data))
            self._kick.set()
            return
        if self._unanswered_since is None and _expects_answer(data):
            self._unanswered_since = now
        self._write(data)

    async def recvfrom(self, buf):
        mv = memoryview(buf)
        while True:
            if self._closed:
                raise OSError(errno.EBADF, "DTLS transport closed")
            if self._ssl is None:
                if not self._pending:
                    self._kick.clear()
                    await self._kick.wait()
                    continue
                await self._establish()
                continue
            data = self._early
            if data is not None:
                self._early = None
                self.stats["rx"] += 1
            else:
                data = self._read(len(buf))
            if data:
                n = len(data)
                mv[:n] = data
                return n, self.remote
            if data is None and self._ssl is not None:
                await _wait_readable(self._sock)

    def disconnect(self):
        """Drop the session (its mbedTLS state and socket) but keep the SSL context, which holds
        a large contiguous block that is better allocated once; the next send reconnects.
        No close_notify is sent: `tls` has no call for it."""
        self._close_session()

    def close(self):
        self._closed = True
        self._close_session()
        self._pending = deque((), _PENDING_MAX)
        self._kick.set()

    # ------------------------------------------------------------ records
    def _read(self, size):
        """One record's plaintext, None when nothing is there yet, b"" when the session ended."""
        try:
            data = self._ssl.recv(min(size, _RX_MAX))
        except (OSError, ValueError) as e:
            if _code_of(e) == errno.EAGAIN:
                return None
            self._lose("read: " + _text_of(e), DtlsError(STEP_RECORD, _code_of(e), _text_of(e), self._peer()))
            return b""
        if data is None:
            return None
        if not data:
            self._lose("peer closed the session (close_notify)")
            return b""
        self.stats["rx"] += 1
        self._unanswered_since = None
        return data

    def _write(self, data):
        try:
            n = self._ssl.send(data)
        except (OSError, ValueError) as e:
            code = _code_of(e)
            if code in (errno.EAGAIN, errno.ENOBUFS):
                self._drop("socket buffer full")
                return
            self._lose("write: " + _text_of(e), DtlsError(STEP_RECORD, code, _text_of(e), self._peer()))
            self._pending.append(bytes(data))
            self._kick.set()
            return
        if n is None:
            self._drop("socket buffer full")
        else:
            self.stats["tx"] += 1

    def _drop(self, why):
        # Lost like on the network; CoAP's retransmission covers CON messages.
        self.stats["tx_dropped"] += 1
        self._say("dtls: datagram dropped:", why)

    def _lose(self, why, err=None):
        if self._ssl is None:
            return
        self.stats["sessions_lost"] += 1
        if err is not None:
            self.last_error = err
        self._say("dtls: session with", self._peer(), "lost:", why)
        self._close_session()

    def _close_session(self):
        # Closing the socket wakes a reader parked on it in the I/O queue (POLLNVAL).
        ssl, sock = self._ssl, self._sock
        self._ssl = None
        self._sock = None
        self._unanswered_since = None
        for obj in (ssl, sock):
            if obj is not None:
                try:
                    obj.close()
                except OSError:
                    pass

    # ------------------------------------------------------------ handshake
    async def _establish(self):
        if self._ssl is not None:
            return
        if self._hs_done is not None:
            await self._hs_done.wait()
            if self._ssl is None:
                raise self.last_error or OSError(errno.ENOTCONN, "DTLS session not set up")
            return
        done = self._hs_done = asyncio.Event()
        try:
            await self._handshake_cycle()
        finally:
            self._hs_done = None
            done.set()
            self._kick.set()

    async def _handshake_cycle(self):
        if self._retry_at is not None:
            wait = ticks_diff(self._retry_at, ticks_ms())
            if wait > 0:
                await asyncio.sleep_ms(wait)
        err = None
        for attempt in range(self.handshake_attempts):
            if self._closed:
                raise OSError(errno.EBADF, "DTLS transport closed")
            try:
                await self._handshake_once()
            except DtlsError as e:
                err = e
                self._say("dtls: handshake attempt %d/%d: %s" % (attempt + 1, self.handshake_attempts, e))
                if e.step in (STEP_VERIFY, STEP_SETUP):
                    break  # the same certificates fail the same way again
                if e.step == STEP_HANDSHAKE and attempt + 1 < self.handshake_attempts:
                    await asyncio.sleep_ms(min(self._backoff, self.handshake_timeout_ms))
                continue
            self.stats["handshakes"] += 1
            self._retry_at = None
            self._backoff = _BACKOFF_FIRST_MS
            self._flush_pending()
            return
        self.stats["handshake_failures"] += 1
        self._pending = deque((), _PENDING_MAX)  # CoAP retransmits what still matters
        self._retry_at = ticks_add(ticks_ms(), self._backoff)
        self._backoff = min(self._backoff * 2, _BACKOFF_MAX_MS)
        self.last_error = err
        raise err

    async def _handshake_once(self):
        peer = self._peer()
        try:
            if self._addr is None:
                ai = socket.getaddrinfo(self.host, self.port, 0, socket.SOCK_DGRAM)[0]
                self._family, self._addr = ai[0], ai[-1]
            sock = socket.socket(self._family, socket.SOCK_DGRAM)
        except OSError as e:
            raise DtlsError(STEP_SOCKET, _code_of(e), _text_of(e), peer)
        ssl = None
        try:
            sock.connect(self._addr)
            sock.setblocking(False)
            ssl = self._ctx.wrap_socket(sock, server_hostname=self.server_hostname,
                                        do_handshake_on_connect=False)
        except (OSError, ValueError) as e:
            sock.close()
            raise DtlsError(STEP_SOCKET, _code_of(e), _text_of(e), peer)
        deadline = ticks_add(ticks_ms(), self.handshake_timeout_ms)
        try:
            while True:
                try:
                    data = ssl.recv(_RX_MAX)
                except ValueError as e:
                    # modtls raises ValueError with mbedTLS's verification report
                    raise DtlsError(STEP_VERIFY, -0x2700, str(e).strip().replace("\n", "; "), peer)
                except OSError as e:
                    code = _code_of(e)
                    if code == _ERR_X509_FATAL:
                        raise DtlsError(STEP_VERIFY, code, "server certificate is not the pinned "
                                        "one (%s)" % _text_of(e), peer)
                    if code != errno.EAGAIN:
                        raise DtlsError(STEP_HANDSHAKE, code, _text_of(e), peer)
                    data = None
                if data is not None and not data:
                    raise DtlsError(STEP_HANDSHAKE, 0, "peer closed the session during the handshake", peer)
                if data or ssl.getpeercert(True) is not None:
                    # The peer certificate is only kept once the handshake is over.
                    self._early = data or None
                    self._ssl, self._sock = ssl, sock
                    self._unanswered_since = None
                    self._say("dtls: session up with", peer, ssl.cipher())
                    ssl = None
                    return
                left = ticks_diff(deadline, ticks_ms())
                if left <= 0:
                    raise DtlsError(STEP_TIMEOUT, errno.ETIMEDOUT,
                                    "no complete handshake in %d ms" % self.handshake_timeout_ms, peer)
                try:
                    await asyncio.wait_for_ms(_wait_readable(sock), min(left, _HS_STEP_MS))
                except asyncio.TimeoutError:
                    pass
        finally:
            if ssl is not None:
                ssl.close()
                sock.close()

    def _flush_pending(self):
        while self._pending and self._ssl is not None:
            data = self._pending.popleft()
            if self._unanswered_since is None and _expects_answer(data):
                self._unanswered_since = ticks_ms()
            self._write(data)

    def _peer(self):
        return "%s:%d" % (self.host, self.port)

    def _say(self, *args):
        if self.log is not None:
            try:
                self.log(" ".join(str(a) for a in args))
            except Exception:
                pass
