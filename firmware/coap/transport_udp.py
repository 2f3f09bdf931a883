"""UDP transport (IPv4 and IPv6) for the Endpoint: a non-blocking socket awaited through the
asyncio I/O queue, the way MicroPython's own asyncio streams wait for readability."""

import errno
import socket

import asyncio


_IS_MPY = hasattr(asyncio, "core")


def _wait_readable(sock):
    # A generator, not a coroutine: it yields the I/O-queue request to the scheduler.
    yield asyncio.core._io_queue.queue_read(sock)


class UdpTransport:
    max_datagram = 1280  # IPv6 minimum MTU; CoAP over UDP should fit it (RFC 7252 §4.6)

    def __init__(self, host="0.0.0.0", port=0):
        ai = socket.getaddrinfo(host, port)[0]
        self.family = ai[0]
        self.sock = socket.socket(self.family, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(ai[-1])
        self.sock.setblocking(False)
        self.dropped_tx = 0
        # MicroPython's recvfrom(n) allocates an n-byte buffer for every datagram. On a small,
        # fragmented heap that contiguous block may be missing even with RAM free. A reserve of
        # that size is held and let go just before each recvfrom: the collector frees it on
        # demand, the buffer lands there, and the reserve is taken again where it was.
        # (A datagram near max_datagram also needs a second block of its size for the bytes.)
        self._spare = None
        self._last_remote = None
        if _IS_MPY:
            self._reserve()

    def release_reserve(self):
        """Let go of the reserve (the Endpoint does, when a handler ran out of memory)."""
        self._spare = None

    def _reserve(self):
        if self._spare is None:
            try:
                self._spare = bytearray(self.max_datagram + 1)
            except MemoryError:
                pass  # tried again before the next datagram

    def resolve(self, host, port):
        for ai in socket.getaddrinfo(host, port):
            if ai[0] == self.family:
                return self._norm(ai[-1])
        raise OSError("no %s address for %s" % (self.family, host))

    @staticmethod
    def _norm(addr):
        # MicroPython hands out sockaddrs as bytearray (unhashable) from getaddrinfo and bytes
        # from recvfrom; bytes is the one comparable form.
        return bytes(addr) if isinstance(addr, (bytes, bytearray)) else addr

    def describe(self, remote):
        if isinstance(remote, bytes) and hasattr(socket, "sockaddr"):
            fam, host, port = socket.sockaddr(remote)[:3]
            return "%s:%d" % (socket.inet_ntop(fam, host), port)
        return "%s:%d" % (remote[0], remote[1])

    def local_port(self):
        if _IS_MPY:
            return None  # not exposed on MicroPython; callers bind explicit ports
        return self.sock.getsockname()[1]

    if _IS_MPY:
        async def recv_datagram(self):
            """-> (data, remote): one datagram, as bytes; longer than max_datagram means
            truncated. The Endpoint takes this instead of recvfrom(buf) when it exists."""
            n = self.max_datagram + 1
            while True:
                self._reserve()
                await _wait_readable(self.sock)
                self._spare = None
                try:
                    data, remote = self.sock.recvfrom(n)
                    # One object per peer (recvfrom makes a new one each time): the duplicate
                    # cache keys every recent message by it.
                    if remote == self._last_remote:
                        remote = self._last_remote
                    else:
                        self._last_remote = remote
                    return data, remote
                except OSError as e:
                    if e.args[0] != errno.EAGAIN:
                        raise
                finally:
                    self._reserve()  # where recvfrom's own buffer was, freed already

    async def recvfrom(self, buf):
        mv = memoryview(buf)
        while True:
            try:
                if _IS_MPY:
                    data, remote = self.sock.recvfrom(len(buf))
                    n = len(data)
                    mv[:n] = data
                    return n, remote
                n, remote = self.sock.recvfrom_into(buf)
                return n, remote
            except OSError as e:
                if e.args[0] != errno.EAGAIN:
                    raise
            if _IS_MPY:
                await _wait_readable(self.sock)
            else:
                await _cpython_wait_readable(self.sock)

    def sendto(self, data, remote):
        try:
            self.sock.sendto(data, remote)
        except OSError as e:
            # A full socket buffer loses the datagram like the network would; CON retransmits.
            if e.args[0] not in (errno.EAGAIN, errno.ENOBUFS if hasattr(errno, "ENOBUFS") else -1):
                raise
            self.dropped_tx += 1

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


async def _cpython_wait_readable(sock):
    loop = asyncio.get_event_loop()
    fut = loop.create_future()
    loop.add_reader(sock.fileno(), lambda: fut.done() or fut.set_result(None))
    try:
        await fut
    finally:
        loop.remove_reader(sock.fileno())
