"""In-process pieces for the /3443 tests under CPython: an ISD-R channel onto the eUICC
simulator's Card (what modem.uicc does over AT, here by direct calls), and a stand-in for the
LwM2M server API that H's EimLwm2mRelay drives, operating on the device's Registry the way the
client engine would apply the server's requests (Write/Read/Execute with their checks, and
observe as the registry's change notifications)."""

import asyncio

from lwm2m import model

ISDR_AID = bytes.fromhex("A0000005591010FFFFFFFF8900000100")


class CardChannel:
    """`async transmit(apdu) -> (data, sw)` on a logical channel of a Card, ISD-R selected."""

    def __init__(self, card):
        self.card = card
        self.number = None

    @classmethod
    async def open(cls, card):
        ch = cls(card)
        rsp = card.transmit(b"\x00\x70\x00\x00\x01")
        assert rsp[-2:] == b"\x90\x00", rsp.hex()
        ch.number = rsp[0]
        sel = bytes((ch.number, 0xA4, 0x04, 0x00, len(ISDR_AID))) + ISDR_AID + b"\x00"
        rsp = card.transmit(sel)
        assert rsp[-2:] == b"\x90\x00", rsp.hex()
        return ch

    async def transmit(self, apdu):
        a = bytearray(apdu)
        a[0] = (a[0] & 0xFC) | self.number
        rsp = self.card.transmit(bytes(a))
        return rsp[:-2], (rsp[-2] << 8) | rsp[-1]

    async def close(self):
        if self.number in self.card.open_channels():
            self.card.transmit(bytes((0x00, 0x70, 0x80, self.number, 0x00)))


class Result:
    def __init__(self, ok, code, value=None):
        self.ok = ok
        self.code = code
        self.value = value


def _path(text):
    return tuple(int(p) for p in text.strip("/").split("/"))


class _Observation:
    """Notifications of one path, as the relay consumes them (`async for`, `cancel()`)."""

    def __init__(self, path):
        self.path = path
        self.queue = asyncio.Queue()
        self.cancelled = False

    def __aiter__(self):
        return self._notifications()

    async def _notifications(self):
        while not self.cancelled:
            result = await self.queue.get()
            if result is None:
                return
            yield result

    async def cancel(self):
        self.cancelled = True
        self.queue.put_nowait(None)


class RegistryServer:
    """The subset of host_tools.lwm2m_server.LwM2MServer that EimLwm2mRelay uses, applied to
    one device registry (endpoint name ignored). Counts payload bytes each way."""

    def __init__(self, registry):
        self.reg = registry
        self.observations = []
        self.writes = []
        self.down_bytes = 0     # server -> device payloads
        self.up_bytes = 0       # device -> server payloads (reads, notifications)
        registry.listeners.append(self._changed)

    def _changed(self, path):
        for ob in self.observations:
            if not ob.cancelled and tuple(path) == ob.path:
                value = self.reg.get(ob.path)
                self.up_bytes += len(value or b"")
                ob.queue.put_nowait(Result(True, "2.05", value))

    async def write(self, ep, path, value, content_format=None):
        p = _path(path)
        self.writes.append((path, bytes(value)))
        self.down_bytes += len(value)
        try:
            self.reg.write(p, [(p, bytes(value))])
        except model.Error as e:
            return Result(False, "%d.%02d" % (e.code >> 5, e.code & 31))
        return Result(True, "2.04")

    async def read(self, ep, path):
        p = _path(path)
        try:
            recs = self.reg.read(p)
        except model.Error as e:
            return Result(False, "%d.%02d" % (e.code >> 5, e.code & 31))
        value = recs[0][1] if recs else None
        self.up_bytes += len(value) if isinstance(value, (bytes, str)) else 1
        return Result(True, "2.05", value)

    async def execute(self, ep, path):
        try:
            self.reg.execute(_path(path))
        except model.Error as e:
            return Result(False, "%d.%02d" % (e.code >> 5, e.code & 31))
        return Result(True, "2.04")

    def observe(self, ep, path):
        ob = _Observation(_path(path))
        self.observations.append(ob)
        return ob
