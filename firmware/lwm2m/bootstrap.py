"""LwM2M 1.1 Bootstrap interface, client side (OMA-TS-LightweightM2M_Core-V1_1 §5.2, §6.1.7), sans-I/O.

    bs = BootstrapClient(registry, "dev1", retry=RetryPolicy(...), on_event=print)
    bs.start(now)                        # client-initiated (also after /1/x/9 or a failed registration)
    req = bs.step(now)                   # an RdRequest "bootstrap-request": POST /bs?ep=..(&pct=..)
    bs.on_response(now, code) / bs.on_failure(now, reason)
    resp = bs.handle(request, now)       # the bootstrap server's Write/Delete/Discover/Read/Finish
    bs.state == BS_DONE                  # configuration committed; the runner registers next

Atomicity: when the session starts, the instances of every object are copied (a snapshot: a few
hundred bytes for /0 and /1). Bootstrap-Write/-Delete then work on the registry directly, but
nothing is persisted and no server is contacted until Bootstrap-Finish. Finish validates the result
-- at least one usable LwM2M server account: a non-bootstrap /0 instance with a URI, a Short Server
ID, a supported security mode, and a /1 instance with the same Short Server ID -- and then
commits (2.04, on_commit() persists). If the validation fails the snapshot is put back (4.06, the
old configuration stays); the same happens when the session fails or times out (no Finish within
the Bootstrap-Server Account Timeout /0/x/12, default EXCHANGE_LIFETIME).
"""

from micropython import const

from coap import numbers as N
from lwm2m import model as M
from lwm2m import path as P
from lwm2m.dm import decode_records, encode_records, error_response, response
from lwm2m.rd_client import (
    MAX_DELAY_MS, MODE_NOSEC, RdRequest, RetryPolicy, bootstrap_account, is_bootstrap_account, server_accounts)

from hal.clock import default as _clock

BS_IDLE = "idle"
BS_REQUEST_DUE = "request-due"
BS_REQUEST_SENT = "request-sent"
BS_WAIT_FINISH = "wait-finish"  # the server is writing; waiting for Bootstrap-Finish
BS_DONE = "done"
BS_FAILED = "failed"

_OID_SECURITY = const(0)
_RES_SEC_HOLD_OFF = const(11)
_RES_SEC_BS_TIMEOUT = const(12)


def _snapshot(registry):
    snap = []
    for obj in registry.objects():
        snap.append((obj, dict((iid, dict((k, dict(v) if isinstance(v, dict) else v)
                                          for k, v in vals.items()))
                               for iid, vals in obj.instances.items())))
    return snap


class BootstrapClient:
    def __init__(self, registry, endpoint, retry=None, on_event=None, on_commit=None,
                 pct=None, modes=(MODE_NOSEC,), finish_timeout_s=None):
        self.registry = registry
        self.endpoint = endpoint
        self.retry = retry or RetryPolicy()
        self.on_event = on_event
        self.on_commit = on_commit
        self.pct = pct
        self.modes = modes
        self.finish_timeout_s = finish_timeout_s
        self.state = BS_IDLE
        self._due = None
        self._attempt = 0
        self._sequence = 0
        self._snap = None
        self.last_result = None  # code of the last Bootstrap-Finish answer

    # --- session control ---------------------------------------------------------------------

    def start(self, now, hold_off=True):
        """Begin a client-initiated bootstrap (after Client Hold Off Time /0/x/11)."""
        self._attempt = 0
        self._sequence = 0
        delay = 0
        if hold_off:
            bs = bootstrap_account(self.registry)
            if bs is not None:
                delay = self.registry.get((_OID_SECURITY, bs, _RES_SEC_HOLD_OFF), 0) or 0
        self._set(BS_REQUEST_DUE, _clock.ticks_add(now, delay * 1000))

    def server_initiated(self, now):
        """The bootstrap server writes without a Bootstrap-Request (§5.2.3)."""
        self._begin(now)

    def active(self):
        return self.state in (BS_REQUEST_DUE, BS_REQUEST_SENT, BS_WAIT_FINISH)

    def next_time(self, now):
        return self._due

    def step(self, now):
        if self._due is None or _clock.ticks_diff(now, self._due) < 0:
            return None
        if self.state == BS_REQUEST_DUE:
            self._attempt += 1
            if self._attempt == 1:
                self._sequence += 1
            self._set(BS_REQUEST_SENT, None)
            query = ["ep=" + self.endpoint]
            if self.pct is not None:
                query.append("pct=%d" % self.pct)
            return RdRequest("bootstrap-request", N.POST, ["bs"], query)
        if self.state == BS_WAIT_FINISH:
            self._event("bootstrap-timeout", "no Bootstrap-Finish")
            self._rollback()
            self._attempt_failed(now, "no Bootstrap-Finish")
        return None

    def on_response(self, now, code):
        if self.state != BS_REQUEST_SENT:
            return
        if code == N.CHANGED:
            self._begin(now)
            self._event("bootstrap-accepted", "")
        else:
            self._attempt_failed(now, "bootstrap-request answered " + N.code_str(code))

    def on_failure(self, now, reason="timeout"):
        if self.state == BS_REQUEST_SENT:
            self._attempt_failed(now, reason)

    # --- requests from the bootstrap server ------------------------------------------------------

    def handle(self, req, now):
        try:
            return self._dispatch(req, now)
        except M.Error as exc:
            return error_response(exc)
        except (ValueError, TypeError, KeyError, IndexError, UnicodeError) as exc:
            return response(N.INTERNAL_SERVER_ERROR, ("%s: %s" % (type(exc).__name__, exc)).encode())

    def _dispatch(self, req, now):
        segs = req.uri_path()
        if req.code == N.POST and segs == ["bs"]:
            return self.finish(now)
        path = P.from_segments(segs)
        if self.state != BS_WAIT_FINISH:
            # A write without a prior Bootstrap-Request: server-initiated bootstrap.
            self._begin(now)
        else:
            self._touch(now)
        if req.code == N.PUT:
            if len(path) == 0 or len(path) == 4:
                raise M.Error(M.METHOD_NOT_ALLOWED, "bootstrap-write %s" % P.fmt(path))
            records = decode_records(self.registry, req.payload, path, req.content_format())
            if len(path) == 1:
                self._write_object(path, records)
            else:
                self.registry.write(path, records, replace=False, bootstrap=True)
            return response(N.CHANGED)
        if req.code == N.DELETE:
            self.delete(path)
            return response(N.DELETED)
        if req.code == N.GET:
            if req.opt(N.ACCEPT) == N.FMT_LINK_FORMAT:
                return response(N.CONTENT, self.discover(path), N.FMT_LINK_FORMAT)
            return self.read(path, req.opt(N.ACCEPT))
        raise M.Error(M.METHOD_NOT_ALLOWED, "bootstrap %s %s" % (N.code_str(req.code), P.fmt(path)))

    def _write_object(self, path, records):
        # An object-level Bootstrap-Write may carry several instances; write each transactionally.
        by_iid = {}
        for rec in records:
            if len(rec[0]) < 3:
                raise M.bad("record %s" % P.fmt(rec[0]))
            by_iid.setdefault(rec[0][1], []).append(rec)
        for iid in sorted(by_iid):
            self.registry.write((path[0], iid), by_iid[iid], replace=False, bootstrap=True)

    def delete(self, path):
        """Bootstrap-Delete (§5.2.7.5): never the Bootstrap-Server account nor /3."""
        if len(path) > 2:
            raise M.bad("bootstrap-delete %s" % P.fmt(path))
        if len(path) == 2:
            if path[0] == _OID_SECURITY and is_bootstrap_account(self.registry, path[1]):
                raise M.bad("bootstrap-delete of the bootstrap-server account")
            obj = self.registry.get_object(path[0])
            if obj is None or path[1] not in obj.instances:
                return  # deleting what is not there is not an error during bootstrap
            self.registry.delete(path, bootstrap=True)
            return
        objs = self.registry.objects()
        if path:
            obj = self.registry.get_object(path[0])
            if obj is None:
                raise M.Error(M.NOT_FOUND, "object %s" % P.fmt(path))
            objs = [obj]
        for obj in objs:
            if not obj.multiple and (not path or obj.mandatory):
                # "/" spares what describes the device itself (Device, Connectivity Monitoring:
                # single-instance objects a server could not recreate); an explicit /oid does
                # so only for mandatory ones.
                continue
            for iid in obj.iids():
                if obj.oid == _OID_SECURITY and is_bootstrap_account(self.registry, iid):
                    continue
                self.registry.delete((obj.oid, iid), bootstrap=True)

    def discover(self, path):
        """Bootstrap-Discover (§5.2.7.4): lwm2m version, instances, ssid/uri of server accounts."""
        if len(path) > 1:
            raise M.bad("bootstrap-discover %s" % P.fmt(path))
        if path and self.registry.get_object(path[0]) is None:
            raise M.Error(M.NOT_FOUND, "object %s" % P.fmt(path))
        from lwm2m import linkformat

        try:
            return linkformat.bootstrap_discover(self.registry, path[0] if path else None)
        finally:
            M.release_codecs()

    def read(self, path, accept):
        """Bootstrap-Read (§5.2.7.2): only the Server (1) and Access Control (2) objects."""
        if not path or path[0] not in (1, 2):
            raise M.Error(M.UNAUTHORIZED, "bootstrap-read %s" % P.fmt(path))
        records = self.registry.read(path, server=False)
        ct = accept if accept is not None else N.FMT_LWM2M_TLV
        if ct not in (N.FMT_LWM2M_TLV, N.FMT_SENML_JSON, N.FMT_SENML_CBOR, N.FMT_LWM2M_CBOR):
            raise M.Error(M.NOT_ACCEPTABLE, "accept %d" % ct)
        return response(N.CONTENT, encode_records(self.registry, records, path, ct), ct)

    def finish(self, now):
        """Bootstrap-Finish: validate, then commit or roll back (§5.2.7.6)."""
        if self.state != BS_WAIT_FINISH:
            self._begin(now)
        accounts = server_accounts(self.registry, self.modes)
        if not accounts:
            self._rollback()
            self.last_result = N.NOT_ACCEPTABLE
            self._event("bootstrap-rejected", "no usable server account")
            self._set(BS_FAILED, None)
            return response(N.NOT_ACCEPTABLE, b"no usable LwM2M server account")
        self._snap = None
        self.last_result = N.CHANGED
        self._set(BS_DONE, None)
        self._event("bootstrap-finished", "%d server account(s)" % len(accounts))
        if self.on_commit is not None:
            self.on_commit()
        return response(N.CHANGED)

    # --- internals -----------------------------------------------------------------------------

    def _begin(self, now):
        if self._snap is None:
            self._snap = _snapshot(self.registry)
        self._set(BS_WAIT_FINISH, None)
        self._touch(now)

    def _touch(self, now):
        timeout = self.finish_timeout_s
        if timeout is None:
            bs = bootstrap_account(self.registry)
            timeout = self.registry.get((0, bs, _RES_SEC_BS_TIMEOUT), 0) if bs is not None else 0
            if not timeout:
                timeout = N.EXCHANGE_LIFETIME_MS // 1000
        self._due = _clock.ticks_add(now, min(timeout * 1000, MAX_DELAY_MS))

    def _rollback(self):
        if self._snap is None:
            return
        for obj, instances in self._snap:
            obj.instances = instances
        self._snap = None
        self._event("bootstrap-rollback", "previous configuration restored")

    def _attempt_failed(self, now, reason):
        self._event("bootstrap-failed", "attempt %d: %s" % (self._attempt, reason))
        r = self.retry
        if self._attempt < r.count:
            self._set(BS_REQUEST_DUE, _clock.ticks_add(now, r.attempt_delay_ms(self._attempt)))
            return
        self._attempt = 0
        if self._sequence < r.seq_count:
            self._set(BS_REQUEST_DUE, _clock.ticks_add(now, min(r.seq_delay_s * 1000, MAX_DELAY_MS)))
            return
        self._set(BS_FAILED, None)

    def _set(self, state, due):
        self.state = state
        self._due = due

    def _event(self, name, detail):
        if self.on_event is not None:
            self.on_event(name, detail)
