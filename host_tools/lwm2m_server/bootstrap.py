"""LwM2M 1.1 Bootstrap Server (Core 1.1 §5.2, Transport 1.1 §6.1): answers a client-initiated
Bootstrap-Request (POST /bs?ep=..&pct=..) and then provisions the client over the same address:
Bootstrap-Discover, Bootstrap-Delete, Bootstrap-Write of each configured instance, optional
Bootstrap-Read of the Server object, Bootstrap-Finish. Every run is recorded with each step's
CoAP code, including failures of Finish (4.06 Not Acceptable, 4.00 ...)."""

import asyncio
import time

from aiocoap.numbers.codes import Code

from . import codecs, numbers, paths, registry
from .exchange import OperationError, Result, Site, bind, exchange, local_port, log, make_request, response
from .store import Store

# Bootstrap-Write formats the client may name in pct; others fall back to TLV (every 1.x client
# must accept it during bootstrap)
_WRITE_FORMATS = (numbers.TLV, numbers.SENML_CBOR, numbers.SENML_JSON, numbers.LWM2M_CBOR)

# Security object (0) resource ids, Core 1.1 Appendix E.1
_SEC_URI, _SEC_BOOTSTRAP, _SEC_MODE, _SEC_IDENTITY, _SEC_SERVER_KEY, _SEC_SECRET = 0, 1, 2, 3, 4, 5
_SEC_SHORT_ID, _SEC_HOLD_OFF, _SEC_BS_TIMEOUT = 10, 11, 12
# Server object (1), Appendix E.2
_SRV_SHORT_ID, _SRV_LIFETIME, _SRV_PMIN, _SRV_PMAX, _SRV_STORING, _SRV_BINDING = 0, 1, 2, 3, 6, 7

SEC_MODE_PSK, SEC_MODE_RPK, SEC_MODE_CERT, SEC_MODE_NOSEC = 0, 1, 2, 3


def security_instance(uri, bootstrap=False, mode=SEC_MODE_NOSEC, short_id=None, identity=b"",
                      secret=b"", server_key=b"", hold_off=None, bs_timeout=None):
    """Resources of one Security (/0/x) instance; `short_id` is required for a DM server."""
    res = {_SEC_URI: uri, _SEC_BOOTSTRAP: bool(bootstrap), _SEC_MODE: mode,
           _SEC_IDENTITY: bytes(identity), _SEC_SERVER_KEY: bytes(server_key), _SEC_SECRET: bytes(secret)}
    if short_id is not None:
        res[_SEC_SHORT_ID] = short_id
    if hold_off is not None:
        res[_SEC_HOLD_OFF] = hold_off
    if bs_timeout is not None:
        res[_SEC_BS_TIMEOUT] = bs_timeout
    return res


def server_instance(short_id, lifetime=300, binding="U", pmin=None, pmax=None, storing=True):
    """Resources of one Server (/1/x) instance."""
    res = {_SRV_SHORT_ID: short_id, _SRV_LIFETIME: lifetime, _SRV_STORING: bool(storing),
           _SRV_BINDING: binding}
    if pmin is not None:
        res[_SRV_PMIN] = pmin
    if pmax is not None:
        res[_SRV_PMAX] = pmax
    return res


def simple_config(server_uri, short_id=101, lifetime=300, binding="U", bootstrap_uri=None):
    """A config with one DM server (and the bootstrap account when bootstrap_uri is given)."""
    config = {}
    if bootstrap_uri:
        config["/0/0"] = security_instance(bootstrap_uri, bootstrap=True, hold_off=0)
    config["/0/1"] = security_instance(server_uri, short_id=short_id)
    config["/1/0"] = server_instance(short_id, lifetime, binding)
    return config


def _normalize_config(config):
    """{"/oid/iid": {rid: value}} with int rids, Security first, then Server, then the rest."""
    out = {}
    for path, resources in config.items():
        ids = paths.parse(path)
        if len(ids) != 2:
            raise ValueError("bootstrap config key %s must be an object instance path" % path)
        out[paths.fmt(ids)] = {int(rid): value for rid, value in resources.items()}
    return dict(sorted(out.items(), key=lambda item: (min(paths.parse(item[0])[0], 2), paths.parse(item[0]))))


class BootstrapServer:
    """`configs` maps endpoint name (or "*" for any other) -> {"/0/1": {rid: value}, "/1/0": {...},
    "/3303/0": {...}}.
    Options: discover (send Bootstrap-Discover first), delete (paths to Bootstrap-Delete, default
    "/"), read_server (Bootstrap-Read /1 before Finish), fmt (content format when the client
    named none in pct)."""

    def __init__(self, store, timeout, discover, delete, read_server, fmt):
        self.store = store
        self.timeout = timeout
        self.discover = discover
        self.delete = delete
        self.read_server = read_server
        self.fmt = fmt
        self.ctx = None
        self.port = None
        self._runs = {}
        self._done = asyncio.Condition()
        self._tasks = set()

    @classmethod
    async def start(cls, host="127.0.0.1", port=5783, db=":memory:", configs=None, timeout=10.0,
                    discover=True, delete=("/",), read_server=True, fmt=numbers.TLV):
        self = cls(Store(db) if isinstance(db, str) else db, timeout, discover, tuple(delete),
                   read_server, numbers.content_format(fmt))
        for endpoint, config in (configs or {}).items():
            self.set_config(endpoint, config)
        self.ctx = await bind(Site(self._render), host, port)
        self.port = local_port(self.ctx)
        log.info("bootstrap server on %s:%d", host, self.port)
        return self

    async def stop(self):
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.ctx.shutdown()
        self.store.close()

    def set_config(self, endpoint, config):
        self.store.save_bootstrap_config(endpoint, _normalize_config(config))

    def config(self, endpoint):
        """The endpoint's configuration, else the one stored under "*", else None."""
        config = self.store.bootstrap_config(endpoint)
        if config is None:
            config = self.store.bootstrap_config("*")
        return _normalize_config(config) if config is not None else None

    def results(self, endpoint):
        """Every bootstrap run of `endpoint`: [{"result", "detail": {"steps", ...}, ...}]."""
        return self.store.bootstrap_results(endpoint)

    async def wait_finished(self, endpoint, count=1, timeout=20.0):
        """Wait for the `count`-th completed run (success or not) and return its record."""
        async def _wait():
            async with self._done:
                await self._done.wait_for(lambda: len(self.results(endpoint)) >= count)
        await asyncio.wait_for(_wait(), timeout)
        return self.results(endpoint)[count - 1]

    async def _render(self, request):
        path = tuple(request.opt.uri_path)
        if path != ("bs",) or request.code != Code.POST:
            return response("4.04")
        try:
            params = registry.parse_query(request.opt.uri_query)
        except registry.RegistrationError as exc:
            return response(exc.code, exc.message.encode())
        endpoint = params.get("ep")
        if not endpoint:
            return response(registry.BAD_REQUEST, b"Bootstrap-Request without ep")
        config = self.config(endpoint)
        if config is None:
            self.store.add_bootstrap_result(endpoint, time.time(), "rejected", {"reason": "no configuration"})
            await self._notify()
            return response(registry.BAD_REQUEST, b"no bootstrap configuration for this endpoint")
        pct = params.get("pct")
        try:
            fmt = numbers.content_format(pct) if pct else self.fmt
        except ValueError:
            fmt = self.fmt
        if fmt not in _WRITE_FORMATS:
            fmt = self.fmt
        remote = request.remote.as_response_address()
        if endpoint in self._runs and not self._runs[endpoint].done():
            self._runs[endpoint].cancel()  # the client restarted bootstrap; the old run is moot
        task = asyncio.create_task(self._provision(endpoint, remote, config, fmt))
        self._runs[endpoint] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        log.info("bootstrap request from %s (%s), writes as %s", endpoint, request.remote.hostinfo,
                 numbers.NAMES[fmt])
        return response(registry.CHANGED)

    async def _notify(self):
        async with self._done:
            self._done.notify_all()

    async def _step(self, endpoint, remote, steps, operation, code, path, payload=b"", cf=None, accept=None):
        msg = make_request(code, path, remote, None, payload, cf, accept)
        _, resp = await exchange(self.ctx, msg, self.timeout, endpoint, operation, path)
        result = Result.from_message(resp, path)
        steps.append({"op": operation, "path": path, "code": result.code})
        self.store.audit(endpoint, "bs-" + operation, path, result.code)
        return result

    async def _provision(self, endpoint, remote, config, fmt):
        # the client sends Bootstrap-Request and then listens; give our 2.04 a moment to leave first
        await asyncio.sleep(0)
        started = time.time()
        steps = []
        detail = {"steps": steps, "format": fmt}
        outcome = "failed"
        try:
            if self.discover:
                res = await self._step(endpoint, remote, steps, "discover", Code.GET, "/",
                                       accept=numbers.LINK_FORMAT)
                detail["discover"] = res.values if res.ok else None
            for path in self.delete:
                await self._step(endpoint, remote, steps, "delete", Code.DELETE, path)
            for path, resources in config.items():
                values = {paths.join(path, rid): value for rid, value in resources.items()}
                payload = codecs.encode(fmt, values, path)
                res = await self._step(endpoint, remote, steps, "write", Code.PUT, path, payload, fmt)
                if not res.ok:
                    raise _Abort("Bootstrap-Write %s answered %s" % (path, res.code))
            if self.read_server:
                res = await self._step(endpoint, remote, steps, "read", Code.GET, "/1", accept=fmt)
                detail["server_object"] = res.values if res.ok else None
            res = await self._step(endpoint, remote, steps, "finish", Code.POST, "/bs")
            detail["finish"] = res.code
            outcome = "finished" if res.code == registry.CHANGED else "finish-failed"
        except _Abort as exc:
            detail["reason"] = str(exc)
        except OperationError as exc:
            outcome = "timeout"
            detail["reason"] = str(exc)
        except ValueError as exc:  # a configuration value no codec can encode
            detail["reason"] = "%s: %s" % (type(exc).__name__, exc)
        except asyncio.CancelledError:
            detail["reason"] = "cancelled"
            outcome = "cancelled"
            raise
        finally:
            self.store.add_bootstrap_result(endpoint, started, outcome, detail)
            log.info("bootstrap of %s: %s %s", endpoint, outcome, detail.get("finish", detail.get("reason")))
            await self._notify()


class _Abort(Exception):
    pass
