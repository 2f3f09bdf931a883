"""Thin asyncio layer that runs the sans-I/O procedures of ipa.procedures against real I/O:

  channel: the ISD-R logical channel, `await channel.transmit(apdu) -> (data, sw)`
           (modem.uicc Channel; it sets the channel bits in CLA itself, so build the Ipa with
           channel=0)
  eim:     the ESipa transport, `await eim.exchange(msg) -> bytes` (b"" for no content) and
           `await eim.open_stream(msg)` returning an object with `await read(n) -> bytes`
           (b"" at the end) for GetBoundProfilePackage

Transport OSError and timeouts toward the eIM become procedures.EimUnreachable inside the
procedure, which drives back-off and profile rollback; card errors propagate as they are."""

import asyncio

from micropython import const

from ipa import apdu
from ipa.procedures import EimUnreachable

_CHUNK = const(1024)


class Runner:
    def __init__(self, channel, eim, sd=None, chunk=_CHUNK):
        self.channel = channel
        self.eim = eim
        self.sd = sd or apdu.StoreData(0)
        self.chunk = chunk
        self._stream = None

    async def es10b(self, command):
        """One ES10b command through STORE DATA blocks; the response bytes."""
        g = apdu.transact(self.sd, command)
        a = next(g)
        while True:
            outcome = await self.channel.transmit(a)
            try:
                a = g.send(outcome)
            except StopIteration as e:
                return e.value

    async def _eim_call(self, coro):
        try:
            return await coro
        except (OSError, asyncio.TimeoutError) as e:
            raise EimUnreachable(repr(e))

    async def _do(self, action):
        if "es10b" in action:
            return await self.es10b(action["es10b"])
        if "apdu" in action:
            return await self.channel.transmit(action["apdu"])
        if "esipa" in action:
            return await self._eim_call(self.eim.exchange(action["esipa"]))
        if "esipa_stream" in action:
            self._stream = await self._eim_call(self.eim.open_stream(action["esipa_stream"]))
            return await self._eim_call(self._stream.read(self.chunk))
        if "more" in action:
            return await self._eim_call(self._stream.read(self.chunk))
        raise ValueError("unknown IPAd action %r" % (list(action),))

    async def run(self, gen):
        """Drive one procedure generator to its {"done": result}; returns result."""
        action = next(gen)
        while "done" not in action:
            try:
                outcome = await self._do(action)
            except Exception as e:  # noqa: BLE001 - the procedure decides what is fatal
                action = gen.throw(e)
                continue
            action = gen.send(outcome)
        self._stream = None
        return action["done"]


# --- the IPAd service: init, polling loop, eIM pushes, profile switches ----------------------

_SW_CHANNEL_CLOSED = const(0x6881)    # logical channel not supported (not open)
_TAG_LOAD_EUICC_PACKAGE = b"\xbf\x51"
_TAG_PROFILE_ROLLBACK = b"\xbf\x58"
_TAG_IMMEDIATE_ENABLE = b"\xbf\x5a"
_RES_ENABLE = const(0x83)
_RES_DISABLE = const(0x84)
_REFRESH_TIMEOUT_MS = const(60000)
_POLL_FLOOR_MS = const(1000)
# Round results kept for the caller: a device polls for months, and the log line of each round
# is printed as it ends, so only the newest few are worth their heap.
_KEEP_RESULTS = const(4)


def _sleep_ms(ms):
    s = getattr(asyncio, "sleep_ms", None)
    return s(ms) if s is not None else asyncio.sleep(ms / 1000)


async def _wait_ms(aw, ms):
    w = getattr(asyncio, "wait_for_ms", None)
    if w is not None:
        return await w(aw, ms)
    return await asyncio.wait_for(aw, ms / 1000)


def profile_switched(command, response):
    """Whether an ES10b exchange made the eUICC change the enabled profile (so a REFRESH
    follows and the network attachment is lost): an enable or disable PSMO that succeeded, a
    ProfileRollback or ImmediateEnable that succeeded."""
    from ipa import es10b

    tag = bytes(command[:2])
    try:
        if tag == _TAG_LOAD_EUICC_PACKAGE:
            epr = es10b.parse_euicc_package_result(response)
            for t, v in epr["results"]:
                if (t == _RES_ENABLE or t == _RES_DISABLE) and v == 0:
                    return True
        elif tag == _TAG_PROFILE_ROLLBACK:
            return es10b.parse_profile_rollback(response)[0] == 0
        elif tag == _TAG_IMMEDIATE_ENABLE:
            return es10b.parse_immediate_enable(response) == 0
    except Exception:  # noqa: BLE001 - an unparsable answer is the procedure's business
        return False
    return False


class SwitchingRunner(Runner):
    """Runner that notices a profile switch on the eUICC and, before the next ESipa exchange
    (the result must travel over the new profile's connectivity), awaits the modem layer's
    REFRESH/re-attach hook and reopens the ISD-R channel. A card command that meanwhile finds
    the channel closed by the REFRESH's UICC reset (6881) is sent again after that."""

    def __init__(self, channel, eim, reopen, refresh=None, log=None,
                 refresh_timeout_ms=_REFRESH_TIMEOUT_MS, **kw):
        super().__init__(channel, eim, **kw)
        self.reopen = reopen        # async () -> new channel
        self.refresh = refresh      # async () -> None: returns once attached on the new profile
        self.refresh_timeout_ms = refresh_timeout_ms
        self.log = log
        self.switches = 0
        self._switched = False

    async def _eim_call(self, coro):
        try:
            return await coro
        except (OSError, asyncio.TimeoutError) as e:
            if self.log:
                self.log("ipa eim-unreachable %r" % (e,))
            raise EimUnreachable(repr(e))

    async def _do(self, action):
        if self._switched and ("esipa" in action or "esipa_stream" in action):
            self._switched = False
            await self.after_switch()
        try:
            out = await super()._do(action)
        except apdu.ApduError as e:
            if not (self._switched and e.sw == _SW_CHANNEL_CLOSED):
                raise
            # Over +CSIM no session goes stale: a command sent between the switch and the
            # modem's REFRESH URC reached the channel the UICC reset had closed.
            self._switched = False
            await self.after_switch()
            out = await super()._do(action)
        if "es10b" in action and profile_switched(action["es10b"], out):
            self._switched = True
            self.switches += 1
        return out

    async def after_switch(self):
        if self.refresh is not None:
            try:
                await _wait_ms(self.refresh(), self.refresh_timeout_ms)
            except asyncio.TimeoutError:
                # Go on: the result may still get through, else the procedure backs off.
                if self.log:
                    self.log("ipa refresh-timeout %d ms" % self.refresh_timeout_ms)
        # The eUICC's REFRESH reset the logical channels: open the ISD-R again.
        try:
            await self.channel.close()
        except Exception:  # noqa: BLE001 - the old channel may be gone with the reset
            pass
        self.channel = await self.reopen()
        if self.log:
            self.log("ipa refreshed channel reopened")


class Ipad:
    """Drives ipa.procedures.Ipa over a card channel and an ESipa binding.

      open_channel  async () -> channel with `async transmit(apdu) -> (data, sw)` and
                    `async close()` (modem.uicc Channel on the ISD-R, or a test adapter)
      binding       ESipa transport: `async exchange(msg)`, `async open_stream(msg)`,
                    `async close()`; optionally `async next_push(timeout_ms)` for eIM-initiated
                    messages (the LwM2M /3443 binding has it)
      refresh       async () -> None, awaited after a profile switch (modem REFRESH/re-attach)
      log           fn(str) for one-line events ("ipa <event> ...")
      max_segment   longest STORE DATA block the card link carries (modem.uicc
                    `Uicc.max_segment`: +CSIM on SARA-R5 caps the AT line); None keeps the
                    Ipa's own 255-byte blocks
      keep_results  how many round results `results` keeps (newest last)

    start() runs the init sequence (open ISD-R, GetEID, GetEimConfigurationData, AddInitialEim
    at first boot, resume of an interrupted procedure); poll() one GetEimPackage round;
    run() the loop with the procedures' back-off, woken early by trigger() or an eIM push."""

    def __init__(self, ipa, open_channel, binding, refresh=None, log=None,
                 poll_floor_ms=_POLL_FLOOR_MS, refresh_timeout_ms=_REFRESH_TIMEOUT_MS,
                 max_segment=None, keep_results=_KEEP_RESULTS):
        self.ipa = ipa
        if max_segment is not None and max_segment < ipa.sd.block_size:
            # Before any procedure: the BPP splitter and the runner both take blocks from ipa.sd.
            ipa.sd = apdu.StoreData(ipa.sd.channel, max_segment)
        self.keep_results = keep_results
        self.open_channel = open_channel
        self.binding = binding
        self.refresh = refresh
        self.log = log or (lambda s: None)
        self.poll_floor_ms = poll_floor_ms
        self.refresh_timeout_ms = refresh_timeout_ms
        self.runner = None
        self.eid = None
        self.polls = 0
        self.results = []
        self._wake = asyncio.Event()
        self._stop = False
        self._cause = None

    async def start(self):
        ch = await self.open_channel()
        self.runner = SwitchingRunner(ch, self.binding, self.open_channel, self.refresh,
                                      self.log, self.refresh_timeout_ms, sd=self.ipa.sd)
        out = await self.run_procedure(self.ipa.startup())
        self.eid = await self.run_procedure(self._eid_proc())
        set_eid = getattr(self.binding, "set_eid", None)
        if set_eid is not None:
            set_eid(self.eid)
        self.log("ipa started eid=%s %s" % (self.eid, _summary(out)))
        return out

    def _eid_proc(self):
        eid = yield from self.ipa._eid()
        yield {"done": eid.hex()}

    async def run_procedure(self, gen):
        """Run one procedure to its result; the ESipa connection is closed afterwards (HTTP
        keep-alive lasts one procedure)."""
        begin = getattr(self.binding, "begin", None)
        if begin is not None:
            begin()
        try:
            return await self.runner.run(gen)
        finally:
            try:
                await self.binding.close()
            except OSError:
                pass

    async def poll(self, state_change_cause=None):
        r = await self.run_procedure(self.ipa.poll(state_change_cause))
        self.polls += 1
        self._keep(r)
        self.log("ipa poll %s" % _summary(r))
        return r

    async def handle_push(self, message):
        """An eIM-initiated message (TransferEimPackageRequest over /3443): run it and hand
        the TransferEimPackageResponse back through the binding."""
        r = await self.run_procedure(self.ipa.transfer(message))
        reply = r.get("reply")
        if self.runner._switched:
            # The reply carries an enable's result: it must go over the new profile.
            self.runner._switched = False
            await self.runner.after_switch()
        if reply is not None:
            try:
                await self.binding.reply(reply)
            except OSError as e:
                # The eUICC keeps the result; the eIM can fetch it with IpaEuiccDataRequest.
                r["undelivered"] = True
                self.log("ipa push-undelivered %r" % (e,))
        self._keep(r)
        self.log("ipa push %s" % _summary(r))
        return r

    def _keep(self, r):
        self.results.append(r)
        if len(self.results) > self.keep_results:
            self.results.pop(0)

    def state_changed(self, cause):
        """Something other than this eIM changed the eUICC state (esipa.CAUSE_*): the next
        GetEimPackage carries notifyStateChange with that cause."""
        self._cause = cause
        self._wake.set()

    def trigger(self):
        """Poll now (an SMS, an LwM2M execute, a test)."""
        self._wake.set()

    def stop(self):
        self._stop = True
        self._wake.set()

    async def run(self, max_polls=None):
        """Poll until stop() (or max_polls rounds); between rounds wait the back-off the
        procedure asked for, or less when woken. Returns the newest round results."""
        if self.runner is None:
            await self.start()
        while not self._stop and (max_polls is None or self.polls < max_polls):
            cause, self._cause = self._cause, None
            r = await self.poll(cause)
            if not r.get("idle"):
                continue    # the eIM had more packages than one round takes
            await self._idle(max(r.get("retry_ms") or 0, self.poll_floor_ms))
        return self.results

    async def _idle(self, ms):
        push = getattr(self.binding, "next_push", None)
        self._wake.clear()
        if push is None:
            try:
                await _wait_ms(self._wake.wait(), ms)
            except asyncio.TimeoutError:
                pass
            return
        msg = await push(ms, self._wake)
        if msg is not None:
            await self.handle_push(msg)

    async def close(self):
        if self.runner is not None:
            try:
                await self.runner.channel.close()
            except Exception:  # noqa: BLE001 - shutting down anyway
                pass
        await self.binding.close()


def _summary(r):
    """One short line for the log: the dict without raw byte strings."""
    if not isinstance(r, dict):
        return repr(r)
    out = {}
    for k, v in r.items():
        if isinstance(v, (bytes, bytearray)):
            v = "%d bytes" % len(v)
        elif isinstance(v, list):
            v = [_summary(x) if isinstance(x, dict) else x for x in v]
        elif isinstance(v, dict):
            v = _summary(v)
        out[k] = v
    return out
