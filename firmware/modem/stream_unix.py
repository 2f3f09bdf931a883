# Streams to a modem on the Unix port: a TCP connection (modem simulator) or a pty / tty path.
# On boards the same role is played by machine.UART wrapped in asyncio.StreamReader.
import select

import asyncio


async def open_tcp(host, port):
    """(reader, writer) for a TCP modem link."""
    return await asyncio.open_connection(host, port)


def _wait_readable(f):
    yield asyncio.core._io_queue.queue_read(f)


class TtyStream:
    """A character device as an asyncio stream.  The Unix port cannot make the fd non-blocking
    (no fcntl) and FileIO.readinto blocks until the buffer is full, so bytes are taken one at
    a time while poll() says more are there; the far end sets raw mode."""

    def __init__(self, path):
        self.f = open(path, "r+b")
        self._poll = select.poll()
        self._poll.register(self.f, select.POLLIN)
        self._one = bytearray(1)

    async def readinto(self, buf):
        await _wait_readable(self.f)
        n = 0
        while n < len(buf):
            if n and not self._poll.poll(0):
                break
            if not self.f.readinto(self._one):
                break
            buf[n] = self._one[0]
            n += 1
        return n

    def write(self, data):
        self.f.write(data)

    async def drain(self):
        pass

    def close(self):
        self.f.close()


def open_tty(path):
    s = TtyStream(path)
    return s, s


async def open_link(spec):
    """`tcp:HOST:PORT` or a device path."""
    if spec.startswith("tcp:"):
        _, host, port = spec.split(":")
        return await open_tcp(host, int(port))
    return open_tty(spec)
