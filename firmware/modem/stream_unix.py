# Streams to a modem on the Unix port: a TCP connection (modem simulator) or a pty / tty path.
# On boards the same role is played by machine.UART wrapped in asyncio.StreamReader.
import asyncio


async def open_tcp(host, port):
    """(reader, writer) for a TCP modem link."""
    return await asyncio.open_connection(host, port)


def open_tty(path):
    """(reader, writer) over a character device; the far end sets raw mode (the simulator
    does this on its pty), we only need one read() per readiness event."""
    f = open(path, "r+b")
    s = asyncio.StreamReader(f)
    return s, s


async def open_link(spec):
    """`tcp:HOST:PORT` or a device path."""
    if spec.startswith("tcp:"):
        _, host, port = spec.split(":")
        return await open_tcp(host, int(port))
    return open_tty(spec)
