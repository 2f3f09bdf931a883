"""LwM2M 1.1 client runner: the thin asyncio layer over the sans-I/O cores.

    client = Client(registry, "dev1", UdpTransport(), store=FileStore("state"), log=print)
    client.configure(server_uri="coap://127.0.0.1:5683", lifetime=60)   # or bootstrap_uri=...
    await client.run()            # until client.stop(); deregisters on the way out
    await client.send([(3, 0, 13)])   # LwM2M Send, -> response code

One coap Endpoint serves both roles on one socket: requests of ours (Register/Update/
De-register, Bootstrap-Request, Send) and the server's DM requests (lwm2m.dm) or, from the
bootstrap server, Bootstrap-* (lwm2m.bootstrap). One RdClient per server account; one
ObserveEngine for all observations; a NotificationStore per account for queue mode / offline
(/1/x/6). /0 and /1 and the registration location are persisted (lwm2m.persist) after every
committed change. Events are reported as one line each through `log`: "lwm2m <event> <detail>".

CLI (Unix port):  micropython -m lwm2m.client --server coap://127.0.0.1:5683 --ep NAME
                  [--lifetime 60] [--bootstrap coap://...] [--state DIR] [--queue] [--port N]
                  [--rx-window MS] [--retry COUNT,TIMER,SEQDELAY,SEQCOUNT]
stdin commands:   send /3/0/13[,/3/0/9]   set /3/0/9 57   update   deregister   mem   quit
"""

import sys

from micropython import const

import asyncio

from coap import numbers as N
from coap import error as CE
from coap.endpoint import Endpoint
from coap.message import Message
from lwm2m import model as M
from lwm2m import path as P
from lwm2m.attrs import AttrStore
from lwm2m.dm import DeviceManager
from lwm2m.rd_client import (
    MAX_DELAY_MS, MODE_NOSEC, S_BOOTSTRAP, S_DEREGISTERED, S_FAILED, S_REGISTERED, RdClient,
    RetryPolicy,
    bootstrap_account, server_accounts)
# bootstrap, persist, queue_mode, send and observe are imported where first needed: a device that
# never bootstraps, persists, sleeps, sends or is observed keeps their RAM.

from hal.clock import default as _clock

_MAX_WAIT_MS = const(1000)  # the driver re-evaluates at least this often
_DEFAULT_SSID = const(101)
_OID_SEC = const(0)
_OID_SRV = const(1)
_SEC_MODE = const(2)
_MODE_CERT = const(2)
_ALL_MODES = (0, 1, 2, 3, 4)  # PSK, RPK, certificate, NoSec, certificate with EST
# /1/x resources the engine reacts to.
_SRV_SSID = const(0)
_SRV_LIFETIME = const(1)
_SRV_PMIN = const(2)
_SRV_PMAX = const(3)
_SRV_DISABLE = const(4)
_SRV_DISABLE_TIMEOUT = const(5)
_SRV_STORING = const(6)
_SRV_BINDING = const(7)
_SRV_UPDATE_TRIGGER = const(8)
_SRV_BS_TRIGGER = const(9)
_SRV_INITIAL_DELAY = const(14)
_SRV_BS_ON_FAILURE = const(16)
_SRV_RETRY_COUNT = const(17)
_SRV_RETRY_TIMER = const(18)
_SRV_SEQ_DELAY = const(19)
_SRV_SEQ_COUNT = const(20)
_SRV_NOTIFY_MODE = const(26)
_DEF_DISABLE_TIMEOUT_S = const(86400)


def parse_uri(uri):
    """"coap://host:port" -> (scheme, host, port); IPv6 literals in brackets."""
    i = uri.find("://")
    if i < 0:
        raise ValueError("server URI without scheme: %r" % uri)
    scheme, rest = uri[:i], uri[i + 3:]
    rest = rest.split("/", 1)[0]
    port = 5684 if scheme == "coaps" else 5683
    if rest.startswith("["):
        j = rest.find("]")
        host, tail = rest[1:j], rest[j + 1:]
    else:
        k = rest.rfind(":")
        host, tail = (rest[:k], rest[k:]) if k >= 0 else (rest, "")
    if tail.startswith(":"):
        port = int(tail[1:])
    return scheme, host, port


class Account:
    """Runtime state of one LwM2M server account."""

    def __init__(self, ssid, sec_iid, srv_iid, uri):
        self.ssid = ssid
        self.sec_iid = sec_iid
        self.srv_iid = srv_iid
        self.uri = uri
        self.remote = None
        self.rd = None
        self.attrs = AttrStore()
        self.store = None  # NotificationStore, made when a notification is first held
        self.queue = None
        self.disabled_until = None


class Client:
    def __init__(self, registry, endpoint_name, transport, store=None, log=None, queue=False,
                 legacy_queue=False, rx_window_ms=N.MAX_TRANSMIT_WAIT_MS, retry=None):
        self.registry = registry
        self.name = endpoint_name
        self.log_fn = log
        self.queue = queue
        self.legacy_queue = legacy_queue
        self.rx_window_ms = rx_window_ms
        self.retry_override = retry
        self.persist = None
        if store is not None:
            from lwm2m.persist import Persist

            self.persist = Persist(store, registry)
        self.ep = Endpoint(transport, self._handle)
        # Security modes this client can use: certificate mode needs the DTLS sessions a
        # TransportMux carries. A bootstrap leaving no account in these modes is refused.
        self.modes = (MODE_NOSEC, _MODE_CERT) if hasattr(transport, "route") else (MODE_NOSEC,)
        self.accounts = []
        self._sessions = []  # DTLS sessions (TransportMux members) of the current accounts
        self._engine = None  # ObserveEngine, made on the first Observe (see .engine)
        self.anon_attrs = AttrStore()
        self.dm = DeviceManager(registry, self.anon_attrs, self._observe_cb, self._execute_cb)
        self.bs = None
        self.bs_remote = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._notifying = None
        self._override = None
        self._dirty_config = False
        self._pending = []  # in-flight request tasks
        registry.listeners.append(self._on_change)

    @property
    def engine(self):
        """The ObserveEngine (all observations), made on first use."""
        if self._engine is None:
            from lwm2m.observe import ObserveEngine

            self._engine = ObserveEngine(self._read_value)
        return self._engine

    # --- configuration -------------------------------------------------------------------------

    def log(self, event, detail=""):
        if self.log_fn is not None:
            self.log_fn("lwm2m %s %s" % (event, detail) if detail else "lwm2m " + event)

    def configure(self, server_uri=None, bootstrap_uri=None, lifetime=60, ssid=_DEFAULT_SSID,
                  binding="U", credentials=None):
        """Factory configuration when nothing was persisted: one server and/or a bootstrap account.
        `credentials` (for coaps:// URIs, certificate mode): a dict with "cert" and "key" (the
        device's, DER), "server_cert" (DER), "usage" (Certificate Usage /0/x/15) and "sni" (the
        name checked in the server certificate, /0/x/14; the URI's host when None)."""
        if self.persist is not None and self.persist.load_objects():
            self.log("config-loaded", "%d server account(s)" % len(server_accounts(self.registry)))
            return
        from objects import obj_security, obj_server

        reg = self.registry

        def account(uri, **kw):
            iid = _free_iid(reg.get_object(_OID_SEC))
            cred = credentials if uri.startswith("coaps:") else None
            if cred:
                kw.update(mode=obj_security.MODE_CERT, identity=cred["cert"], secret=cred["key"],
                          server_key=cred["server_cert"])
            obj_security.add_account(reg, iid, uri, **kw)
            if cred and cred.get("usage") is not None:
                reg.set((_OID_SEC, iid, 15), cred["usage"])
            if cred and cred.get("sni"):
                reg.set((_OID_SEC, iid, 14), cred["sni"])

        if bootstrap_uri:
            account(bootstrap_uri, bootstrap=True)
        if server_uri:
            account(server_uri, ssid=ssid)
            obj_server.add_account(reg, _free_iid(reg.get_object(_OID_SRV)), ssid,
                                   lifetime=lifetime, binding=binding, store=True)
        self._save_config()

    # --- lifecycle -------------------------------------------------------------------------------

    async def run(self):
        self.ep.start()
        now = _clock.ticks_ms()
        self._setup_accounts(now, resume=True)
        if not self.accounts:
            self._start_bootstrap(now, "no usable server account")
        try:
            while not self._stopping:
                now = _clock.ticks_ms()
                self._tick(now)
                wait = self._next_wait(now)
                self._wake.clear()
                await _wait_event(self._wake, wait)
            await self._deregister_all()
        finally:
            for t in self._pending:
                t.cancel()
            await self.ep.close()

    def stop(self):
        self._stopping = True
        self._wake.set()

    async def _deregister_all(self):
        now = _clock.ticks_ms()
        for acc in self.accounts:
            if acc.rd is not None and acc.rd.is_registered():
                acc.rd.deregister(now)
                req = acc.rd.step(now)
                if req is not None:
                    await self._exchange_rd(acc, req)

    # --- the driver ------------------------------------------------------------------------------

    def _tick(self, now):
        if self._dirty_config and (self.bs is None or not self.bs.active()):
            self._dirty_config = False
            self._save_config()
        if self.bs is not None:
            self._tick_bootstrap(now)
        for acc in self.accounts:
            self._tick_account(acc, now)
        if self._engine is not None:
            for key in self._engine.due(now):
                self._deliver(key, now)

    def _next_wait(self, now):
        best = _MAX_WAIT_MS
        times = [self._engine.next_time(now) if self._engine is not None else None]
        if self.bs is not None:
            times.append(self.bs.next_time(now))
        for acc in self.accounts:
            if acc.rd is not None:
                times.append(acc.rd.next_time(now))
            if acc.queue is not None:
                times.append(acc.queue.next_time(now))
            if acc.disabled_until is not None:
                times.append(acc.disabled_until)
        for t in times:
            if t is not None:
                best = min(best, max(0, _clock.ticks_diff(t, now)))
        return best

    def _tick_bootstrap(self, now):
        from lwm2m.bootstrap import BS_DONE, BS_FAILED

        bs = self.bs
        req = bs.step(now)
        if req is not None:
            self._spawn(self._exchange_bs(req))
        if bs.state == BS_DONE:
            self.bs = None
            self.log("bootstrap-done", "")
            self._setup_accounts(now, resume=False)
        elif bs.state == BS_FAILED:
            # Rejected Finish or retries exhausted: the previous configuration was restored;
            # carry on with whatever server accounts it has.
            self.bs = None
            self._setup_accounts(now, resume=False)
            self.log("bootstrap-abandoned", "%d server account(s) kept" % len(self.accounts))

    def _tick_account(self, acc, now):
        rd = acc.rd
        if acc.disabled_until is not None:
            if _clock.ticks_diff(now, acc.disabled_until) >= 0:
                acc.disabled_until = None
                rd.reregister(now)
            elif rd.state == S_DEREGISTERED:
                return  # disabled (/1/x/4) and the De-register is done: wait out /1/x/5
        if acc.queue is not None:
            acc.queue.poll(now)  # may fall asleep; the next message wakes it up
        req = rd.step(now)
        if req is not None:
            if acc.queue is not None:
                acc.queue.activity(now)
            self._spawn(self._exchange_rd(acc, req))
        if rd.state == S_BOOTSTRAP:
            rd.state = S_FAILED  # hand over once
            self._start_bootstrap(now, "registration failed")
        if acc.store is not None and len(acc.store) and rd.state == S_REGISTERED and self._reachable(acc):
            # Back online (the Update or Register went through): stored notifications first.
            self._flush(acc, now)

    def _spawn(self, coro):
        task = asyncio.create_task(coro)
        self._pending.append(task)
        return task

    def _done(self):
        task = asyncio.current_task()
        if task in self._pending:
            self._pending.remove(task)
        self._wake.set()

    async def _exchange_rd(self, acc, rdreq):
        try:
            resp = await self.ep.request(acc.remote, self._message(rdreq))
            now = _clock.ticks_ms()
            if acc.queue is not None:
                acc.queue.activity(now)
            # Persist before the state machine reports it, so "registered" means "survives a reset".
            if rdreq.kind == "register" and resp.code == N.CREATED:
                self._save_registration(acc, resp.location_path())
                self._drop_observations(acc)
            elif rdreq.kind == "update" and resp.code == N.CHANGED:
                self._save_registration(acc, acc.rd.location)  # the expiry moves on
            elif rdreq.kind == "deregister":
                self._save_registration(acc, None)
            acc.rd.on_response(now, resp.code, resp.location_path())
        except (CE.RequestTimeout, CE.ResetReceived, CE.ResponseError, OSError, MemoryError) as exc:
            acc.rd.on_failure(_clock.ticks_ms(), repr(exc))
        finally:
            self._done()

    async def _exchange_bs(self, rdreq):
        try:
            resp = await self.ep.request(self.bs_remote, self._message(rdreq))
            if self.bs is not None:
                self.bs.on_response(_clock.ticks_ms(), resp.code)
        except (CE.RequestTimeout, CE.ResetReceived, CE.ResponseError, OSError, MemoryError) as exc:
            if self.bs is not None:
                self.bs.on_failure(_clock.ticks_ms(), repr(exc))
        finally:
            self._done()

    @staticmethod
    def _message(rdreq):
        msg = Message(N.CON, rdreq.method)
        for seg in rdreq.path:
            msg.add_option(N.URI_PATH, seg)
        for q in rdreq.query:
            msg.add_option(N.URI_QUERY, q)
        if rdreq.content_format is not None:
            msg.add_option(N.CONTENT_FORMAT, rdreq.content_format)
        msg.payload = rdreq.payload
        return msg

    # --- accounts and bootstrap ------------------------------------------------------------------

    def _srv(self, acc, rid, default=None):
        return self.registry.get((_OID_SRV, acc.srv_iid, rid), default)

    def _setup_accounts(self, now, resume):
        self.accounts = []
        self._end_sessions(self._sessions)
        self._sessions = []
        for ssid, sec_iid, srv_iid, uri in server_accounts(self.registry, _ALL_MODES):
            mode = self.registry.get((_OID_SEC, sec_iid, _SEC_MODE))
            if mode not in self.modes:
                self.log("account-skipped", "ssid %d: /0/%d/2: security mode %s not supported "
                         "here" % (ssid, sec_iid, mode))
                continue
            acc = Account(ssid, sec_iid, srv_iid, uri)
            try:
                acc.remote = self._remote_for(sec_iid, uri)
            except (ValueError, OSError) as e:  # unsupported scheme or mode, bad credentials
                self.log("account-skipped", "ssid %d: %s" % (ssid, e))
                continue
            binding = self._srv(acc, _SRV_BINDING, "U") or "U"
            queue = self.queue or "Q" in binding
            binding = binding.replace("Q", "") or "U"
            retry = self.retry_override or RetryPolicy(
                self._srv(acc, _SRV_RETRY_COUNT, 5), self._srv(acc, _SRV_RETRY_TIMER, 60),
                self._srv(acc, _SRV_SEQ_DELAY, 86400), self._srv(acc, _SRV_SEQ_COUNT, 1))
            acc.rd = RdClient(self.name, self._srv(acc, _SRV_LIFETIME, 86400), self._links,
                              binding=binding, queue=queue, retry=retry,
                              initial_delay_s=self._srv(acc, _SRV_INITIAL_DELAY, 0) or 0,
                              bootstrap_on_failure=self._srv(acc, _SRV_BS_ON_FAILURE, True),
                              on_event=self.log, legacy_queue=self.legacy_queue)
            if queue:
                from lwm2m.queue_mode import QueueMode

                acc.queue = QueueMode(self.rx_window_ms, self.log)
            loc = None
            if resume and self.persist is not None:
                loc = self.persist.registration(ssid, _clock.time())
            if loc:
                self.log("resume", "/" + "/".join(loc))
                acc.rd.resume(loc, now)
            else:
                acc.rd.start(now)
            self.accounts.append(acc)

    def _start_bootstrap(self, now, why):
        bs_iid = bootstrap_account(self.registry)
        if bs_iid is None:
            self.log("no-bootstrap-account", why)
            return
        previous, self._sessions = self._sessions, []
        try:
            remote = self._remote_for(bs_iid, self.registry.get((_OID_SEC, bs_iid, 0)))
        except (ValueError, OSError) as e:
            # Nothing to bootstrap with: the accounts there are stay as they are.
            self._sessions = previous
            self.log("bootstrap-unusable", str(e))
            return
        self._end_sessions(previous)
        self.bs_remote = remote
        self.accounts = []
        from lwm2m.bootstrap import BootstrapClient

        if self._engine is not None:
            self._engine.remove_where(lambda o: True)
        self.bs = BootstrapClient(self.registry, self.name, on_event=self.log, modes=self.modes,
                                  on_commit=self._save_config)
        self.log("bootstrap-start", why)
        self.bs.start(now)

    def _remote_for(self, sec_iid, uri):
        """The Endpoint remote for a /0 instance's URI: the plain transport for coap://, a DTLS
        session made from the instance's credentials for coaps:// (the Endpoint must run on a
        coap.transport_mux.TransportMux for that)."""
        scheme, host, port = parse_uri(uri)
        if scheme == "coap":
            return self.ep.resolve(host, port)
        if scheme != "coaps":
            raise ValueError("%s not supported" % scheme)
        mux = self.ep.transport
        if not hasattr(mux, "route"):
            raise ValueError("coaps needs the client on a TransportMux")
        from lwm2m.security import dtls_params

        params = dtls_params(self.registry, sec_iid)
        from coap.transport_dtls import DtlsClientTransport

        session = DtlsClientTransport(host, port, log=self.log_fn, **params)
        self._sessions.append(session)
        return mux.route(session, host, port)

    def _end_sessions(self, sessions):
        """Ends DTLS sessions of a configuration no longer in use."""
        for session in sessions:
            self.ep.transport.remove(session)

    def _acc_by_remote(self, remote):
        for acc in self.accounts:
            if acc.remote == remote:
                return acc
        return None

    def _acc_by_ssid(self, ssid):
        for acc in self.accounts:
            if acc.ssid == ssid:
                return acc
        return None

    def _links(self):
        from lwm2m import linkformat

        try:
            return linkformat.registration(self.registry)
        finally:
            M.release_codecs()  # link format is needed again only when the objects change

    def _save_config(self):
        if self.persist is not None:
            self.persist.save_objects()

    def _save_registration(self, acc, loc):
        if self.persist is None:
            return
        lifetime = acc.rd.lifetime or 86400
        self.persist.save_registration(acc.ssid, loc, _clock.time() + lifetime)

    # --- the CoAP handler --------------------------------------------------------------------------

    def _handle(self, req, remote):
        now = _clock.ticks_ms()
        if self.bs is not None and remote == self.bs_remote:
            return self.bs.handle(req, now)
        if self._override is not None and self._override[0] == self._notifying:
            stored = self._override[1]
            return Message(N.ACK, N.CONTENT, 0, b"", [(N.CONTENT_FORMAT, stored[0])], stored[1])
        acc = self._acc_by_remote(remote)
        if acc is not None and acc.queue is not None and self._notifying is None:
            acc.queue.activity(now)  # a request came in (not a notification being built)
        self.dm.attrs = acc.attrs if acc is not None else self.anon_attrs
        resp = self.dm.handle(req, acc.ssid if acc is not None else None)
        if req.code == N.GET and req.opt(N.OBSERVE) == 0 and resp.code == N.CONTENT:
            resp.observe_key = P.fmt(P.from_segments(req.uri_path()))  # the key dm used
        return resp

    def _observe_cb(self, kind, key, paths, req, ssid):
        now = _clock.ticks_ms()
        if kind == "observe":
            if self._notifying == key:
                return  # the endpoint re-running the handler to build a notification
            o = self.engine.get(key)
            # Observe-Composite (FETCH) is tracked as one observation of path () over its list:
            # a change under any listed path notifies all of them, timed by the server's
            # default pmin/pmax (/1/x/2,3) and attributes set on the root, if any.
            path = paths[0] if req.code == N.GET else ()
            try:
                self.engine.add(key, path, self._attrs_for_path(ssid, path),
                                self._read_value(path), now, ssid,
                                None if req.code == N.GET else paths)
            except Exception as exc:
                from lwm2m.observe import ObserveLimit

                if not isinstance(exc, ObserveLimit):
                    raise
                raise M.Error(M.INTERNAL_SERVER_ERROR, str(exc))
            if o is None:
                self.log("observe", key)
        elif kind == "cancel":
            if self._engine is not None and self._engine.remove(key) is not None:
                self.log("observe-cancel", key)
        elif kind == "attrs":
            if self._engine is not None:
                self._engine.set_attrs(paths[0], lambda o: self._attrs_for_path(o.ctx, o.path), now)
            self._wake.set()

    def _attrs_for_path(self, ssid, path):
        acc = self._acc_by_ssid(ssid)
        defaults = {}
        store = self.anon_attrs
        if acc is not None:
            store = acc.attrs
            for name, rid in (("pmin", _SRV_PMIN), ("pmax", _SRV_PMAX)):
                v = self._srv(acc, rid)
                if v is not None:
                    defaults[name] = v
        return store.effective(path, defaults)

    def _read_value(self, path):
        if len(path) < 3:
            return None
        return self.registry.get(path)

    def _execute_cb(self, path, arg):
        if path[0] != _OID_SRV or len(path) != 3 or path[1] not in self._instances(_OID_SRV):
            return False
        acc = None
        for a in self.accounts:
            if a.srv_iid == path[1]:
                acc = a
        now = _clock.ticks_ms()
        rid = path[2]
        if rid == _SRV_UPDATE_TRIGGER and acc is not None:
            acc.rd.trigger_update(now)
        elif rid == _SRV_BS_TRIGGER:
            # Answer 2.04 first; the bootstrap starts from the driver.
            asyncio.create_task(self._later(lambda: self._start_bootstrap(_clock.ticks_ms(), "/1/x/9")))
        elif rid == _SRV_DISABLE and acc is not None:
            timeout = self._srv(acc, _SRV_DISABLE_TIMEOUT, _DEF_DISABLE_TIMEOUT_S)
            acc.rd.deregister(now)
            acc.disabled_until = _clock.ticks_add(now, min(timeout * 1000, MAX_DELAY_MS))
            self.log("disabled", "%d s" % timeout)
        else:
            return False
        self._wake.set()
        return True

    async def _later(self, fn):
        await asyncio.sleep_ms(50) if hasattr(asyncio, "sleep_ms") else asyncio.sleep(0.05)
        fn()
        self._wake.set()

    # --- change listener and notifications -------------------------------------------------------

    def _on_change(self, path):
        if self.bs is not None and self.bs.active():
            return  # bootstrap writes are not reported; Finish sets things up anew
        now = _clock.ticks_ms()
        if self._engine is not None:
            self._engine.changed(path, now)
        if path[0] in (_OID_SEC, _OID_SRV):
            self._dirty_config = True
        if len(path) == 2:
            deleted = path[1] not in self._instances(path[0])
            for acc in self.accounts:
                if deleted:
                    acc.attrs.remove_under(path)
                acc.rd.links_changed(now)
        elif path[0] == _OID_SRV and len(path) == 3:
            for acc in self.accounts:
                if acc.srv_iid != path[1]:
                    continue
                if path[2] == _SRV_LIFETIME:
                    acc.rd.set_lifetime(self._srv(acc, _SRV_LIFETIME, 0), now)
                elif path[2] == _SRV_BINDING:
                    b = self._srv(acc, _SRV_BINDING, "U") or "U"
                    acc.rd.set_binding(b.replace("Q", "") or "U", self.queue or "Q" in b, now)
        self._wake.set()

    def _instances(self, oid):
        obj = self.registry.get_object(oid)
        return obj.instances if obj is not None else {}

    def _reachable(self, acc):
        if acc is None:
            return True  # an anonymous observer (e.g. a second CoAP peer) is always tried
        if acc.rd is None or not acc.rd.is_registered() or acc.disabled_until is not None:
            return False
        return acc.queue is None or acc.queue.awake

    def _deliver(self, key, now):
        o = self.engine.get(key)
        acc = self._acc_by_ssid(o.ctx)
        if self._reachable(acc):
            self._notify(key, now)
            return
        # Offline, disabled or asleep: store (/1/x/6) or drop; wake a sleeping client.
        if self._srv(acc, _SRV_STORING, True):
            for obs in self.ep.observers.for_key(key):
                self._notifying = key
                try:
                    resp = self._handle(obs.request, obs.remote)
                finally:
                    self._notifying = None
                if resp.code == N.CONTENT:
                    if acc.store is None:
                        from lwm2m.observe import NotificationStore

                        acc.store = NotificationStore()
                    acc.store.put(key, resp.content_format(), resp.payload)
                    self.log("notify-stored", "%s (%d held)" % (key, len(acc.store)))
        self.engine.notified(key, self._read_value(o.path), now)
        if acc.rd is not None and acc.rd.is_registered() and acc.queue is not None and not acc.queue.awake:
            acc.rd.trigger_update(now)

    def _wants_con(self, o):
        """CON when the `con` attribute (1.2) or Default Notification Mode /1/x/26 says so."""
        acc = self._acc_by_ssid(o.ctx)
        con = self._attrs_for_path(o.ctx, o.path).get("con")
        if con is None and acc is not None:
            con = self._srv(acc, _SRV_NOTIFY_MODE, 0)
        return con == 1

    def _notify(self, key, now):
        o = self.engine.get(key)
        self._notifying = key
        try:
            count = self.ep.notify(key, self._wants_con(o))
        finally:
            self._notifying = None
        if count == 0:
            self.engine.remove(key)  # the observer went away (RST, timeout, cancel)
            self.log("observe-gone", key)
            return
        self.engine.notified(key, self._read_value(o.path), now)
        self.log("notify", key)

    def _flush(self, acc, now):
        items = acc.store.drain() if acc.store is not None else ()
        for key, ct, payload in items:
            self._override = (key, (ct, payload))
            self._notifying = key
            try:
                self.ep.notify(key, True)  # held back once already: make sure it arrives
            finally:
                self._notifying = None
                self._override = None
        if items:
            self.log("notify-flushed", "%d" % len(items))

    def _drop_observations(self, acc):
        """A new registration ends that server's observations (Core §6.2.1: the server forgets
        them), so nothing is sent to tokens it no longer knows."""
        if self._engine is not None:
            self._engine.remove_where(lambda o: o.ctx == acc.ssid)
        self.ep.drop_observers(acc.remote)
        if acc.store is not None:
            acc.store.drain()

    # --- Send ----------------------------------------------------------------------------------

    async def send(self, paths, ssid=None):
        """LwM2M Send of `paths` to the first registered server (or `ssid`); returns the code."""
        from lwm2m.send import SendMuted, build_send

        for acc in self.accounts:
            if (ssid is None or acc.ssid == ssid) and acc.rd.is_registered():
                try:
                    req = build_send(self.registry, paths, acc.ssid, _clock.time())
                except SendMuted as exc:
                    self.log("send-muted", str(exc))
                    return None
                if acc.queue is not None:
                    acc.queue.activity(_clock.ticks_ms())
                resp = await self.ep.request(acc.remote, self._message(req))
                self.log("send", "%s -> %s" % (",".join(P.fmt(p) for p in paths), N.code_str(resp.code)))
                return resp.code
        self.log("send-offline", "")
        return None


async def _wait_event(event, ms):
    """Wait for `event` at most `ms` milliseconds. On MicroPython a helper task cuts the sleep
    short when the event fires (asyncio.wait_for_ms would load asyncio.funcs for this alone)."""
    if not hasattr(asyncio, "sleep_ms"):
        try:
            await asyncio.wait_for(event.wait(), ms / 1000)
        except asyncio.TimeoutError:
            pass
        return
    if event.is_set():
        return
    waker = asyncio.create_task(_cut_short(event, asyncio.current_task()))
    try:
        await asyncio.sleep_ms(ms)
    except asyncio.CancelledError:
        if not waker.done():
            raise  # cancelled from outside, not by the event
    finally:
        waker.cancel()


async def _cut_short(event, task):
    await event.wait()
    task.cancel()


def _free_iid(obj):
    iid = 0
    while iid in obj.instances:
        iid += 1
    return iid


# --- command line (Unix port) ----------------------------------------------------------------------

def make_registry(binding="UQ", reboot=None):
    """Objects 0, 1, 3, 4 -- what every client of ours carries."""
    from objects import obj_connmon, obj_device, obj_security, obj_server

    reg = M.Registry()
    obj_security.create(reg)
    obj_server.create(reg)
    obj_device.create(reg, binding=binding, reboot=reboot, manufacturer="cellfw", model="unix",
                      serial="0001", firmware_version="0.1")
    obj_connmon.create(reg)
    return reg


_USAGE = ("usage: micropython -m lwm2m.client --server URI --ep NAME [--lifetime S] "
          "[--bootstrap URI] [--state DIR] [--queue] [--legacy-queue] [--port N] "
          "[--rx-window MS] [--retry COUNT,TIMER_S,SEQ_DELAY_S,SEQ_COUNT] "
          "[--cert DER --key DER --server-cert DER [--cert-usage 0|2|3] [--sni NAME]] [--dtls]")


def parse_args(argv):
    opts = {"server": None, "ep": None, "lifetime": 60, "bootstrap": None, "state": None,
            "queue": False, "legacy-queue": False, "port": 0, "rx-window": N.MAX_TRANSMIT_WAIT_MS,
            "retry": None, "cert": None, "key": None, "server-cert": None, "cert-usage": None,
            "sni": None, "dtls": False}
    i = 0
    while i < len(argv):
        a = argv[i]
        if not a.startswith("--") or a[2:] not in opts:
            raise ValueError("unknown argument %r" % a)
        name = a[2:]
        if isinstance(opts[name], bool):
            opts[name] = True
            i += 1
            continue
        if i + 1 >= len(argv):
            raise ValueError("%s needs a value" % a)
        value = argv[i + 1]
        if name in ("lifetime", "port", "rx-window", "cert-usage"):
            value = int(value)
        elif name == "retry":
            value = RetryPolicy(*[int(x) for x in value.split(",")])
        opts[name] = value
        i += 2
    if not opts["ep"] or not (opts["server"] or opts["bootstrap"]):
        raise ValueError("--ep and --server or --bootstrap are required")
    given = [n for n in ("cert", "key", "server-cert") if opts[n]]
    if given and len(given) < 3:
        raise ValueError("--cert, --key and --server-cert go together")
    if any((u or "").startswith("coaps:") for u in (opts["server"], opts["bootstrap"])):
        if not given:
            raise ValueError("a coaps:// URI needs --cert, --key and --server-cert")
        opts["dtls"] = True
    return opts


async def _commands(client):
    """Line commands on stdin, so a test or a person can drive the device."""
    if hasattr(asyncio, "core"):
        read = _stdin_line  # MicroPython: wait on the I/O queue; asyncio.stream stays unloaded
    else:
        read = asyncio.StreamReader(sys.stdin).readline
    while True:
        line = await read()
        if not line:
            return
        words = (line if isinstance(line, str) else line.decode()).split()
        if not words:
            continue
        try:
            await _command(client, words)
        except Exception as exc:  # a bad command line must not stop the device
            client.log("command-error", "%s: %r" % (words[0], exc))


def _stdin_line():
    # A generator, as MicroPython's own streams wait: yield the read request to the scheduler.
    yield asyncio.core._io_queue.queue_read(sys.stdin)
    return sys.stdin.readline()


async def _command(client, words):
    cmd = words[0]
    now = _clock.ticks_ms()
    if cmd == "quit":
        client.stop()
    elif cmd == "send":
        await client.send([P.parse(p) for p in words[1].split(",")])
    elif cmd == "set":
        path = P.parse(words[1])
        typ = client.registry.type_of(path)
        from lwm2m.fmt_text import parse_value

        client.registry.set(path, parse_value(" ".join(words[2:]), typ, words[1]))
        client.log("set", words[1])
    elif cmd == "update":
        for acc in client.accounts:
            acc.rd.trigger_update(now)
        client._wake.set()
    elif cmd == "deregister":
        for acc in client.accounts:
            acc.rd.deregister(now)
        client._wake.set()
    elif cmd == "mem":
        import gc

        gc.collect()
        client.log("mem", "alloc=%d free=%d" % (gc.mem_alloc(), gc.mem_free()))
    else:
        client.log("command-unknown", cmd)


def main(argv=None):
    from coap.transport_udp import UdpTransport

    argv = sys.argv[1:] if argv is None else argv
    try:
        opts = parse_args(argv)
    except ValueError as exc:
        print(_USAGE)
        print("error:", exc)
        sys.exit(2)
    store = None
    if opts["state"]:
        from hal.storage import Store

        store = Store(opts["state"])
    uri = opts["server"] or opts["bootstrap"]
    host = parse_uri(uri)[1]
    transport = UdpTransport("::" if ":" in host else "0.0.0.0", opts["port"])
    credentials = None
    if opts["cert"]:
        credentials = {"usage": opts["cert-usage"], "sni": opts["sni"]}
        for name, key in (("cert", "cert"), ("key", "key"), ("server-cert", "server_cert")):
            with open(opts[name], "rb") as f:
                credentials[key] = f.read()
    if opts["dtls"]:
        # coaps:// accounts (given here or written by a bootstrap server) need one DTLS
        # session per server beside the plain socket.
        from coap.transport_mux import TransportMux

        transport = TransportMux(transport, log=print)
    client = Client(make_registry(reboot=lambda: print("lwm2m reboot requested")), opts["ep"], transport, store=store, log=print,
                    queue=opts["queue"] or opts["legacy-queue"], legacy_queue=opts["legacy-queue"],
                    rx_window_ms=opts["rx-window"], retry=opts["retry"])
    client.configure(server_uri=opts["server"], bootstrap_uri=opts["bootstrap"],
                     lifetime=opts["lifetime"], credentials=credentials)
    client.log("start", "ep=%s" % opts["ep"])

    async def _main():
        cmd_task = asyncio.create_task(_commands(client))
        try:
            await client.run()
        finally:
            cmd_task.cancel()
        client.log("stopped", "")

    asyncio.run(_main())


if __name__ == "__main__":
    main()
