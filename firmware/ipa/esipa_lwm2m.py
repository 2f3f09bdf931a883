"""ESipa over LwM2M object 3443 (the SGP.32 LwM2M binding): a bounded queue between the object
(objects.obj_esim_iot, written by the LwM2M server) and the IPAd runner. Same interface as
ipa.esipa_https.EsipaHttps, plus eIM-initiated messages:

    obj = obj_esim_iot.create(registry, eid)
    b = EsipaLwm2m(obj, send=lambda: client.send([(3443, 0, 3)]))   # send: optional
    answer = await b.exchange(msg)     # msg -> /3443/0/3, the eIM's answer <- /3443/0/2
    push = await b.next_push(ms, wake) # a message the eIM wrote on its own (TransferEimPackage)
    await b.reply(der)                 # the IPA's answer to a push -> /3443/0/3

Delivery of /0/3: observers are notified by the registry when the value changes; with `send`
the message also goes out as an LwM2M Send and the Send's success confirms delivery, else the
server's Execute of /0/4 does. Only one IPA message is in flight: the next waits for that
confirmation. State /0/0 is 0 (ready) while the IPA is idle or waiting for an answer, 1 while a
procedure works on the eUICC: an eIM write then would be taken for an answer it is not.
HandleNotification (BF3D) has no answer: it returns b"" once delivered. Failures (no delivery,
no answer in time, queue overflow) raise Lwm2mEsipaError, an OSError, so the procedures see
EimUnreachable and back off. open_stream() gets the whole answer first: a bound profile package
is not streamed over /3443 (nor would it fit the object's message budget)."""

import asyncio
from collections import deque

from micropython import const

_ANSWER_TIMEOUT_MS = const(30000)
_QUEUE = const(2)
_TAG_HANDLE_NOTIFICATION = b"\xbf\x3d"


class Lwm2mEsipaError(OSError):
    def __init__(self, kind, detail):
        super().__init__("ESipa LwM2M %s: %s" % (kind, detail))
        self.kind = kind


async def _wait_ms(aw, ms):
    w = getattr(asyncio, "wait_for_ms", None)
    if w is not None:
        return await w(aw, ms)
    return await asyncio.wait_for(aw, ms / 1000)


class _Answer:
    def __init__(self, data):
        self.data = data
        self.off = 0

    async def read(self, n):
        piece = self.data[self.off:self.off + n]
        self.off += len(piece)
        return piece


class EsipaLwm2m:
    def __init__(self, obj, send=None, answer_timeout_ms=_ANSWER_TIMEOUT_MS, queue_len=_QUEUE):
        self.obj = obj
        self.send = send
        self.timeout_ms = answer_timeout_ms
        self.queue_len = queue_len
        self._inbox = deque((), queue_len)
        self._pushes = deque((), queue_len)
        self._got = asyncio.Event()
        self._delivered = asyncio.Event()
        self._awaiting = False
        self._active = False
        self._in_flight = False
        obj.on_message = self._on_message
        obj.on_clear = self._on_clear
        # figures for the benchmark
        self.messages_tx = 0
        self.messages_rx = 0
        self.bytes_tx = 0
        self.bytes_rx = 0
        self.dropped = 0

    # --- object side (called synchronously from the LwM2M engine) --------------------------------

    def _on_message(self, der):
        if len(self._inbox) >= self.queue_len:
            self.dropped += 1    # validate() refuses writes while busy; this is a last guard
            return
        self._inbox.append(der)
        self.messages_rx += 1
        self.bytes_rx += len(der)
        self._got.set()
        self._update_state()

    def _on_clear(self):
        self._delivered.set()

    def _update_state(self):
        ready = len(self._inbox) < self.queue_len and (self._awaiting or not self._active)
        if self.obj.ready() != ready:
            self.obj.set_ready(ready)

    # --- runner side -----------------------------------------------------------------------------

    def set_eid(self, eid):
        self.obj.set_eid(eid)

    def begin(self):
        """A procedure starts working on the eUICC: eIM writes now would be misread."""
        self._active = True
        self._update_state()

    async def close(self):
        """End of a procedure (the HTTPS binding drops its connection here)."""
        self._active = False
        self._awaiting = False
        self._update_state()

    async def _deliver(self, msg):
        if self._in_flight:
            await self._confirmed()
        self._delivered.clear()
        self._in_flight = True
        self.obj.put(msg)
        self.messages_tx += 1
        self.bytes_tx += len(msg)
        if self.send is not None:
            try:
                ok = await self.send()
            except OSError as e:
                ok = e
            if ok is not True:
                self._in_flight = False   # nothing is out there to wait for
                raise Lwm2mEsipaError("send", "Send of /3443/0/3 failed (%r)" % (ok,))
            self._delivered.set()

    async def _confirmed(self):
        try:
            await _wait_ms(self._delivered.wait(), self.timeout_ms)
        except asyncio.TimeoutError:
            raise Lwm2mEsipaError("timeout", "/3443/0/3 not collected in %d ms" % self.timeout_ms)
        finally:
            self._in_flight = False

    async def exchange(self, msg):
        """Deliver one EsipaMessageFromIpaToEim; returns the eIM's answer (b"" for none)."""
        # What arrived before we asked is not our answer: an eIM push made while idle.
        while self._inbox:
            m = self._inbox.popleft()
            if len(self._pushes) < self.queue_len:
                self._pushes.append(m)
            else:
                self.dropped += 1
        self._awaiting = True
        self._update_state()
        try:
            await self._deliver(msg)
            if bytes(msg[:2]) == _TAG_HANDLE_NOTIFICATION:
                await self._confirmed()
                return b""
            return await self._take(self.timeout_ms)
        finally:
            self._awaiting = False
            self._update_state()

    async def open_stream(self, msg):
        return _Answer(await self.exchange(msg))

    async def reply(self, msg):
        """The IPA's answer to an eIM-initiated message; returns once it was collected."""
        await self._deliver(msg)
        await self._confirmed()

    async def _take(self, ms):
        if not self._inbox:
            self._got.clear()
            try:
                await _wait_ms(self._got.wait(), ms)
            except asyncio.TimeoutError:
                raise Lwm2mEsipaError("timeout", "no eIM message in /3443/0/2 within %d ms" % ms)
        msg = self._inbox.popleft()
        self._update_state()
        return msg

    async def next_push(self, ms, wake=None):
        """Wait up to ms for an eIM-initiated message (None if none came, or `wake` was set)."""
        if self._pushes:
            return self._pushes.popleft()
        if self._inbox:
            return await self._take(0)
        self._got.clear()
        waiters = [self._got.wait()]
        if wake is not None:
            waiters.append(wake.wait())
        try:
            await _wait_ms(_first(waiters), ms)
        except asyncio.TimeoutError:
            return None
        if self._inbox:
            return await self._take(0)
        return None


async def _first(aws):
    """Return when the first of the awaitables finishes; the others are cancelled."""
    if len(aws) == 1:
        return await aws[0]
    done = asyncio.Event()
    tasks = []

    async def one(aw):
        try:
            await aw
        finally:
            done.set()

    for aw in aws:
        tasks.append(asyncio.create_task(one(aw)))
    try:
        await done.wait()
    finally:
        for t in tasks:
            t.cancel()
