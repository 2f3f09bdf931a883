"""ESipa over LwM2M object 3443 "eSIM IoT": moves messages between EimCore and devices.

Object 3443 (OMA registry): /3443/0/0 State (0 = ready for an eIM message), /0/1 EID,
/0/2 eIM message (W, EsipaMessageFromEimToIpa DER), /0/3 IPA message (R, EsipaMessageFromIpaToEim
DER), /0/4 Clear IPA message (E: confirms delivery when neither Send nor confirmable
notifications carried it).

`server` is duck-typed on host_tools.lwm2m_server.LwM2MServer:
    await server.write(ep, path, value, content_format=...) -> result with .ok / .code
    await server.read(ep, path) -> result with .ok / .value
    server.observe(ep, path) -> async iterator of results (.ok, .value); .cancel()
    await server.execute(ep, path) -> result            (optional)
    server.add_listener(callback(kind, ep, detail))     (optional; kind "send" carries
                                                         {path: value} of an LwM2M Send)

Delivery of one IPA message: a Send (always processed), or an observation/read of /0/3
(processed unless it repeats the message last processed and /0/3 was not cleared since; then /0/4
is executed to clear it). The eIM's answer, if any, is written to /0/2. In inject mode the relay
also writes queued packages (TransferEimPackageRequest) on `push()`, or by itself as soon as a
package is queued when built with auto_push=True."""

import asyncio
import logging

log = logging.getLogger("eim.lwm2m")

PATH_STATE = "/3443/0/0"
PATH_EID = "/3443/0/1"
PATH_EIM_MESSAGE = "/3443/0/2"
PATH_IPA_MESSAGE = "/3443/0/3"
PATH_CLEAR = "/3443/0/4"

_STATE_READY = 0
OPAQUE = 42  # CoAP content format application/octet-stream


class _Endpoint:
    def __init__(self, eid):
        self.eid = eid
        self.lock = asyncio.Lock()
        self.last = None  # bytes of the last IPA message processed, until /0/3 is cleared
        self.observation = None
        self.task = None


class EimLwm2mRelay:
    def __init__(self, core, server, write_format=OPAQUE, auto_push=False):
        self.core = core
        self.server = server
        self.write_format = write_format
        self.endpoints = {}
        self.errors = []  # (endpoint, text) of failed exchanges, for tests and logs
        self._tasks = set()
        self._loop = asyncio.get_running_loop()  # build the relay inside the server's loop
        if hasattr(server, "add_listener"):
            server.add_listener(self._on_event)
        if auto_push:
            core.add_queue_listener(self._on_queued)

    def _on_queued(self, eid, package_id):
        """Inject mode: a package queued (from any thread, e.g. the REST handler) is pushed to
        the endpoint serving that EID."""
        for endpoint, ep in self.endpoints.items():
            if ep.eid == eid:
                self._loop.call_soon_threadsafe(self._spawn, self.push(endpoint))

    async def attach(self, endpoint, eid=None, observe=True):
        """Start serving `endpoint`: learn its EID (/3443/0/1) and observe /3443/0/3."""
        if eid is None:
            res = await self.server.read(endpoint, PATH_EID)
            if not res.ok or not res.value:
                raise RuntimeError("%s: read %s failed (%s)" % (endpoint, PATH_EID, res.code))
            eid = res.value.decode() if isinstance(res.value, bytes) else str(res.value)
        ep = _Endpoint(eid)
        self.endpoints[endpoint] = ep
        if observe:
            ep.observation = self.server.observe(endpoint, PATH_IPA_MESSAGE)
            ep.task = self._spawn(self._follow(endpoint, ep))
        return eid

    async def close(self):
        for ep in self.endpoints.values():
            if ep.observation is not None:
                try:
                    await ep.observation.cancel()
                except Exception as exc:  # the device may be gone already
                    log.info("cancel observation: %s", exc)
            if ep.task is not None:
                ep.task.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def _spawn(self, coro):
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ------------------------------------------------------------------ inbound

    def _on_event(self, kind, endpoint, detail):
        if kind != "send" or endpoint not in self.endpoints or not isinstance(detail, dict):
            return
        value = detail.get(PATH_IPA_MESSAGE)
        if value:
            self._spawn(self.deliver(endpoint, bytes(value), "send"))

    async def _follow(self, endpoint, ep):
        try:
            async for res in ep.observation:
                if not res.ok:
                    continue
                if not res.value:
                    ep.last = None  # the device cleared /0/3
                    continue
                await self.deliver(endpoint, bytes(res.value), "observe")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an ended observation must not kill the relay
            self._error(endpoint, "observation ended: %r" % exc)

    async def poll(self, endpoint):
        """Read /3443/0/3 once (for devices without Send or observation)."""
        res = await self.server.read(endpoint, PATH_IPA_MESSAGE)
        if res.ok and res.value:
            return await self.deliver(endpoint, bytes(res.value), "read")
        return None

    async def deliver(self, endpoint, der, channel):
        """Hand one IPA message to the core; write its answer to /3443/0/2. Returns the answer."""
        ep = self.endpoints[endpoint]
        async with ep.lock:
            if channel != "send" and der == ep.last:
                return None
            ep.last = der
            try:
                answer = self.core.handle_ipa_message(ep.eid, der)
            except ValueError as exc:  # MalformedMessage: nothing to answer with
                self._error(endpoint, "IPA message refused: %s" % exc)
                answer = None
            execute = getattr(self.server, "execute", None)
            if channel != "send" and execute is not None:
                res = await execute(endpoint, PATH_CLEAR)
                if res.ok:
                    ep.last = None
            if answer is not None:
                await self._write(endpoint, answer)
            return answer

    # ------------------------------------------------------------------ outbound

    async def push(self, endpoint):
        """Inject mode: write the next pending eIM message (acknowledgements, then queued
        packages) if the device says it is ready. Returns the DER written, or None."""
        ep = self.endpoints[endpoint]
        async with ep.lock:
            res = await self.server.read(endpoint, PATH_STATE)
            if not res.ok or res.value not in (_STATE_READY, None):
                return None
            message = self.core.next_push_message(ep.eid)
            if message is not None:
                await self._write(endpoint, message)
            return message

    async def _write(self, endpoint, der):
        res = await self.server.write(endpoint, PATH_EIM_MESSAGE, der,
                                      content_format=self.write_format)
        if not res.ok:
            self._error(endpoint, "write %s answered %s" % (PATH_EIM_MESSAGE, res.code))
        return res

    def _error(self, endpoint, text):
        log.warning("%s: %s", endpoint, text)
        self.errors.append((endpoint, text))
