# An in-memory datagram link for on-device endpoint tests: two Transport ends, each datagram
# optionally dropped by a filter, so loss can be injected exactly.
import asyncio
from collections import deque

from coap.transport import Transport


class MemEnd(Transport):
    max_datagram = 1280

    def __init__(self, name):
        self.name = name
        self.peer = None
        self.q = deque((), 64)
        self.ev = asyncio.Event()
        self.drop = None  # callable(data) -> True to lose the datagram on the way out
        self.sent = []

    def resolve(self, host, port):
        return self.peer.name

    async def recvfrom(self, buf):
        while not self.q:
            self.ev.clear()
            await self.ev.wait()
        data, src = self.q.popleft()
        buf[:len(data)] = data
        return len(data), src

    def sendto(self, data, remote):
        data = bytes(data)
        self.sent.append(data)
        if len(self.sent) > 8:
            del self.sent[4]  # keep the first few and the latest: a long log fragments the heap
        if self.drop is not None and self.drop(data):
            return
        self.peer.q.append((data, self.name))
        self.peer.ev.set()


def pair():
    a, b = MemEnd("A"), MemEnd("B")
    a.peer, b.peer = b, a
    return a, b
