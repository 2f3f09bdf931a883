"""Several transports behind one Endpoint: the plain UDP socket for coap:// peers and one DTLS
client session per coaps:// peer (transport_dtls binds a session to one server, while an LwM2M
client talks to a bootstrap server and one or more LwM2M servers from the same endpoint).

    mux = TransportMux(UdpTransport())
    ep = Endpoint(mux, handler)
    remote = mux.resolve(host, 5683)                   # through the plain transport
    remote = mux.route(DtlsClientTransport(...), host, 5684)   # through that session

A remote is (member transport, the member's own remote): hashable and comparable as the
Endpoint needs. Each member has a reader task that hands its datagrams to the Endpoint through a
short inbox; a full inbox drops the datagram, as a congested link would (CoAP retransmits)."""

from micropython import const

import errno
from collections import deque

import asyncio

from coap.transport import Transport

_INBOX = const(4)  # datagrams waiting for the Endpoint; more are dropped
_PAUSE_MIN_MS = const(100)
_PAUSE_MAX_MS = const(30000)

_sleep_ms = getattr(asyncio, "sleep_ms", None) or (lambda ms: asyncio.sleep(ms / 1000))


class TransportMux(Transport):
    # The smallest of the members' limits, so a message fits whichever way it goes
    # (DtlsClientTransport's 1152 leaves room for the record header in a 1280-byte MTU).
    max_datagram = 1152

    def __init__(self, plain=None, log=None):
        self.plain = plain
        self.log = log
        self.dropped_rx = 0
        self._members = []  # [transport, reader task or None]
        self._inbox = deque((), _INBOX)
        self._ready = asyncio.Event()
        self._closed = False
        if plain is not None:
            self._members.append([plain, None])

    # ------------------------------------------------------------ routes
    def resolve(self, host, port):
        if self.plain is None:
            raise OSError(errno.EINVAL, "no plain transport for %s:%d" % (host, port))
        return (self.plain, self.plain.resolve(host, port))

    def route(self, transport, host, port):
        """Adds `transport` (if new) and returns the remote that reaches host:port through it."""
        for m in self._members:
            if m[0] is transport:
                break
        else:
            m = [transport, None]
            self._members.append(m)
            if self._reading():
                m[1] = asyncio.create_task(self._reader(transport))
        return (transport, transport.resolve(host, port))

    def remove(self, transport):
        """Closes a member transport (its session ends) and stops reading it."""
        for m in self._members:
            if m[0] is transport:
                self._members.remove(m)
                if m[1] is not None:
                    m[1].cancel()
                transport.close()
                return

    def members(self):
        return [m[0] for m in self._members]

    def describe(self, remote):
        return remote[0].describe(remote[1])

    # ------------------------------------------------------------ datagrams
    def sendto(self, data, remote):
        remote[0].sendto(data, remote[1])

    async def recv_datagram(self):
        """-> (data, remote): the next datagram from any member (the Endpoint calls this)."""
        self._start_readers()
        while True:
            if self._inbox:
                return self._inbox.popleft()
            if self._closed:
                raise OSError(errno.EBADF, "transport closed")
            self._ready.clear()
            await self._ready.wait()

    async def recvfrom(self, buf):
        data, remote = await self.recv_datagram()
        n = min(len(data), len(buf))
        memoryview(buf)[:n] = memoryview(data)[:n]
        return len(data), remote

    def close(self):
        self._closed = True
        for t, task in self._members:
            if task is not None:
                task.cancel()
            t.close()
        self._members = []
        self._ready.set()

    # ------------------------------------------------------------ readers
    def _reading(self):
        return any(m[1] is not None for m in self._members)

    def _start_readers(self):
        for m in self._members:
            if m[1] is None:
                m[1] = asyncio.create_task(self._reader(m[0]))

    async def _reader(self, t):
        take = getattr(t, "recv_datagram", None)
        buf = None if take is not None else bytearray(t.max_datagram + 1)
        pause = _PAUSE_MIN_MS
        while not self._closed:
            try:
                if take is not None:
                    data, remote = await take()
                else:
                    n, remote = await t.recvfrom(buf)
                    data = bytes(buf[:n])
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a session that cannot be set up, a broken socket
                if self._closed or not any(m[0] is t for m in self._members):
                    return
                if pause == _PAUSE_MIN_MS and self.log is not None:
                    self.log("coap: %s: recv failed: %r" % (t.__class__.__name__, e))
                # A member that stays broken is retried ever more slowly, not spun on.
                await _sleep_ms(pause)
                pause = min(pause * 2, _PAUSE_MAX_MS)
                continue
            pause = _PAUSE_MIN_MS
            if len(self._inbox) == _INBOX:
                self.dropped_rx += 1
                continue
            self._inbox.append((data, (t, remote)))
            self._ready.set()
