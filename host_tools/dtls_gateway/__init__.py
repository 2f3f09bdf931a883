"""A DTLS 1.2 terminating gateway in front of a plain CoAP/UDP server (certificate mode, LwM2M 1.1
Security mode 2 on the RFC 7925 profile): devices talk coaps:// to the gateway, the host LwM2M or
bootstrap server behind it keeps speaking coap://.

    with Gateway(cert="server.pem", key="server.key", ca="ca.pem",
                 backend=("127.0.0.1", 5683)) as gw:       # listens on 127.0.0.1, a free port
        print(gw.port)
        gw.wait(lambda g: any(s.state == "up" for s in g.sessions()), timeout=5)

One DTLS session per client (ip, port); each session has its own connected UDP socket towards
the backend, so the backend sees one source port per device and its own requests to that device
(Read, Write, Execute) come back over the device's session. One decrypted record -> one
datagram to the backend; one datagram from the backend -> one record to the device.

Sessions end on close_notify, a fatal alert or other record error, a handshake not finished in
`handshake_timeout`, nothing heard from the device for `idle_timeout` (the gateway then sends
close_notify), or eviction of the least recently heard session when `max_sessions` are up and
a new one completes its cookie exchange. HelloVerifyRequest cookies are stateless (HMAC of the
client address, see ossl.ServerContext): nothing is kept for a client until it returns a valid
cookie. A ClientHello with a new client random from the address of a live session starts a
fresh session once its cookie checks out, and the old one is dropped (RFC 6347 §4.2.8).

Everything runs on one thread (selectors); the public methods may be called from any thread.
See docs/dtls-gateway.md."""

import collections
import logging
import selectors
import socket
import threading
import time

from host_tools.dtls_gateway import records
from host_tools.dtls_gateway.ossl import Conn, DtlsError, ServerContext, openssl_version

__all__ = ["Gateway", "SessionInfo", "DtlsError", "DEFAULT_CIPHERS", "parse_hostport"]

# RFC 7925 §4.4 mandatory suite first (server preference), then the common AEAD one.
DEFAULT_CIPHERS = "ECDHE-ECDSA-AES128-CCM8:ECDHE-ECDSA-AES128-GCM-SHA256"
DEFAULT_MTU = 1232  # IPv6 minimum MTU 1280 less 40 (IPv6) and 8 (UDP)
_MAX_RECORD_PLAIN = 16384  # RFC 6347 §4.1 / TLS 1.2: larger backend datagrams are dropped
_RECV_MAX = 65535
_LISTENER_BURST = 64  # datagrams read from one socket before looking at the others
_BACKEND_BURST = 16
_TICK_S = 1.0  # longest select() wait

SessionInfo = collections.namedtuple("SessionInfo", [
    "client",        # (host, port) of the device
    "state",         # "handshake", "up", "closed"
    "cn",            # subject CN of the verified client certificate
    "subject",       # the whole subject, OpenSSL one-line form
    "cipher",        # OpenSSL suite name, e.g. ECDHE-ECDSA-AES128-CCM8
    "cipher_iana",   # e.g. TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8
    "backend_port",  # local port of the socket towards the backend (what the backend sees)
    "started",       # time.monotonic() of the cookie-verified ClientHello
    "up_at",         # ... of the finished handshake
    "last_heard",    # ... of the last datagram from the device
    "to_backend",    # records forwarded device -> backend
    "to_device",     # datagrams forwarded backend -> device
    "reason",        # why it ended (None while alive)
])


def parse_hostport(text, default_host="127.0.0.1"):
    """"host:port", "[v6]:port" or "port" -> (host, port)."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest.lstrip(":"))
    if text.count(":") == 1:
        host, port = text.split(":")
        return host or default_host, int(port)
    if text.isdigit():
        return default_host, int(text)
    raise ValueError("not host:port: %r" % text)


def _fmt(addr):
    return ("[%s]:%d" if ":" in addr[0] else "%s:%d") % (addr[0], addr[1])


def _resolve(hostport):
    info = socket.getaddrinfo(hostport[0], hostport[1], 0, socket.SOCK_DGRAM)[0]
    return info[0], info[4]


class _Session:
    def __init__(self, client, sockaddr, conn, hello_random, now, handshake_timeout):
        self.client = client
        self.sockaddr = sockaddr
        self.conn = conn
        self.hello_random = hello_random
        self.state = "handshake"
        self.started = now
        self.deadline = now + handshake_timeout
        self.up_at = None
        self.last_heard = now
        self.backend = None
        self.backend_port = None
        self.cn = self.subject = self.cipher = self.cipher_iana = None
        self.to_backend = self.to_device = 0
        self.reason = None

    def info(self):
        return SessionInfo(self.client, self.state, self.cn, self.subject, self.cipher,
                           self.cipher_iana, self.backend_port, self.started, self.up_at,
                           self.last_heard, self.to_backend, self.to_device, self.reason)


class Gateway:
    """The gateway. `cert`/`key`: its own certificate (chain) and key, PEM; `ca`: PEM bundle the
    client certificates must chain to; `backend`: (host, port) of the plain CoAP server;
    `listen`: (host, port), port 0 = a free one (read `.port` after start()).

    `idle_timeout`, `handshake_timeout` in seconds; `max_sessions` caps live sessions; `mtu` is
    the largest datagram the gateway sends to a device (handshake flights are fragmented to
    fit); `log(text)` gets one line per session event (default: the `dtls_gateway` logger),
    `verbose=True` adds cookie exchanges and dropped datagrams; `history` ended sessions are
    kept for `ended()`."""

    def __init__(self, cert, key, ca, backend, listen=("127.0.0.1", 0), ciphers=DEFAULT_CIPHERS,
                 idle_timeout=300.0, handshake_timeout=10.0, max_sessions=64, mtu=DEFAULT_MTU,
                 log=None, verbose=False, history=256):
        self.cert, self.key, self.ca, self.ciphers = cert, key, ca, ciphers
        self.backend = tuple(backend)
        self.listen = tuple(listen)
        self.idle_timeout = float(idle_timeout)
        self.handshake_timeout = float(handshake_timeout)
        self.max_sessions = int(max_sessions)
        self.mtu = int(mtu)
        self.verbose = verbose
        self._log = log or logging.getLogger("dtls_gateway").info
        self.address = None
        self._cond = threading.Condition(threading.RLock())
        self._sessions = {}
        self._ended = collections.deque((), history)
        self._peers = {}  # SSL pointer -> client (host, port), for the cookie callbacks
        self._stats = collections.Counter()
        self._ctx = self._sock = self._sel = self._listener = self._thread = None
        self._wake_r = self._wake_w = None
        self._stopping = False

    # -- public, any thread ----------------------------------------------------------------

    @property
    def port(self):
        return self.address[1] if self.address else None

    def start(self):
        """Load the credentials, bind, start the thread; returns self. DtlsError/OSError on a
        bad certificate, key, CA or address."""
        if self._thread is not None:
            raise RuntimeError("gateway already started")
        self._backend_family, self._backend_addr = _resolve(self.backend)
        family, sockaddr = _resolve(self.listen)
        self._ctx = ServerContext(self.cert, self.key, self.ca, self.ciphers, self._peers.get)
        try:
            self._sock = socket.socket(family, socket.SOCK_DGRAM)
            self._sock.bind(sockaddr)
            self._sock.setblocking(False)
            self.address = self._sock.getsockname()[:2]
            self._listener = self._new_conn()
            self._wake_r, self._wake_w = socket.socketpair()
            self._wake_r.setblocking(False)
            self._sel = selectors.DefaultSelector()
            self._sel.register(self._sock, selectors.EVENT_READ, "listener")
            self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        except Exception:
            self._release()
            raise
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="dtls-gateway", daemon=True)
        self._thread.start()
        self._log("listening on %s (DTLS 1.2, certificate mode, %s), backend %s"
                  % (_fmt(self.address), openssl_version(), _fmt(self.backend)))
        return self

    def stop(self, timeout=5.0):
        """Send close_notify to every live session, close all sockets, end the thread.
        Idempotent."""
        thread = self._thread
        if thread is None:
            return
        self._stopping = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        thread.join(timeout)
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    async def __aenter__(self):
        return self.start()  # binding and loading PEM files do not block for long

    async def __aexit__(self, *exc):
        self.stop()

    def sessions(self):
        """SessionInfo of every live session (handshake or up)."""
        with self._cond:
            return [s.info() for s in self._sessions.values()]

    def ended(self):
        """SessionInfo of ended sessions, oldest first (the last `history`), failed handshakes
        included (state "closed", reason "handshake failed: ...")."""
        with self._cond:
            return list(self._ended)

    def stats(self):
        """Counters: datagrams_in, hello_verify, handshakes, handshake_failures, closed,
        evicted, to_backend, to_device, dropped_unknown, dropped_backend."""
        with self._cond:
            return dict(self._stats)

    def wait(self, predicate, timeout=10.0):
        """Block until predicate(gateway) is true (re-checked after each round of events);
        returns its value, raises TimeoutError."""
        with self._cond:
            got = self._cond.wait_for(lambda: predicate(self), timeout)
        if not got:
            raise TimeoutError("dtls gateway: condition not met within %.1f s" % timeout)
        return got

    # -- the thread ------------------------------------------------------------------------

    def _new_conn(self):
        return Conn(self._ctx, self.mtu)

    def _run(self):
        try:
            while not self._stopping:
                events = self._sel.select(self._wait_s())
                with self._cond:
                    for key, _ in events:
                        if key.data == "listener":
                            self._on_listener()
                        elif key.data == "wake":
                            self._drain_wake()
                        else:
                            self._on_backend(key.data)
                    self._on_timers(time.monotonic())
                    self._cond.notify_all()  # wait() predicates may look at stats() too
        except Exception as exc:  # a bug: say so, then still clean up
            self._log("stopped by an internal error: %r" % (exc,))
            raise
        finally:
            with self._cond:
                for sess in list(self._sessions.values()):
                    self._end(sess, "gateway stopped", notify=True)
                self._release()
                self._cond.notify_all()

    def _release(self):
        for s in (self._sock, self._wake_r, self._wake_w):
            if s is not None:
                s.close()
        if self._sel is not None:
            self._sel.close()
        if self._listener is not None:
            self._listener.free()
        if self._ctx is not None:
            self._ctx.free()
        self._sock = self._wake_r = self._wake_w = self._sel = self._listener = self._ctx = None

    def _drain_wake(self):
        try:
            self._wake_r.recv(64)
        except OSError:
            pass

    def _wait_s(self):
        now = time.monotonic()
        first = now + _TICK_S
        with self._cond:
            for sess in self._sessions.values():
                if sess.state == "handshake":
                    first = min(first, sess.deadline)
                    t = sess.conn.timeout()
                    if t is not None:
                        first = min(first, now + t)
                else:
                    first = min(first, sess.last_heard + self.idle_timeout)
        return max(0.0, first - now)

    def _on_listener(self):
        for _ in range(_LISTENER_BURST):
            try:
                data, sockaddr = self._sock.recvfrom(_RECV_MAX)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            self._stats["datagrams_in"] += 1
            self._on_datagram(data, sockaddr)

    def _on_datagram(self, data, sockaddr):
        client = sockaddr[:2]
        sess = self._sessions.get(client)
        hello = records.client_hello_random(data)
        if sess is not None and (hello is None or hello == sess.hello_random):
            sess.last_heard = time.monotonic()
            sess.conn.feed(data)
            self._step(sess)
        elif hello is not None:
            self._listen(client, sockaddr, data, hello)
        else:
            self._stats["dropped_unknown"] += 1
            if self.verbose:
                self._log("dropped %d bytes from %s: no session" % (len(data), _fmt(client)))

    def _listen(self, client, sockaddr, data, hello):
        conn = self._listener
        self._peers[conn.ssl] = client
        conn.feed(data)
        try:
            verified = conn.listen()
        except DtlsError as exc:
            if self.verbose:
                self._log("ClientHello from %s dropped: %s" % (_fmt(client), exc.reason))
            self._peers.pop(conn.ssl, None)
            conn.free()
            self._listener = self._new_conn()
            return
        self._send(sockaddr, conn.output())
        if not verified:
            self._peers.pop(conn.ssl, None)
            self._stats["hello_verify"] += 1
            if self.verbose:
                self._log("HelloVerifyRequest to %s" % _fmt(client))
            return
        self._listener = self._new_conn()
        old = self._sessions.get(client)
        if old is not None:
            self._end(old, "replaced: new handshake from the same address")
        if len(self._sessions) >= self.max_sessions:
            victim = min(self._sessions.values(), key=lambda s: s.last_heard)
            self._stats["evicted"] += 1
            self._end(victim, "evicted: %d sessions, this one heard from least recently"
                      % self.max_sessions, notify=True)
        now = time.monotonic()
        sess = _Session(client, sockaddr, conn, hello, now, self.handshake_timeout)
        self._sessions[client] = sess
        self._cond.notify_all()
        self._step(sess)

    def _step(self, sess):
        try:
            if sess.state == "handshake":
                if not sess.conn.handshake():
                    return
                self._up(sess)
            while sess.state == "up":
                data = sess.conn.read()
                if data is None:
                    break
                self._to_backend(sess, data)
        except DtlsError as exc:
            self._flush(sess)  # a fatal alert, if OpenSSL made one
            if sess.state == "handshake":
                self._stats["handshake_failures"] += 1
                self._end(sess, "handshake failed: %s" % exc.reason)
            elif exc.step == "closed":
                self._end(sess, "close_notify")
            else:
                self._end(sess, "%s error: %s" % (exc.step, exc.reason))
            return
        finally:
            if sess.conn is not None:
                self._flush(sess)

    def _up(self, sess):
        conn = sess.conn
        sess.cn, sess.subject = conn.peer()
        sess.cipher, sess.cipher_iana = conn.cipher()
        backend = socket.socket(self._backend_family, socket.SOCK_DGRAM)
        try:
            backend.setblocking(False)
            backend.connect(self._backend_addr)
        except OSError as exc:
            backend.close()
            raise DtlsError("backend", "cannot reach %s: %s" % (_fmt(self.backend), exc))
        self._sel.register(backend, selectors.EVENT_READ, sess)
        sess.backend = backend
        sess.backend_port = backend.getsockname()[1]
        sess.state = "up"
        sess.up_at = time.monotonic()
        self._stats["handshakes"] += 1
        self._log("session %s up: CN=%s cipher %s, backend source port %d (handshake %.0f ms)"
                  % (_fmt(sess.client), sess.cn, sess.cipher, sess.backend_port,
                     (sess.up_at - sess.started) * 1000))
        self._cond.notify_all()

    def _to_backend(self, sess, data):
        try:
            sess.backend.send(data)
        except OSError as exc:  # e.g. ECONNREFUSED after the backend's port went away
            self._stats["dropped_backend"] += 1
            if self.verbose:
                self._log("session %s: backend send failed: %s" % (_fmt(sess.client), exc))
            return
        sess.to_backend += 1
        self._stats["to_backend"] += 1

    def _on_backend(self, sess):
        for _ in range(_BACKEND_BURST):
            if sess.state != "up":
                return
            try:
                data = sess.backend.recv(_RECV_MAX)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # an ICMP error from an earlier send; the socket stays usable
                continue
            if len(data) > _MAX_RECORD_PLAIN:
                self._stats["dropped_backend"] += 1
                self._log("session %s: backend datagram of %d bytes dropped (record limit %d)"
                          % (_fmt(sess.client), len(data), _MAX_RECORD_PLAIN))
                continue
            try:
                sess.conn.write(data)
            except DtlsError as exc:
                self._flush(sess)
                self._end(sess, "%s error: %s" % (exc.step, exc.reason))
                return
            self._flush(sess)
            sess.to_device += 1
            self._stats["to_device"] += 1

    def _on_timers(self, now):
        for sess in list(self._sessions.values()):
            if sess.state == "handshake":
                if now >= sess.deadline:
                    self._stats["handshake_failures"] += 1
                    self._end(sess, "handshake failed: not finished within %g s"
                              % self.handshake_timeout)
                    continue
                t = sess.conn.timeout()
                if t is not None and t <= 0:
                    try:
                        sess.conn.handle_timeout()
                    except DtlsError as exc:
                        self._stats["handshake_failures"] += 1
                        self._end(sess, "handshake failed: %s" % exc.reason)
                        continue
                    self._flush(sess)
            elif now - sess.last_heard >= self.idle_timeout:
                self._end(sess, "idle for %g s" % self.idle_timeout, notify=True)

    def _flush(self, sess):
        if sess.conn is not None:
            self._send(sess.sockaddr, sess.conn.output())

    def _send(self, sockaddr, out):
        for dgram in records.datagrams(out, self.mtu):
            try:
                self._sock.sendto(dgram, sockaddr)
            except OSError:
                pass

    def _end(self, sess, reason, notify=False):
        """Forget the session; with notify, send close_notify first (only if it was up)."""
        if sess.state == "up" and notify:
            sess.conn.close()
            self._flush(sess)
        if sess.backend is not None:
            self._sel.unregister(sess.backend)
            sess.backend.close()
            sess.backend = None
        if self._sessions.get(sess.client) is sess:
            del self._sessions[sess.client]
        self._peers.pop(sess.conn.ssl, None)
        sess.conn.free()
        sess.conn = None
        was_up = sess.state == "up"
        sess.state = "closed"
        sess.reason = reason
        self._ended.append(sess.info())
        if was_up:
            self._stats["closed"] += 1
            self._log("session %s closed: %s (CN=%s, %d to backend, %d to device, %.1f s)"
                      % (_fmt(sess.client), reason, sess.cn, sess.to_backend, sess.to_device,
                         time.monotonic() - sess.up_at))
        else:
            self._log("session %s: %s" % (_fmt(sess.client), reason))
        self._cond.notify_all()
