# CoAP transport (coap/transport.py interface) over the modem's UDP socket.  sendto() must not
# block, so datagrams wait in a small bounded queue that one sender task writes out over AT.
import asyncio
from collections import deque

from micropython import const

from coap.transport import Transport
from modem.at import AtError, AtTimeout

_TXQ = const(4)
_EIO = const(5)
_MAX_DATAGRAM = const(1152)  # RFC 7252 §4.6; every dialect here carries it in one command


class AtUdpTransport(Transport):
    max_datagram = _MAX_DATAGRAM

    def __init__(self, sock):
        self.sock = sock
        self._txq = deque((), _TXQ)
        self._tx_ev = asyncio.Event()
        self._task = asyncio.create_task(self._sender())
        self.dropped_tx = 0
        self.tx_errors = 0
        self.closed = False

    @classmethod
    async def open(cls, dialect, local_port=0):
        return cls(await dialect.udp_open(local_port))

    def resolve(self, host, port):
        return (host, port)  # the modem resolves names itself; an IP literal passes through

    def describe(self, remote):
        return "%s:%d" % (remote[0], remote[1])

    def sendto(self, data, remote):
        if self.closed:
            raise OSError(9)
        if len(self._txq) >= _TXQ:
            self.dropped_tx += 1  # overload: CoAP retransmits confirmable messages
            return
        self._txq.append((bytes(data), remote))
        self._tx_ev.set()

    async def _sender(self):
        while not self.closed:
            if not self._txq:
                self._tx_ev.clear()
                await self._tx_ev.wait()
                continue
            data, remote = self._txq.popleft()
            try:
                await self.sock.sendto(data, remote)
            except (AtError, AtTimeout, OSError):
                self.tx_errors += 1  # lost like a datagram on the air

    async def recvfrom(self, buf):
        try:
            data, remote = await self.sock.recvfrom()
        except (AtError, AtTimeout) as e:
            # the endpoint's receive loop expects OSError for a transport hiccup
            raise OSError(_EIO, str(e))
        n = min(len(data), len(buf))
        buf[:n] = data[:n]
        return n, remote

    def close(self):
        if self.closed:
            return
        self.closed = True
        self._tx_ev.set()
        self._task.cancel()
        asyncio.create_task(self.sock.close())
