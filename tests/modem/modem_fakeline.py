# An in-process byte stream standing in for a modem UART (on-device tests of the AT engine):
# the test scripts what the "modem" answers to each command line, byte for byte.
import asyncio


class FakeLine:
    def __init__(self, respond=None):
        self.respond = respond  # fn(command_line_str) -> bytes to send back (or None)
        self.rx = bytearray()   # bytes waiting for the engine to read
        self.written = []       # command lines and payloads the engine wrote
        self.ev = asyncio.Event()
        self.closed = False
        self._wbuf = b""
        self.payload_next = 0   # bytes of payload expected after a prompt

    def feed(self, data):
        self.rx += data
        self.ev.set()

    async def readinto(self, buf):
        while not self.rx:
            if self.closed:
                return 0
            self.ev.clear()
            await self.ev.wait()
        n = min(len(buf), len(self.rx))
        buf[:n] = self.rx[:n]
        self.rx = self.rx[n:]
        return n

    def write(self, data):
        data = bytes(data)
        if self.payload_next:
            self.written.append(data)
            self.payload_next = 0
            if self.respond:
                out = self.respond(data)
                if out:
                    self.feed(out)
            return
        self._wbuf += data
        while b"\r" in self._wbuf:
            i = self._wbuf.index(b"\r")
            line = self._wbuf[:i].decode()
            self._wbuf = self._wbuf[i + 1:]
            self.written.append(line)
            out = self.respond(line) if self.respond else None
            if out:
                self.feed(out)

    async def drain(self):
        pass

    def close(self):
        self.closed = True
        self.ev.set()
