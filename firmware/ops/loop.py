"""The operating loop: runs ops.entry_change.EntryChange on the device (the asyncio half).

    ops = OpsLoop(store, log=print, proof_window_s=60)
    ops.enable = async fn(iccid) -> (ok, detail)     enable outside an eIM package (resume, local)
    ops.rollback = async fn(iccid) -> (ok, detail)   SGP.32 ProfileRollback (BF58) via the IPAd
    ops.report = fn(entry)                           audit entry upstream (LwM2M Send)
    ops.context = fn() -> digest                     ops.context snapshot digest, now
    ops.on_done = fn(outcome, change)
    await ops.start(current_iccid)                   resume() of a persisted change, else adopt
    asyncio.create_task(ops.run())                   events in order, deadlines every second
    ops.post_fact("attached", iccid)                 from the modem / LwM2M / IPAd layers
    ops.post("adopt", iccid)                         after an attachment: adopted when idle

Every action list is carried out in order and `persist` goes through hal.storage atomically
before anything that follows it. Events are queued and handled by one task, so a fact that
arrives while a rollback is on the card is applied after the rollback's result.

An eIM-issued enable (a signed PSMO with rollbackFlag) cannot be re-issued by the device: the
IPAd runner is wrapped (GovernedRunner) so the LoadEuiccPackage carrying it becomes an
EntryChange request first — persisted, audited — and then runs; its result is the
enable_result. GovernedIpad serialises the card between the IPAd procedures and the rollback."""

import asyncio
from collections import deque

from micropython import const

from hal.clock import default as _clock
from ipa import es10b, runner
from ops import entry_change as EC
from ops import facts as F

_KEY = "entry_change"
_TICK_MS = const(1000)
_QUEUE = const(16)
_INTERCEPT_WAIT_MS = const(10000)
_KEEP_RESULTS = const(4)


class OpsLoop:
    def __init__(self, store, clock=_clock, log=None, proof_window_s=60, enable_timeout_s=60,
                 require=EC.DEFAULT_PROOF, policy=None):
        self.store = store
        self.clock = clock
        self.log = log or (lambda s: None)
        record = store.get_json(_KEY, None) if store is not None else None
        self.ec = EC.EntryChange(record, proof_window_s=proof_window_s,
                                 enable_timeout_s=enable_timeout_s)
        self.require = tuple(require)
        self.policy = policy or {"proof_window_s": proof_window_s,
                                 "enable_timeout_s": enable_timeout_s, "require": list(require)}
        self.enable = None
        self.rollback = None
        self.report = None
        self.context = None
        self.on_done = None
        self.outcomes = []
        self._q = deque((), _QUEUE)
        self._ev = asyncio.Event()
        self._stop = False
        self.dropped = 0

    # --- inputs (any task) ---------------------------------------------------------------------
    def post_fact(self, name, value):
        self._post(("fact", name, value))

    def post(self, *event):
        self._post(event)

    def _post(self, event):
        if len(self._q) >= _QUEUE:
            # Facts repeat with every attachment; a lost one delays the proof, never corrupts it.
            self.dropped += 1
            return
        self._q.append(event)
        self._ev.set()

    async def intercept(self, change_id, target, source, require=None):
        """An enable is about to reach the eUICC: make it a governed change. Returns True when
        EntryChange took it (state persisted, audit written) and the caller may proceed."""
        done = asyncio.Event()
        box = [False]
        self._post(("request", change_id, target, source, require, done, box))
        try:
            await _wait_ms(done.wait(), _INTERCEPT_WAIT_MS)
        except asyncio.TimeoutError:
            self.log("ops intercept-timeout change=%s" % change_id)
        return box[0]

    def request(self, change_id, target, source="local", require=None):
        self._post(("request", change_id, target, source, require, None, [False]))

    def stop(self):
        self._stop = True
        self._ev.set()

    # --- lifecycle -----------------------------------------------------------------------------
    def now(self):
        return self.clock.time()

    def busy(self):
        return self.ec.busy()

    async def start(self, current_iccid):
        """At boot: continue an interrupted change, or adopt the profile in use as last good."""
        if self.ec.busy():
            self.log("ops resume state=%s change=%s" % (self.ec.state, self.ec.record["change"]["id"]))
            await self._apply(self.ec.resume(self.now()))
        elif current_iccid:
            await self._apply(self.ec.adopt_current(current_iccid, self.now()))

    async def run(self):
        while not self._stop:
            while self._q:
                await self._handle(self._q.popleft())
            await self._apply(self.ec.tick(self.now()))
            if self._q:
                continue
            self._ev.clear()
            try:
                await _wait_ms(self._ev.wait(), _TICK_MS)
            except asyncio.TimeoutError:
                pass

    # --- internals -----------------------------------------------------------------------------
    async def _handle(self, ev):
        kind = ev[0]
        now = self.now()
        try:
            if kind == "fact":
                await self._apply(self.ec.fact(ev[1], ev[2], now))
            elif kind == "enable_result":
                await self._apply(self.ec.enable_result(ev[1], ev[2], now))
            elif kind == "request":
                await self._request(ev)
            elif kind == "adopt":
                # A profile changed outside a governed change (an enable without rollbackFlag,
                # a local action): it is what the device now runs on.
                if not self.ec.busy() and ev[1] and ev[1] != self.ec.last_good:
                    await self._apply(self.ec.adopt_current(ev[1], now))
        except Exception as e:  # noqa: BLE001 - one bad event must not stop the loop
            self.log("ops event-error %s: %r" % (kind, e))

    async def _request(self, ev):
        _, change_id, target, source, require, done, box = ev
        digest = self.context() if self.context is not None else None
        try:
            actions = self.ec.request(change_id, target, digest, self.now(),
                                      require=require or self.require, source=source)
        except EC.EntryChangeError as e:
            self.log("ops request-refused change=%s %s" % (change_id, e))
            if done is not None:
                done.set()
            return
        box[0] = True
        await self._apply(actions, done)

    async def _apply(self, actions, proceed=None):
        """Carry out actions in order. `proceed`: set on the "enable" of an intercepted change
        (the eUICC package itself is the enable)."""
        for kind, arg in actions:
            if kind == "persist":
                if self.store is not None:
                    self.store.put_json(_KEY, arg)
            elif kind == "audit":
                self.log("ops audit #%d %s %s" % (arg["seq"], arg["step"], _detail(arg)))
                if self.report is not None:
                    self.report(arg)
            elif kind == "enable":
                if proceed is not None:
                    proceed.set()
                    proceed = None
                    continue
                ok, detail = await self._call(self.enable, arg, "enable")
                await self._apply(self.ec.enable_result(ok, detail, self.now()))
            elif kind == "rollback":
                ok, detail = await self._call(self.rollback, arg, "rollback")
                await self._apply(self.ec.rollback_result(ok, detail, self.now()))
            elif kind == "done":
                self.outcomes.append(arg)
                if len(self.outcomes) > _KEEP_RESULTS:
                    self.outcomes.pop(0)
                if self.on_done is not None:
                    self.on_done(arg, self.ec.record["audit"][-1])
        if proceed is not None:
            proceed.set()

    async def _call(self, fn, iccid, what):
        if fn is None:
            return False, "no %s path on this device" % what
        try:
            return await fn(iccid)
        except Exception as e:  # noqa: BLE001 - the state machine decides what a failure means
            return False, "%s %s: %r" % (what, iccid, e)


def _detail(entry):
    return " ".join("%s=%s" % (k, entry[k]) for k in entry
                    if k not in ("seq", "step", "t"))


async def _wait_ms(aw, ms):
    w = getattr(asyncio, "wait_for_ms", None)
    if w is not None:
        return await w(aw, ms)
    return await asyncio.wait_for(aw, ms / 1000)


# --- the IPAd, governed ----------------------------------------------------------------------------

class GovernedRunner(runner.SwitchingRunner):
    """SwitchingRunner whose LoadEuiccPackage carrying an enable with rollbackFlag becomes an
    EntryChange request before it reaches the eUICC."""

    def __init__(self, ops, channel, eim, reopen, refresh=None, log=None, **kw):
        super().__init__(channel, eim, reopen, refresh, log, **kw)
        self.ops = ops
        self.require_eim = ops.require + (EC.FACT_EIM,)

    async def es10b(self, command):
        try:
            ask = F.eim_enable(command)
        except Exception:  # noqa: BLE001 - not ours to judge; the eUICC answers it
            ask = None
        if ask is None or not ask["rollback"]:
            return await super().es10b(command)
        governed = await self.ops.intercept(ask["change"], ask["target"], "eim",
                                            self.require_eim)
        resp = await super().es10b(command)
        if governed:
            ok, detail = F.enable_outcome(resp)
            self.ops.post("enable_result", ok, detail)
        return resp


class GovernedIpad(runner.Ipad):
    """ipa.runner.Ipad with the governed runner, one card lock, the eIM's acknowledgement of
    a package result reported as a fact, and the rollback path for OpsLoop."""

    def __init__(self, ops, ipa, open_channel, binding, refresh=None, log=None, **kw):
        super().__init__(ipa, open_channel, binding, refresh, log, **kw)
        self.ops = ops
        self.card_lock = asyncio.Lock()

    async def start(self):
        async with self.card_lock:
            out = await super().start()
            plain = self.runner
            self.runner = GovernedRunner(self.ops, plain.channel, self.binding, self.open_channel,
                                         self.refresh, self.log, sd=self.ipa.sd)
        return out

    async def poll(self, state_change_cause=None):
        async with self.card_lock:
            try:
                r = await super().poll(state_change_cause)
            except Exception as e:  # noqa: BLE001 - a card/modem fault ends this round only
                # The procedure's checkpoint lets the next round resume; the deadlines of a
                # change in progress still run, so nothing waits on this round.
                self.log("ipa poll-error %r" % (e,))
                await self._reopen()
                r = {"idle": True, "retry_ms": self.ipa.backoff_min_ms, "error": repr(e)}
        self._acks(r.get("handled") or ())
        return r

    async def _reopen(self):
        try:
            await self.runner.channel.close()
        except Exception:  # noqa: BLE001 - the channel may be what failed
            pass
        try:
            self.runner.channel = await self.open_channel()
        except Exception as e:  # noqa: BLE001 - tried again next round
            self.log("ipa reopen-failed %r" % (e,))

    async def handle_push(self, message):
        async with self.card_lock:
            r = await super().handle_push(message)
        self._acks((r,))
        return r

    def _acks(self, items):
        for it in items:
            if not isinstance(it, dict):
                continue
            # Delivered now, or (after a reset) delivered from the results kept pending.
            if (it.get("package") == "euiccPackageRequest" and it.get("result") == "signed"
                    and not it.get("undelivered")) or \
                    (it.get("package") == "pending" and it.get("delivered")):
                self.ops.post_fact(EC.FACT_EIM, True)

    async def enabled_iccid(self):
        """The ICCID the eUICC has enabled now (ProfileInfoList), as digits."""
        async with self.card_lock:
            resp = await self.runner.es10b(es10b.profile_info_list(tag_list=b"\x5a\x9f\x70"))
        raw = es10b.enabled_iccid(es10b.parse_profile_info_list(resp))
        return None if raw is None else F.iccid_text(raw)

    async def rollback(self, iccid):
        """SGP.32 ProfileRollback (refreshFlag set) to the profile enabled before the last
        rollback-able enable; its result is kept for the eIM like any package result."""
        async with self.card_lock:
            resp = await self.runner.es10b(es10b.profile_rollback(refresh=True))
            ok, detail, epr, seq = F.rollback_outcome(resp)
            st = self.ipa.st
            if epr is not None:
                st.add_pending("epr", epr, seq, save=False)
            st.d["rollback"] = None
            st.save()
            if ok:
                # REFRESH reset the channels and the attachment: wait for both to come back.
                await self.runner.after_switch()
        return ok, detail
