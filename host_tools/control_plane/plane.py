"""The control plane (CPython, asyncio): one process hosting the LwM2M server and bootstrap
server, the eIM (ESipa over HTTPS, and over LwM2M object 3443 through EimLwm2mRelay), and the
logic that drives a device's profile switch across both layers and judges its outcome.

    cp = await ControlPlane.start(run_dir)             # loopback, free ports, SQLite in run_dir
    cp.lwm2m_uri, cp.bootstrap_uri, cp.eim_url, cp.ca_der_path
    await cp.wait_registered(ep)
    out = await cp.switch(ep, eid, iccid, via="https" | "lwm2m", timeout=60)
    out.outcome -> "committed" | "rolled_back" | "rejected" | "failed" | "timeout"
    cp.audit(ep) -> the device's audit trail (entries it sent with LwM2M Send of /20/0/4014)
    obs = cp.observe(ep, "/4/0/2")                    # kept alive across switches (reobserve)
    await cp.close()

How a switch is judged: the eIM queues an enable PSMO with rollbackFlag for the EID; the device
governs it (ops/entry_change.py) and reports each step upstream; the outcome is the device's
own verdict (its audit "committed"/"rolled_back"/...), cross-checked against what the server
saw: a registration or Update after the switch and telemetry Sends."""

import asyncio
import json
import os
import shutil
import ssl
import time

from host_tools import pki as _pki
from host_tools.eim import crypto
from host_tools.eim.core import EimCore
from host_tools.eim.http_server import EsipaHttpServer
from host_tools.eim.lwm2m_relay import EimLwm2mRelay
from host_tools.eim.store import Store as EimStore
from host_tools.lwm2m_server import BootstrapServer, LwM2MServer, simple_config

from . import tls

EIM_ID = "test-eim"
AUDIT_PATH = "/20/0/4014"
OUTCOMES = ("committed", "rolled_back", "rejected", "failed")
_SRV_MUTE_SEND = 23


class SwitchOutcome:
    def __init__(self, outcome, change=None, entries=(), package=None, seconds=0.0,
                 server_events=()):
        self.outcome = outcome
        self.change = change
        self.entries = list(entries)
        self.package = package
        self.seconds = seconds
        self.server_events = list(server_events)
        self.reobserved = {}    # path -> first Result of an observation made again

    def server_confirmed(self):
        """What the server saw agrees with a commit: the device registered or updated after
        the switch was queued, and Sent data other than its audit."""
        kinds = [e[1] for e in self.server_events]
        sends = [e for e in self.server_events if e[1] == "send" and e[3] and "/4/" in e[3]]
        return ("updated" in kinds or "registered" in kinds) and bool(sends)

    def steps(self):
        return [e["step"] for e in self.entries]

    def __repr__(self):
        return "SwitchOutcome(%s change=%s steps=%s %.1fs)" % (
            self.outcome, self.change, ",".join(self.steps()), self.seconds)


class ControlPlane:
    def __init__(self):
        self.server = None
        self.bootstrap = None
        self.eim = None
        self.http = None
        self.relay = None
        self.events = []        # (monotonic time, kind, endpoint, detail summary)
        self.observations = {}  # endpoint -> {path: Observation} made through observe()
        self._audit = {}        # endpoint -> [entries]
        self._changed = asyncio.Event()

    @classmethod
    async def start(cls, run_dir, lifetime=30, eid=_pki.DEFAULT_EID, mute_send=None):
        """Servers on 127.0.0.1 with ports chosen by the kernel; state under run_dir.
        `mute_send`: /1/0/23 in the bootstrap config (None: not written; the device then
        applies its own policy)."""
        self = cls()
        try:
            await self._start(run_dir, lifetime, eid, mute_send)
        except BaseException:
            await self.close()      # what did start is stopped again
            raise
        return self

    async def _start(self, run_dir, lifetime, eid, mute_send):
        os.makedirs(run_dir, exist_ok=True)
        self.pki_dir = os.path.join(run_dir, "pki")
        if not os.path.isdir(self.pki_dir):
            # The card trusts and signs with the default test PKI; the eIM must use its keys.
            shutil.copytree(_pki.make().directory, self.pki_dir)
        self.ca_der_path = os.path.join(self.pki_dir, "tls_root.der")
        if not os.path.exists(self.ca_der_path):
            tls.make(self.pki_dir)
        self.server = await LwM2MServer.start(host="127.0.0.1", port=0,
                                              db=os.path.join(run_dir, "lwm2m.sqlite"),
                                              timeout=15.0)
        self.server.add_listener(self._on_event)
        self.lwm2m_uri = "coap://127.0.0.1:%d" % self.server.port
        config = simple_config(self.lwm2m_uri, lifetime=lifetime)
        if mute_send is not None:
            config["/1/0"][_SRV_MUTE_SEND] = mute_send
        self.bootstrap = await BootstrapServer.start(host="127.0.0.1", port=0,
                                                     db=os.path.join(run_dir, "bs.sqlite"),
                                                     configs={"*": config})
        self.bootstrap_uri = "coap://127.0.0.1:%d" % self.bootstrap.port
        key = crypto.load_private_key(os.path.join(self.pki_dir, "eim.key"))
        self.eim = EimCore(EIM_ID, key, EimStore(os.path.join(run_dir, "eim.sqlite")))
        self.eim.register_euicc(eid, euicc_cert=os.path.join(self.pki_dir, "euicc_%s.pem" % eid),
                                association_token=1)
        try:
            from host_tools.eim.smdp_adapter import make_eim_adapter

            self.eim.smdp = make_eim_adapter(self.pki_dir)
        except Exception:  # noqa: BLE001 - the switch flows do not need the SM-DP+
            self.eim.smdp = None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(self.pki_dir, "eim_tls.pem"),
                            os.path.join(self.pki_dir, "eim_tls.key"))
        self.http = await EsipaHttpServer(self.eim, "127.0.0.1", 0, ctx).start()
        self.eim_url = "https://127.0.0.1:%d" % self.http.port
        self.relay = EimLwm2mRelay(self.eim, self.server)

    async def close(self):
        for part in (self.relay, self.http):
            if part is not None:
                try:
                    await part.close()
                except Exception:  # noqa: BLE001 - closing anyway
                    pass
        for srv in (self.server, self.bootstrap):
            if srv is not None:
                await srv.stop()

    # --- what the server sees ---------------------------------------------------------------------
    def _on_event(self, kind, endpoint, detail):
        summary = None
        if kind == "send" and isinstance(detail, dict):
            raw = detail.get(AUDIT_PATH)
            if raw:
                try:
                    entry = json.loads(bytes(raw).decode())
                    self._audit.setdefault(endpoint, []).append(entry)
                    summary = entry.get("step")
                except ValueError:
                    summary = "bad audit entry"
            else:
                summary = ",".join(sorted(detail))
        self.events.append((time.monotonic(), kind, endpoint, summary))
        self._changed.set()

    def audit(self, endpoint):
        """The audit trail the device reported, deduplicated by sequence number."""
        seen = {}
        for e in self._audit.get(endpoint, ()):
            seen[e.get("seq")] = e
        return [seen[k] for k in sorted(seen, key=lambda s: (s is None, s or 0))]

    def events_since(self, t0, endpoint=None):
        return [e for e in self.events if e[0] >= t0 and (endpoint is None or e[2] == endpoint)]

    async def wait(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(left, 0.5))
            except asyncio.TimeoutError:
                pass
        return True

    async def wait_registered(self, endpoint, timeout=30):
        return await self.server.wait_registered(endpoint, timeout)

    # --- monitoring that follows the device -----------------------------------------------------
    def observe(self, endpoint, path):
        """An Observe the control plane keeps alive across network-entry changes."""
        obs = self.server.observe(endpoint, path)
        self.observations.setdefault(endpoint, {})[path] = obs
        return obs

    def _address(self, endpoint):
        reg = self.server.registration(endpoint)
        return reg.remote_uri if reg is not None else None

    async def reobserve(self, endpoint):
        """Observe again what observe() set up: after a switch the device speaks from a new
        address, and notifications of an observation made from the old one are not accepted.
        Returns {path: first Result}."""
        out = {}
        for path, old in list(self.observations.get(endpoint, {}).items()):
            try:
                await old.cancel(explicit=True, timeout=5)
            except Exception:  # noqa: BLE001 - the old token may be unknown to the device already
                pass
            new = self.server.observe(endpoint, path)
            self.observations[endpoint][path] = new
            out[path] = await new.established()
        return out

    # --- driving a switch -------------------------------------------------------------------------
    def queue_enable(self, eid, iccid, rollback=True):
        return self.eim.queue_body(eid, {"psmo": [{"op": "enable", "iccid": iccid,
                                                   "rollback": rollback}]})

    async def attach_3443(self, endpoint, eid=None):
        """Serve `endpoint`'s IPAd over object 3443 (its Sends carry the IPA messages)."""
        if endpoint not in self.relay.endpoints:
            await self.relay.attach(endpoint, eid, observe=False)

    async def switch(self, endpoint, eid, iccid, via="https", timeout=60.0):
        """Queue an enable with rollback for `eid` and follow it to the device's verdict."""
        t0 = time.monotonic()
        address = self._address(endpoint)
        before = {e.get("seq") for e in self.audit(endpoint)}
        if via == "lwm2m":
            await self.attach_3443(endpoint, eid)
        package = self.queue_enable(eid, iccid)
        change = [None]

        def finished():
            for e in self.audit(endpoint):
                if e.get("seq") in before:
                    continue
                if e.get("step") == "issued" and e.get("target") == iccid and change[0] is None:
                    change[0] = e.get("change")
                if change[0] is not None and e.get("change") == change[0] and e.get("step") in OUTCOMES:
                    return True
            return False

        ok = await self.wait(finished, timeout)
        entries = [e for e in self.audit(endpoint)
                   if e.get("seq") not in before and e.get("change") == change[0]]
        outcome = "timeout"
        for e in entries:
            if e.get("step") in OUTCOMES and e.get("change") == change[0]:
                outcome = e["step"]
        result = SwitchOutcome(outcome if ok else "timeout", change[0], entries, package,
                               time.monotonic() - t0, self.events_since(t0, endpoint))
        if ok and self.observations.get(endpoint) and self._address(endpoint) != address:
            result.reobserved = await self.reobserve(endpoint)
        return result

    def package(self, eid, package_id):
        for p in self.eim.package_list(eid):
            if p["id"] == package_id:
                return p
        return None
