# OpsLoop on MicroPython with an in-memory store and a settable clock: write-ahead order, the
# intercepted enable, rollback with facts arriving meanwhile, resume after a reset.
# mpy-heapsize: 256K
import asyncio
import json

from ops import entry_change as EC
from ops.loop import OpsLoop

OP1 = "8900101000000000017"
OP2 = "8900102000000000025"
PROOF = (EC.FACT_ATTACHED, EC.FACT_REGISTERED, EC.FACT_TELEMETRY, EC.FACT_CONTEXT)


class MemStore:
    def __init__(self):
        self.d = {}
        self.states = []

    def put_json(self, key, obj):
        self.d[key] = json.dumps(obj)
        self.states.append(obj["state"])

    def get_json(self, key, default=None):
        return json.loads(self.d[key]) if key in self.d else default


class Clock:
    def __init__(self):
        self.t = 1000

    def time(self):
        return self.t


def _loop(store, clock, trail):
    ops = OpsLoop(store, clock=clock, log=trail.append, proof_window_s=10, enable_timeout_s=10)
    ops.context = lambda: "ctx1"
    ops.report = lambda e: trail.append(e["step"])
    return ops


async def _settle(ops, ms=50):
    for _ in range(ms // 10):
        await asyncio.sleep_ms(10)


def _prove(ops, iccid):
    ops.post_fact(EC.FACT_ATTACHED, iccid)
    ops.post_fact(EC.FACT_REGISTERED, 1)
    ops.post_fact(EC.FACT_CONTEXT, "ctx1")
    ops.post_fact(EC.FACT_TELEMETRY, 1)


async def test_intercepted_enable_is_persisted_before_the_package_runs():
    store, clock, trail = MemStore(), Clock(), []
    ops = _loop(store, clock, trail)
    await ops.start(OP1)
    task = asyncio.create_task(ops.run())
    governed = await ops.intercept("tx1", OP2, "eim", PROOF)
    # what the eUICC would now execute is already on record as "enabling"
    assert governed and json.loads(store.d["entry_change"])["state"] == "enabling"
    ops.post("enable_result", True, "enableResult=0")
    _prove(ops, OP2)
    await _settle(ops)
    ops.stop()
    await task
    assert ops.outcomes == ["committed"] and ops.ec.last_good == OP2
    assert store.states[-1] == "idle"
    assert trail.count("issued") == 1 and trail[-1] == "committed"


async def test_second_enable_during_a_change_is_not_governed():
    store, clock, trail = MemStore(), Clock(), []
    ops = _loop(store, clock, trail)
    await ops.start(OP1)
    task = asyncio.create_task(ops.run())
    assert await ops.intercept("tx1", OP2, "eim", PROOF)
    assert not await ops.intercept("tx2", OP1, "eim", PROOF)
    ops.stop()
    await task
    assert ops.ec.record["change"]["id"] == "tx1"


async def test_no_proof_rolls_back_and_facts_during_rollback_count_after_it():
    store, clock, trail = MemStore(), Clock(), []
    ops = _loop(store, clock, trail)
    rolled = []

    async def rollback(iccid):
        rolled.append(iccid)
        # the old profile attaches while the rollback is still on the card
        ops.post_fact(EC.FACT_ATTACHED, OP1)
        ops.post_fact(EC.FACT_REGISTERED, 2)
        return True, "rollbackResult=0"

    ops.rollback = rollback
    await ops.start(OP1)
    task = asyncio.create_task(ops.run())
    await ops.intercept("tx1", OP2, "eim", PROOF)
    ops.post("enable_result", True, "enableResult=0")
    ops.post_fact(EC.FACT_ATTACHED, OP2)
    await _settle(ops)
    clock.t += 11                       # past the proof window
    await asyncio.sleep_ms(1200)        # one tick
    ops.stop()
    await task
    assert rolled == [OP1]
    assert ops.outcomes == ["rolled_back"] and ops.ec.last_good == OP1
    steps = [s for s in trail if isinstance(s, str) and not s.startswith("ops ")]
    assert steps.index("proof_timeout") < steps.index("rollback_issued") \
        < steps.index("rollback_acknowledged") < steps.index("rolled_back")


async def test_resume_after_reset_in_proving_keeps_the_eim_acknowledgement():
    store, clock, trail = MemStore(), Clock(), []
    ops = _loop(store, clock, trail)
    await ops.start(OP1)
    task = asyncio.create_task(ops.run())
    await ops.intercept("tx1", OP2, "eim", PROOF + (EC.FACT_EIM,))
    ops.post("enable_result", True, "enableResult=0")
    ops.post_fact(EC.FACT_EIM, True)
    await _settle(ops)
    ops.stop()
    await task
    assert json.loads(store.d["entry_change"])["state"] == "proving"
    # reset: a new loop from the same store
    trail2 = []
    ops2 = _loop(store, clock, trail2)
    await ops2.start(OP2)
    task = asyncio.create_task(ops2.run())
    _prove(ops2, OP2)
    await _settle(ops2)
    ops2.stop()
    await task
    assert "resumed" in trail2 and ops2.outcomes == ["committed"]


async def test_adopt_after_an_ungoverned_switch_only_when_idle():
    store, clock, trail = MemStore(), Clock(), []
    ops = _loop(store, clock, trail)
    await ops.start(OP1)
    task = asyncio.create_task(ops.run())
    ops.post("adopt", OP2)
    await _settle(ops)
    assert ops.ec.last_good == OP2
    await ops.intercept("tx1", OP1, "eim", PROOF)
    ops.post("adopt", "8900103000000000033")
    await _settle(ops)
    ops.stop()
    await task
    assert ops.ec.last_good == OP2 and ops.ec.state == "enabling"
