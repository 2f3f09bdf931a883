"""LwM2M 1.1 server (Core/Transport 1.1): Registration interface, Device Management & Service
Enablement interface toward registered clients, Information Reporting (Observe, Send), queue
mode. The registration logic is in registry.py; this module does the CoAP I/O with aiocoap."""

import asyncio
import collections
import time

from aiocoap.numbers.codes import Code

from . import codecs, numbers, paths, registry
from .exchange import (OperationError, Result, Site, bind, complete_block2, exchange, local_port,
                       log, make_request, request_with_token, response)
from .store import Store

_OBSERVE_QUEUE = 256
# requests held for one sleeping queue-mode client; more is a caller bug, not a backlog to keep
_MAX_HELD = 64


class _Client:
    """Runtime state of one endpoint: where to reach it, and requests held for queue mode."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.reg = None
        self.remote = None
        self.pending = collections.deque()
        self.awake_until = 0.0
        self.drainer = None
        self.observations = set()
        self.updates = 0

    def awake(self):
        return time.monotonic() < self.awake_until

    def request(self, code, path, payload=b"", content_format=None, accept=None, query=(), observe=None):
        return make_request(code, path, self.remote, self.reg.remote_uri, payload, content_format,
                            accept, query, observe, self.reg.root)


class LwM2MServer:
    """Use `await LwM2MServer.start(...)`; every operation returns a Result (the client's answer,
    whatever its code) or raises OperationError when no answer came."""

    def __init__(self, store, grace, awake_time, timeout, types):
        self.store = store
        self.directory = registry.Directory(grace)
        self.awake_time = awake_time
        self.timeout = timeout
        self.types = types
        self.ctx = None
        self.port = None
        self._clients = {}
        self._changed = asyncio.Condition()
        self._listeners = []
        self._sends = collections.defaultdict(list)
        self._expiry_task = None

    @classmethod
    async def start(cls, host="127.0.0.1", port=5683, db=":memory:", grace=2.0,
                    awake_time=numbers.DEFAULT_AWAKE_S, timeout=30.0, expiry_check=0.5, types=None):
        """Bind and serve. `grace` is added to each lifetime before a registration expires;
        `awake_time` is how long a queue-mode client listens after it was heard from;
        `timeout` bounds each request to a client; `types` adds {(oid, rid): letter} to the
        schema used to type TLV/text values."""
        self = cls(Store(db) if isinstance(db, str) else db, grace, awake_time, timeout, types)
        for data in self.store.registrations():
            reg = registry.Registration.from_dict(data)
            self.directory.by_id[reg.reg_id] = reg
            self._client(reg.endpoint).reg = reg
        self.ctx = await bind(Site(self._render), host, port)
        self.port = local_port(self.ctx)
        self._expiry_task = asyncio.create_task(self._expire_loop(expiry_check))
        log.info("LwM2M server on %s:%d (%d registrations restored)", host, self.port,
                 len(self.directory.by_id))
        return self

    async def stop(self):
        if self._expiry_task:
            self._expiry_task.cancel()
            await asyncio.gather(self._expiry_task, return_exceptions=True)
        for client in self._clients.values():
            for obs in list(client.observations):
                obs._forget()
            if client.drainer:
                client.drainer.cancel()
            self._fail_pending(client, "server stopped")
        if self.ctx:
            await self.ctx.shutdown()
        self.store.close()

    # ---- events -------------------------------------------------------------------------

    def add_listener(self, callback):
        """callback(kind, endpoint, detail) for registered/updated/deregistered/expired/send/
        notify events (used by the CLI to log)."""
        self._listeners.append(callback)

    async def _emit(self, kind, endpoint, detail=None):
        for callback in self._listeners:
            try:
                callback(kind, endpoint, detail)
            except Exception:  # a listener's fault must not break the protocol
                log.exception("listener failed on %s %s", kind, endpoint)
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate, timeout=10.0):
        """Wait until predicate() is true, re-checked on every registration/Send event."""
        async def _wait():
            async with self._changed:
                await self._changed.wait_for(predicate)
        await asyncio.wait_for(_wait(), timeout)

    async def wait_registered(self, endpoint, timeout=10.0):
        await self.wait_for(lambda: self.registration(endpoint) is not None, timeout)
        return self.registration(endpoint)

    async def wait_update(self, endpoint, count=1, timeout=10.0):
        """Wait until `endpoint` sent `count` Updates since it (re-)registered."""
        await self.wait_for(lambda: self._client(endpoint).updates >= count
                            and self.registration(endpoint) is not None, timeout)
        return self.registration(endpoint)

    async def wait_deregistered(self, endpoint, timeout=10.0):
        await self.wait_for(lambda: self.registration(endpoint) is None, timeout)

    async def wait_send(self, endpoint, count=1, timeout=10.0):
        await self.wait_for(lambda: len(self._sends[endpoint]) >= count, timeout)
        return self._sends[endpoint][count - 1]

    # ---- directory ----------------------------------------------------------------------

    def registration(self, endpoint):
        return self.directory.by_endpoint(endpoint)

    def registrations(self):
        return list(self.directory.by_id.values())

    def sends(self, endpoint):
        """Every Send received from `endpoint` since start: [{"values", "records", "content_format",
        "payload", "received"}]; records are SenML's (path, value, time) in order, None for
        LwM2M CBOR (self.store.sends() has them across restarts)."""
        return list(self._sends[endpoint])

    def _client(self, endpoint):
        client = self._clients.get(endpoint)
        if client is None:
            client = self._clients[endpoint] = _Client(endpoint)
        return client

    # ---- incoming requests ------------------------------------------------------------

    async def _render(self, request):
        path = tuple(request.opt.uri_path)
        try:
            if path == ("rd",) and request.code == Code.POST:
                return await self._on_register(request)
            if len(path) == 2 and path[0] == "rd":
                if request.code == Code.POST:
                    return await self._on_update(request, path[1])
                if request.code == Code.DELETE:
                    return await self._on_deregister(path[1])
                return response("4.05")
            if path == ("dp",) and request.code == Code.POST:
                return await self._on_send(request)
        except registry.RegistrationError as exc:
            log.info("refused %s /%s from %s: %s", request.code, "/".join(path),
                     request.remote.hostinfo, exc)
            self.store.audit("", "refused " + "/".join(path), "/" + "/".join(path), exc.code, exc.message)
            return response(exc.code, exc.message.encode())
        return response("4.04")

    async def _on_register(self, request):
        reg, old = self.directory.register(request.opt.uri_query, request.payload,
                                           request.remote.uri_base, time.time())
        if old is not None:
            self.store.delete_registration(old.reg_id)
        self.store.save_registration(reg)
        client = self._client(reg.endpoint)
        # a new registration ends the previous one's observations (Core 1.1 §6.2.1)
        for obs in list(client.observations):
            obs._forget()
        client.reg = reg
        client.remote = request.remote.as_response_address()
        client.updates = 0
        self.store.audit(reg.endpoint, "register", reg.location, registry.CREATED, repr(reg))
        log.info("registered %r", reg)
        self._heard_from(client)
        await self._emit("registered", reg.endpoint, reg)
        return response(registry.CREATED, location=("rd", reg.reg_id))

    async def _on_update(self, request, reg_id):
        reg = self.directory.update(reg_id, request.opt.uri_query, request.payload,
                                    request.remote.uri_base, time.time())
        self.store.save_registration(reg)
        client = self._client(reg.endpoint)
        client.remote = request.remote.as_response_address()
        client.updates += 1
        self.store.audit(reg.endpoint, "update", reg.location, registry.CHANGED, repr(reg))
        self._heard_from(client)
        await self._emit("updated", reg.endpoint, reg)
        return response(registry.CHANGED)

    async def _on_deregister(self, reg_id):
        reg = self.directory.deregister(reg_id)
        self._drop(reg, "deregistered")
        self.store.audit(reg.endpoint, "deregister", reg.location, registry.DELETED)
        await self._emit("deregistered", reg.endpoint, reg)
        return response(registry.DELETED)

    async def _on_send(self, request):
        reg = self.directory.by_remote(request.remote.uri_base)
        if reg is None:
            raise registry.RegistrationError(registry.FORBIDDEN, "Send from %s, which is not registered"
                                             % request.remote.hostinfo)
        cf = request.opt.content_format
        cf = None if cf is None else int(cf)
        if cf not in (numbers.SENML_CBOR, numbers.SENML_JSON, numbers.LWM2M_CBOR):
            raise registry.RegistrationError("4.15", "Send content format %s not accepted" % cf)
        try:
            values = codecs.decode(cf, request.payload, "/", self.types)
        except ValueError as exc:
            raise registry.RegistrationError(registry.BAD_REQUEST, "Send payload: %s" % exc) from None
        record = {"values": values, "content_format": cf, "payload": bytes(request.payload),
                  "received": time.time(), "records": None}
        if cf != numbers.LWM2M_CBOR:
            # timestamped SenML keeps every (path, value, time); values keeps the last per path
            record["records"] = codecs.senml.records(request.payload, cf == numbers.SENML_CBOR, self.types)
        self._sends[reg.endpoint].append(record)
        self.store.add_send(reg.endpoint, cf, request.payload, values)
        self.store.audit(reg.endpoint, "send", "/dp", registry.CHANGED)
        self._heard_from(self._client(reg.endpoint))
        await self._emit("send", reg.endpoint, values)
        return response(registry.CHANGED)

    def _drop(self, reg, why):
        self.store.delete_registration(reg.reg_id)
        client = self._client(reg.endpoint)
        if client.reg is not reg:
            return
        client.reg = None
        for obs in list(client.observations):
            obs._forget()
        self._fail_pending(client, why)
        log.info("%s %r", why, reg)

    @staticmethod
    def _fail_pending(client, why):
        while client.pending:
            _, fut = client.pending.popleft()
            if not fut.done():
                fut.set_exception(OperationError(client.endpoint, "queued", "", why))

    async def _expire_loop(self, interval):
        while True:
            await asyncio.sleep(interval)
            for reg in self.directory.expired(time.time()):
                self._drop(reg, "expired")
                self.store.audit(reg.endpoint, "expire", reg.location, "")
                await self._emit("expired", reg.endpoint, reg)

    # ---- queue mode -------------------------------------------------------------------

    def _heard_from(self, client):
        client.awake_until = time.monotonic() + self.awake_time
        self._kick(client)

    def _kick(self, client):
        if client.pending and client.awake() and (client.drainer is None or client.drainer.done()):
            client.drainer = asyncio.create_task(self._drain(client))

    async def _drain(self, client):
        # held requests go out one at a time, oldest first, while the client listens
        while client.pending and client.awake():
            job, fut = client.pending.popleft()
            if fut.done():
                continue
            try:
                result = await job()
            except Exception as exc:  # delivered to the caller that queued the request
                if not fut.done():
                    fut.set_exception(exc)
            else:
                if not fut.done():
                    fut.set_result(result)

    async def _submit(self, client, job):
        if not client.reg.queue_mode:
            return await job()
        if self.pending(client.endpoint) >= _MAX_HELD:
            raise OperationError(client.endpoint, "queued", "", "%d requests already held" % _MAX_HELD)
        fut = asyncio.get_running_loop().create_future()
        client.pending.append((job, fut))
        self._kick(client)
        return await fut

    def pending(self, endpoint):
        """How many requests are held for a sleeping queue-mode client."""
        client = self._clients.get(endpoint)
        return sum(1 for _, fut in client.pending if not fut.done()) if client else 0

    # ---- device management ------------------------------------------------------------

    async def _request(self, endpoint, operation, code, path, payload=b"", content_format=None,
                       accept=None, query=(), observe=None, decode_path=None, timeout=None,
                       blockwise=True):
        client = self._client(endpoint)
        if client.reg is None:
            raise OperationError(endpoint, operation, path, "not registered")
        timeout = self.timeout if timeout is None else timeout

        async def job():
            msg = client.request(code, path, payload, content_format, accept, query, observe)
            return await exchange(self.ctx, msg, timeout, endpoint, operation, path, blockwise)

        try:
            _, resp = await self._submit(client, job)
        except OperationError as exc:
            self.store.audit(endpoint, operation, path, "", exc.reason)
            raise
        if client.remote is None:
            client.remote = resp.remote
        result = Result.from_message(resp, decode_path or path, self.types)
        self.store.audit(endpoint, operation, path, result.code, result.error or "")
        log.info("%s %s %s -> %s", operation, endpoint, path, result.code)
        return result

    def _default_format(self, endpoint):
        reg = self.registration(endpoint)
        return numbers.TLV if reg is not None and reg.version == "1.0" else numbers.SENML_CBOR

    async def read(self, endpoint, path, accept=None, timeout=None):
        """Read (GET); `accept` is a content format number or name, None lets the client pick."""
        return await self._request(endpoint, "read", Code.GET, path,
                                   accept=numbers.content_format(accept), timeout=timeout)

    async def discover(self, endpoint, path, depth=None, timeout=None):
        query = ("depth=%d" % depth,) if depth is not None else ()
        return await self._request(endpoint, "discover", Code.GET, path, accept=numbers.LINK_FORMAT,
                                   query=query, timeout=timeout)

    def _values(self, path, values):
        if isinstance(values, dict):
            return {paths.normalize(p): v for p, v in values.items()}
        return {paths.normalize(path): values}

    async def write(self, endpoint, path, values, content_format=None, replace=True, timeout=None):
        """Write: `values` is {path: value} or one value for the resource at `path`. replace=True
        is Write-replace (PUT), False a partial update (POST)."""
        cf = numbers.content_format(content_format) or self._default_format(endpoint)
        payload = codecs.encode(cf, self._values(path, values), path)
        return await self._request(endpoint, "write" if replace else "write-update",
                                   Code.PUT if replace else Code.POST, path, payload, cf,
                                   timeout=timeout)

    async def execute(self, endpoint, path, args=None, timeout=None):
        payload = args.encode() if isinstance(args, str) else (args or b"")
        return await self._request(endpoint, "execute", Code.POST, path, payload,
                                   numbers.TEXT if payload else None, timeout=timeout)

    async def create(self, endpoint, path, values, content_format=None, timeout=None):
        """Create under object `path` ("/oid"); `values` {"/oid/iid/rid": v}. The new instance
        path is in result.location when the client chose the id."""
        cf = numbers.content_format(content_format) or self._default_format(endpoint)
        payload = codecs.encode(cf, self._values(path, values), path)
        return await self._request(endpoint, "create", Code.POST, path, payload, cf, timeout=timeout)

    async def delete(self, endpoint, path, timeout=None):
        return await self._request(endpoint, "delete", Code.DELETE, path, timeout=timeout)

    async def write_attributes(self, endpoint, path, timeout=None, **attrs):
        """Write-Attributes (PUT with query): pmin=10, pmax=60, gt=, lt=, st=, epmin=, epmax=;
        a value of None removes the attribute."""
        query = tuple(name if value is None else "%s=%s" % (name, value) for name, value in attrs.items())
        return await self._request(endpoint, "write-attributes", Code.PUT, path, query=query,
                                   timeout=timeout)

    async def read_composite(self, endpoint, path_list, accept=numbers.SENML_CBOR,
                             request_format=None, timeout=None):
        """Read-Composite (FETCH /) with a SenML list of paths in the request body."""
        accept = numbers.content_format(accept)
        req_cf = numbers.content_format(request_format) or (
            accept if accept in (numbers.SENML_JSON, numbers.SENML_CBOR) else numbers.SENML_CBOR)
        payload = codecs.senml.encode_paths(path_list, cbor=req_cf == numbers.SENML_CBOR)
        return await self._request(endpoint, "read-composite", Code.FETCH, "/", payload, req_cf,
                                   accept=accept, timeout=timeout)

    async def write_composite(self, endpoint, values, content_format=numbers.SENML_CBOR, timeout=None):
        """Write-Composite (iPATCH /) of {path: value} across objects."""
        cf = numbers.content_format(content_format)
        payload = codecs.encode(cf, self._values("/", values), "/")
        return await self._request(endpoint, "write-composite", Code.iPATCH, "/", payload, cf,
                                   timeout=timeout)

    def observe(self, endpoint, path, accept=None):
        """Observe `path`: -> Observation, an async iterator of Results starting with the
        current value; `await obs.established()` for the first answer."""
        return Observation(self, endpoint, (paths.normalize(path),), False,
                           numbers.content_format(accept))

    def observe_composite(self, endpoint, path_list, accept=numbers.SENML_CBOR):
        """Observe-Composite (FETCH / with Observe=0 and a SenML path list)."""
        return Observation(self, endpoint, tuple(paths.normalize(p) for p in path_list), True,
                           numbers.content_format(accept))

    async def request_bootstrap(self, endpoint, server_iid=None, timeout=None):
        """Server-initiated bootstrap: Execute /1/x/9 (Bootstrap-Request Trigger) on the Server
        instance `server_iid` (default: the first one the client registered)."""
        if server_iid is None:
            reg = self.registration(endpoint)
            instances = reg.instances(1) if reg else []
            server_iid = instances[0] if instances else 0
        return await self.execute(endpoint, "/1/%d/9" % server_iid, timeout=timeout)

    def observations(self, endpoint):
        client = self._clients.get(endpoint)
        return list(client.observations) if client else []


class Observation:
    """One Observe (or Observe-Composite) relation. Iterate for Results: the first is the answer
    to the Observe request, the rest are notifications. cancel() forgets it (the client's next
    notification gets RST); cancel(explicit=True) sends GET/FETCH with Observe=1 and the same
    token (RFC 7641 §3.6)."""

    def __init__(self, server, endpoint, path_list, composite, accept):
        self.server = server
        self.endpoint = endpoint
        self.paths = path_list
        self.composite = composite
        self.accept = accept
        self.results = []
        self.cancelled = False
        self._queue = asyncio.Queue(_OBSERVE_QUEUE)
        self._first = asyncio.get_running_loop().create_future()
        # nobody may ask for the first answer (plain iteration): do not warn about its error
        self._first.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._msg = None
        self._coap_obs = None
        self._coap_req = None
        self._reader = None
        self._task = asyncio.create_task(self._start())
        server._client(endpoint).observations.add(self)

    @property
    def path(self):
        return "/" if self.composite else self.paths[0]

    def _message(self, observe):
        if self.composite:
            req_cf = self.accept if self.accept in (numbers.SENML_JSON, numbers.SENML_CBOR) else numbers.SENML_CBOR
            payload = codecs.senml.encode_paths(self.paths, cbor=req_cf == numbers.SENML_CBOR)
            return Code.FETCH, payload, req_cf
        return Code.GET, b"", None

    async def _start(self):
        server = self.server
        client = server._client(self.endpoint)
        code, payload, req_cf = self._message(0)
        operation = "observe-composite" if self.composite else "observe"
        try:
            if client.reg is None:
                raise OperationError(self.endpoint, operation, self.path, "not registered")
            timeout = server.timeout

            async def job():
                msg = client.request(code, self.path, payload, req_cf, self.accept, (), 0)
                self._msg = msg
                req, resp = await exchange(server.ctx, msg, timeout, self.endpoint, operation,
                                           self.path, blockwise=False)
                return req, await complete_block2(server.ctx, msg, resp, timeout, self.endpoint,
                                                  operation, self.path)

            req, resp = await server._submit(client, job)
        except asyncio.CancelledError:
            if not self._first.done():
                self._first.set_exception(OperationError(self.endpoint, operation, self.path, "cancelled"))
            self._queue.put_nowait(None)
            raise
        except Exception as exc:
            self._first.set_exception(exc)
            self._queue.put_nowait(None)
            return
        result = Result.from_message(resp, self.path, server.types)
        server.store.audit(self.endpoint, operation, ",".join(self.paths), result.code, result.error or "")
        self._deliver(result)
        self._first.set_result(result)
        if result.ok and resp.opt.observe is not None and req.observation is not None and not self.cancelled:
            self._coap_obs = req.observation
            self._coap_req = req
            self._reader = asyncio.create_task(self._read(req.observation))
        else:
            self._queue.put_nowait(None)

    async def _read(self, coap_obs):
        try:
            async for msg in coap_obs:
                try:
                    msg = await complete_block2(self.server.ctx, self._msg, msg, self.server.timeout,
                                                self.endpoint, "notify", self.path)
                except OperationError as exc:
                    # one notification lost its later blocks; the relation itself still holds
                    log.info("notification %s %s dropped: %s", self.endpoint, self.path, exc.reason)
                    self.server.store.audit(self.endpoint, "notify", ",".join(self.paths), "", exc.reason)
                    continue
                result = Result.from_message(msg, self.path, self.server.types)
                self.server.store.add_notification(self.endpoint, ",".join(self.paths),
                                                   result.content_format, result.payload,
                                                   result.values)
                self._deliver(result)
                # a notification shows a queue-mode client is awake (Core 1.1 §6.4.1)
                client = self.server._client(self.endpoint)
                if client.reg is not None:
                    self.server._heard_from(client)
                await self.server._emit("notify", self.endpoint, result)
        except Exception as exc:  # the client ended it (error code, RST) or it was cancelled
            log.info("observation %s %s ended: %s", self.endpoint, self.path, exc)
        finally:
            self._queue.put_nowait(None)

    def _deliver(self, result):
        self.results.append(result)
        if self._queue.full():
            self._queue.get_nowait()  # a slow consumer loses the oldest, never blocks the reader
        self._queue.put_nowait(result)

    def established(self):
        """Awaitable first Result (raises OperationError if the request got no answer)."""
        return asyncio.shield(self._first)

    def __aiter__(self):
        return self

    async def __anext__(self):
        item = await self._queue.get()
        if item is None:
            self._queue.put_nowait(None)  # keep the end visible to later calls
            raise StopAsyncIteration
        return item

    async def next(self, timeout=10.0):
        """The next Result, or raise TimeoutError / StopAsyncIteration."""
        return await asyncio.wait_for(self.__anext__(), timeout)

    def _forget(self):
        if self.cancelled:
            return
        self.cancelled = True
        self.server._client(self.endpoint).observations.discard(self)
        if self._coap_obs is not None and not self._coap_obs.cancelled:
            self._coap_obs.cancel()
        stop = getattr(self._coap_req, "_stop_interest", None)
        if stop is not None:
            # aiocoap only drops the token after the next notification (which it would still
            # ACK); ending the interest now makes that notification get RST, as RFC 7641 §3.6
            # describes for a client that forgot an observation
            try:
                stop()
            except ValueError:
                pass
        if self._reader is not None:
            self._reader.cancel()
        elif not self._task.done():
            self._task.cancel()  # still held (queue mode) or in flight: it ends the iteration
        else:
            self._queue.put_nowait(None)

    async def cancel(self, explicit=False, timeout=None):
        """Stop observing. Returns the client's answer to the explicit cancel, else None."""
        if not self._task.done():
            self._forget()  # never reached the client (held or in flight): nothing to cancel there
            await asyncio.gather(self._task, return_exceptions=True)
            return None
        token = self._msg.token if self._msg is not None else None
        self._forget()
        self.server.store.audit(self.endpoint, "cancel-observe", ",".join(self.paths),
                                "", "explicit" if explicit else "passive")
        if not explicit or token is None:
            return None
        server = self.server
        client = server._client(self.endpoint)
        if client.reg is None:
            raise OperationError(self.endpoint, "cancel-observe", self.path, "not registered")
        code, payload, req_cf = self._message(1)
        timeout = server.timeout if timeout is None else timeout

        async def job():
            msg = client.request(code, self.path, payload, req_cf, self.accept, (), 1)
            req = await request_with_token(server.ctx, msg, token)
            try:
                return await asyncio.wait_for(req.response, timeout)
            except asyncio.TimeoutError:
                raise OperationError(self.endpoint, "cancel-observe", self.path, "no answer") from None

        resp = await server._submit(client, job)
        return Result.from_message(resp, self.path, server.types)
