"""The device application on the Unix port: modem, eUICC, IPAd, LwM2M client and the operating
loop in one asyncio program.

    micropython -m ops --modem tcp:127.0.0.1:PORT --dialect quectel_bg95 \\
        --server coap://127.0.0.1:5683 | --bootstrap coap://127.0.0.1:5783 --ep NAME \\
        --eim https://127.0.0.1:PORT --ca ROOT.der --state DIR [--esipa https|lwm2m] \\
        [--proof-window S] [--enable-timeout S] [--poll-ms MIN,MAX] [--lifetime S] [--apn APN]
        [--connmon-s S]   (/4 re-read from the modem every S seconds; 0: only at attachment)

LwM2M runs over the modem's UDP socket (socket-over-AT); ESipa over HTTPS uses the host's TCP
stack (as a board with PPP/lwIP would), or object 3443 over LwM2M with --esipa lwm2m.
One line per event on stdout, prefixed "device:" (the layers' own events keep their words:
"device: lwm2m registered ...", "device: ipa poll ...", "device: ops audit #N <step> ...").
stdin: `status`, `mem`, `fault reregister` (the next attachment registers anew, so the server forgets
its observations: management context lost), `fault none`, `update`, `quit`."""

import json
import sys

import asyncio
from collections import deque

from micropython import const

from hal.clock import default as _clock
from hal.storage import Store
from ops import context as CTX
from ops import entry_change as EC
from ops import facts as F
from ops.loop import GovernedIpad, OpsLoop

ISDR_AID = b"\xA0\x00\x00\x05\x59\x10\x10\xFF\xFF\xFF\xFF\x89\x00\x00\x01\x00"
_ATTACH_TIMEOUT_MS = const(30000)
_REFRESH_TIMEOUT_MS = const(45000)
_CHANGED = const(0x44)
_OID_SRV = const(1)
_SRV_MUTE_SEND = const(23)
_AUDIT_BACKLOG = const(16)
_ESIPA_SEND_MS = const(8000)
_TELEMETRY_TRIES = const(4)
_TELEMETRY_RETRY_MS = const(500)  # doubled per try: 0.5 + 1 + 2 s, well inside a proof window
_TELEMETRY = ((4, 0, 2), (4, 0, 8))
_AUDIT_SENT_KEY = "audit_sent"
_AUDIT_PATH = (20, 0, 4014)       # /20/0 Event Log, LogData (objects/obj_event_log.py)


def _say(text):
    print("device: " + text)


def parse_args(argv):
    opts = {"modem": None, "dialect": "quectel_bg95", "server": None, "bootstrap": None,
            "ep": None, "eim": None, "ca": None, "state": "ops_state", "esipa": "https",
            "proof-window": "60", "enable-timeout": "60", "poll-ms": "2000,8000",
            "lifetime": "60", "apn": "iot", "sni": None, "connmon-s": "30"}
    i = 0
    while i < len(argv):
        key = argv[i]
        if not key.startswith("--") or key[2:] not in opts or i + 1 >= len(argv):
            raise ValueError("bad argument %r" % key)
        opts[key[2:]] = argv[i + 1]
        i += 2
    for need in ("modem", "ep"):
        if not opts[need]:
            raise ValueError("--%s is required" % need)
    if not (opts["server"] or opts["bootstrap"]):
        raise ValueError("--server or --bootstrap is required")
    if opts["esipa"] not in ("https", "lwm2m"):
        raise ValueError("--esipa must be https or lwm2m")
    if opts["esipa"] == "https" and not opts["eim"]:
        raise ValueError("--eim URL is required with --esipa https")
    return opts


class ModemTransport:
    """coap transport over the modem's UDP socket that survives a REFRESH: while detached,
    datagrams are dropped (CoAP retransmits) and the receiver waits instead of polling AT."""

    def __init__(self, inner):
        self.inner = inner
        self.max_datagram = inner.max_datagram
        self._up = asyncio.Event()
        self._up.set()
        self.dropped = 0

    def down(self):
        self._up.clear()

    def up(self):
        # The modem dropped its sockets with the attachment: the next use opens a fresh one.
        for s in self.inner.sock.d.sockets.values():
            s.lost = True
        self.inner.sock.lost = True
        self._up.set()

    def resolve(self, host, port):
        return self.inner.resolve(host, port)

    def describe(self, remote):
        return self.inner.describe(remote)

    def sendto(self, data, remote):
        if not self._up.is_set():
            self.dropped += 1
            return
        self.inner.sendto(data, remote)

    async def recvfrom(self, buf):
        while True:
            await self._up.wait()
            try:
                return await self.inner.recvfrom(buf)
            except OSError:
                if self._up.is_set():
                    raise

    def close(self):
        self.inner.close()


class Device:
    def __init__(self, o):
        self.o = o
        self.d = None
        self.client = None
        self.ipad = None
        self.ops = None
        self.tracker = F.FactTracker()
        self.registry = None
        self.transport = None
        self.fault = None
        self.attached_events = 0       # dialect.sim_events handled by the watcher
        self._audit = deque((), _AUDIT_BACKLOG)
        self._audit_ev = asyncio.Event()
        self._stop = asyncio.Event()
        self.tasks = []
        self.failed = None

    # --- bring-up ------------------------------------------------------------------------------
    async def start(self):
        o = self.o
        from modem.factory import open_dialect
        from modem.uicc import Uicc

        state = o["state"]
        _mkdirs(state)
        self.d = d = await open_dialect(o["dialect"], o["modem"])
        ip = await d.attach(o["apn"], _ATTACH_TIMEOUT_MS)
        iccid = await d.iccid()
        self.attached_events = d.sim_events
        _say("modem attached iccid=%s ip=%s" % (iccid, ip))
        uicc = Uicc(d.at, d.UICC_QUIRKS, d)

        async def open_channel():
            return await uicc.open(ISDR_AID)

        from modem.socket_at import AtUdpTransport

        self.transport = ModemTransport(await AtUdpTransport.open(d))
        self._build_lwm2m(Store(state + "/lwm2m"))
        self.ops_store = Store(state + "/ops")
        self.ops = OpsLoop(self.ops_store, log=self._ops_log,
                           proof_window_s=int(o["proof-window"]),
                           enable_timeout_s=int(o["enable-timeout"]))
        # Entries a reset kept from going upstream go first, in order.
        sent = self.ops_store.get_json(_AUDIT_SENT_KEY, 0)
        for entry in self.ops.ec.record["audit"]:
            if entry["seq"] > sent:
                self._report(entry)
        self.ops.report = self._report
        self.ops.context = self._context
        self.ops.on_done = self._done
        self._build_ipad(open_channel, state, uicc.max_segment)
        await self.ipad.start()
        d.eid = self.ipad.eid
        _say("eid %s" % self.ipad.eid)
        self.ops.enable = self._enable_after_reset
        self.ops.rollback = self._rollback
        await self.ops.start(iccid)
        self._post(self.tracker.attached(iccid))
        await self._connmon()

    def _build_lwm2m(self, store):
        from coap.numbers import MAX_TRANSMIT_WAIT_MS
        from lwm2m.client import Client, make_registry
        from lwm2m.rd_client import RetryPolicy
        from objects import obj_esim_iot, obj_event_log

        reg = make_registry(binding="U", reboot=lambda: _say("reboot requested (ignored)"))
        obj_esim_iot.create(reg)
        self.event_log = obj_event_log.create(reg)
        self.registry = reg
        self.client = Client(reg, self.o["ep"], self.transport, store=store, log=self._lwm2m_log,
                             rx_window_ms=MAX_TRANSMIT_WAIT_MS,
                             retry=RetryPolicy(5, 2, 10, 1000))

    def _build_ipad(self, open_channel, state, max_segment):
        from ipa import procedures
        from ipa.state import IpaState

        lo, hi = [int(x) for x in self.o["poll-ms"].split(",")]
        # The IPAd's own rollback (on eIM loss) stays out of the way: EntryChange decides.
        ipa = procedures.Ipa(IpaState(store=Store(state + "/ipa")), backoff_min_ms=lo,
                             backoff_max_ms=hi, rollback_after_fails=1 << 30)
        if self.o["esipa"] == "https":
            from ipa import esipa_https

            ca = _read(self.o["ca"]) if self.o["ca"] else None
            binding = esipa_https.EsipaHttps(self.o["eim"], cadata=ca,
                                             server_hostname=self.o["sni"])
        else:
            from ipa import esipa_lwm2m

            binding = esipa_lwm2m.EsipaLwm2m(self.registry.get_object(3443), send=self._send_3443,
                                             answer_timeout_ms=_ESIPA_SEND_MS)
        self.ipad = GovernedIpad(self.ops, ipa, open_channel, binding,
                                 refresh=self._refresh_hook(), log=self._ipa_log, poll_floor_ms=lo,
                                 max_segment=max_segment)

    async def _send_3443(self):
        # Bounded like the binding's answer wait: on a network without route the CoAP
        # retransmissions would hold the card lock (and a due rollback) for ~93 s.
        try:
            code = await asyncio.wait_for_ms(self._send([(3443, 0, 3)]), _ESIPA_SEND_MS)
        except asyncio.TimeoutError:
            return False
        return code == _CHANGED

    async def run(self):
        o = self.o
        c = self.client
        c.configure(server_uri=o["server"], bootstrap_uri=o["bootstrap"],
                    lifetime=int(o["lifetime"]))
        self._unmute()
        spawn = self._spawn
        spawn(c.run(), "lwm2m")
        spawn(self.ops.run(), "ops")
        spawn(self._watch(), "network")
        spawn(self._reporter(), "audit")
        spawn(self._commands())
        spawn(self._radio(int(o["connmon-s"])), "radio")
        if o["esipa"] == "lwm2m":
            await self._until_registered()
        spawn(self.ipad.run(), "ipad")
        _say("running esipa=%s ep=%s" % (o["esipa"], o["ep"]))
        await self._stop.wait()
        await self.shutdown()

    async def _until_registered(self):
        while not self.tracker.registered() and not self._stop.is_set():
            await asyncio.sleep_ms(100)

    def _spawn(self, coro, name=None):
        """A task of the application; one named is vital: if it dies, the device stops with a
        non-zero exit (a board would reboot) instead of running on half alive."""
        self.tasks.append(asyncio.create_task(self._guard(coro, name)))

    async def _guard(self, coro, name):
        try:
            await coro
            self._forget_task()
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - reported, then the device stops
            sys.print_exception(e)
            _say("task %s failed: %r" % (name or "helper", e))
            if name is not None:
                self.failed = name
                self._stop.set()

    def _forget_task(self):
        # One task per registration proves it; finished ones must not pile up.
        t = asyncio.current_task()
        if t in self.tasks:
            self.tasks.remove(t)

    async def shutdown(self):
        self.ipad.stop()
        self.ops.stop()
        self.client.stop()
        await asyncio.sleep_ms(300)
        for t in self.tasks:
            t.cancel()
        try:
            await self.ipad.close()
        except Exception:  # noqa: BLE001 - shutting down anyway
            pass
        self.d.deinit()
        _say("stopped")

    # --- network: REFRESH, re-attach, facts -----------------------------------------------------
    async def _watch(self):
        d = self.d
        sim = asyncio.Event()
        d.sim_listeners.append(sim.set)     # SIM status / REFRESH URC, modem reboot
        while True:
            if d.sim_events == self.attached_events:
                sim.clear()
                try:
                    # the poll only covers a URC that came between the test and the clear
                    await asyncio.wait_for_ms(sim.wait(), 1000)
                except asyncio.TimeoutError:
                    pass
                continue
            seen = d.sim_events
            self.transport.down()
            self.tracker.detached()
            _say("detached (SIM REFRESH)")
            try:
                ip = await d.attach(self.o["apn"], _ATTACH_TIMEOUT_MS)
                iccid = await d.iccid()
            except Exception as e:  # noqa: BLE001 - try again; the deadline decides
                _say("attach failed %r" % (e,))
                await asyncio.sleep_ms(500)
                continue
            if d.sim_events != seen:
                continue        # another REFRESH came meanwhile
            self.attached_events = seen
            self.transport.up()
            _say("attached iccid=%s ip=%s" % (iccid, ip))
            self._post(self.tracker.attached(iccid))
            self.ops.post("adopt", iccid)
            self._resend_now()
            await self._connmon()
            self._reregister()

    def _resend_now(self):
        """CONs still unacknowledged went into the old network (or none): send them again now
        rather than at their back-off time, so an Update in flight proves the new attachment
        within seconds, not after a 16-32 s wait. Reaches into coap.msglayer; a public
        Endpoint.link_changed() should do this."""
        from coap.numbers import MAX_RETRANSMIT

        ep = self.client.ep
        now = _clock.ticks_ms()
        for p in ep.ml.pending.values():
            if p.retries < MAX_RETRANSMIT:
                p.deadline = now
        ep._wake.set()

    def _refresh_hook(self):
        """Awaited by the IPAd after a profile switch: returns once the watcher re-attached."""
        d = self.d
        seen = [d.sim_events]

        async def refresh():
            for _ in range(_REFRESH_TIMEOUT_MS // 50):
                if d.sim_events != seen[0] and self.attached_events == d.sim_events:
                    break
                await asyncio.sleep_ms(50)
            seen[0] = d.sim_events

        return refresh

    def _reregister(self):
        now = _clock.ticks_ms()
        for acc in self.client.accounts:
            if self.fault == "reregister":
                acc.rd.reregister(now)
            else:
                acc.rd.trigger_update(now)
        if self.fault == "reregister":
            self.fault = None
            _say("fault: registering anew")
        self.client._wake.set()

    async def _radio(self, every_s):
        """/4 follows the modem: radio values read again every `every_s` (observers of
        /4/0/2 etc. are notified by the registry when a value changes)."""
        while every_s > 0:
            await asyncio.sleep(every_s)
            if self.tracker.iccid is not None:
                await self._connmon()

    async def _connmon(self):
        from modem import connmon_source

        try:
            values = await connmon_source.read(self.d)
            self.registry.get_object(4).update(**{k: v for k, v in values.items() if v is not None})
        except Exception as e:  # noqa: BLE001 - /4 keeps its last values
            _say("connmon read failed %r" % (e,))

    def _post(self, facts):
        for name, value in facts:
            self.ops.post_fact(name, value)

    def _lwm2m_log(self, line):
        print("device: " + line)
        if line.startswith("lwm2m bootstrap-done"):
            self._unmute()
        got = self.tracker.lwm2m(line)
        if got:
            self._post(got)
            self._spawn(self._prove())
            self._audit_ev.set()

    async def _prove(self):
        """After a registration on this attachment: context, then telemetry acknowledged."""
        self.ops.post_fact(EC.FACT_CONTEXT, self._context())
        # Right after a re-attach the server may not have taken in the device's new address when
        # the first Send arrives (4.03, or no answer). A few bounded retries keep that race from
        # turning into a proof timeout and a needless rollback.
        delay = _TELEMETRY_RETRY_MS
        for _ in range(_TELEMETRY_TRIES):
            code = await self._send(list(_TELEMETRY))
            if code == _CHANGED or self._stop.is_set() or not self.tracker.registered():
                break
            _say("telemetry not acknowledged (%s), again in %d ms" % (code, delay))
            await asyncio.sleep_ms(delay)
            delay *= 2
        self._post(self.tracker.sent(code))
        _say("telemetry %s" % ("acknowledged" if code == _CHANGED else "not acknowledged (%s)" % code))

    async def _send(self, paths):
        try:
            return await self.client.send(paths)
        except Exception as e:  # noqa: BLE001 - a timeout is an unacknowledged Send
            self.client.log("send-failed", repr(e))
            return None

    def _context(self):
        obs = [(k, (o.pmin, o.pmax, o.gt, o.lt, o.st))
               for k, o in self.client.engine.obs.items()]
        return CTX.digest(CTX.snapshot(self.registry, obs, self.ops.policy))

    def _unmute(self):
        """Telemetry and the audit go out with LwM2M Send. An absent Mute Send (/1/x/23) means
        muted (Core 1.1 E.2); this application's policy is to send unless a server set it true."""
        srv = self.registry.get_object(_OID_SRV)
        for iid in srv.instances:
            if srv.instances[iid].get(_SRV_MUTE_SEND) is None:
                self.registry.set((_OID_SRV, iid, _SRV_MUTE_SEND), False)

    # --- EntryChange hooks ------------------------------------------------------------------------
    async def _enable_after_reset(self, iccid):
        # An eIM package cannot be replayed by the device: after a reset during ENABLING the
        # eUICC tells whether it ran.
        cur = await self.ipad.enabled_iccid()
        return cur == iccid, "enabled after reset: %s" % cur

    async def _rollback(self, iccid):
        ok, detail = await self.ipad.rollback(iccid)
        if ok:
            return ok, detail
        # Refused with nothing to undo (the enable never ran, or the card went back already):
        # the last good profile is in use, and the attachment the device has now proves it.
        cur = await self.ipad.enabled_iccid()
        if cur != iccid or self.tracker.iccid != iccid:
            return ok, detail
        self.ops.post_fact(EC.FACT_ATTACHED, iccid)
        if self.tracker.registered():
            self.ops.post_fact(EC.FACT_REGISTERED, self.tracker.generation)
        return True, "%s; %s still enabled" % (detail, cur)

    def _report(self, entry):
        self._audit.append((entry["seq"], json.dumps(entry)))
        self._audit_ev.set()

    def _done(self, outcome, entry):
        _say("change %s %s" % (entry.get("change"), outcome))

    def _ops_log(self, line):
        print("device: " + line)

    def _ipa_log(self, line):
        print("device: " + line)

    async def _reporter(self):
        """Audit entries upstream, oldest first, each as one LwM2M Send of /20/0/4014."""
        while True:
            self._audit_ev.clear()
            while self._audit and self.tracker.registered():
                seq, data = self._audit[0]
                if not self.event_log.record(data.encode()):
                    break       # a server stopped the log (LogStop): entries wait in the ring
                code = await self._send([_AUDIT_PATH])
                if code != _CHANGED:
                    break
                self._audit.popleft()
                self.ops_store.put_json(_AUDIT_SENT_KEY, seq)
            try:
                await asyncio.wait_for_ms(self._audit_ev.wait(), 2000)
            except asyncio.TimeoutError:
                pass

    # --- stdin ----------------------------------------------------------------------------------
    async def _commands(self):
        reader = asyncio.StreamReader(sys.stdin)
        while True:
            line = await reader.readline()
            if not line:
                return
            words = line.decode().split()
            if not words:
                continue
            cmd = words[0]
            if cmd == "quit":
                self._stop.set()
                return
            if cmd == "status":
                r = self.ops.ec.record
                _say("status state=%s last_good=%s change=%s iccid=%s" % (
                    r["state"], r["last_good"], r["change"] and r["change"]["id"],
                    self.tracker.iccid))
            elif cmd == "fault":
                self.fault = words[1] if len(words) > 1 and words[1] != "none" else None
                _say("fault %s" % self.fault)
            elif cmd == "update":
                self._reregister()
            elif cmd == "mem":
                import gc

                gc.collect()
                _say("mem alloc=%d free=%d" % (gc.mem_alloc(), gc.mem_free()))
            else:
                _say("unknown command %s" % cmd)


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _mkdirs(path):
    import os

    part = ""
    for p in path.split("/"):
        part = part + "/" + p if part or path.startswith("/") else p
        if not p:
            continue
        try:
            os.mkdir(part)
        except OSError:
            pass


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        o = parse_args(argv)
    except ValueError as e:
        print("usage: micropython -m ops --modem LINK --ep NAME --server URI|--bootstrap URI "
              "--eim URL --ca FILE --state DIR [--esipa https|lwm2m]")
        print("error:", e)
        sys.exit(2)

    failed = []

    async def _main():
        dev = Device(o)
        await dev.start()
        await dev.run()
        if dev.failed:
            failed.append(dev.failed)

    try:
        asyncio.run(_main())
    except Exception as e:  # noqa: BLE001 - one line for the operator, then a non-zero exit
        sys.print_exception(e)
        _say("FAIL %s: %s" % (type(e).__name__, e))
        sys.exit(1)
    if failed:
        _say("FAIL task %s" % failed[0])
        sys.exit(1)
