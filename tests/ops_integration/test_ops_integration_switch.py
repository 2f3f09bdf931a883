"""Network-entry change end to end: the firmware's device application (micropython -m ops) on
the Unix port, the modem simulator with the eUICC simulator (operator network 001-03 has no
route out), and the control plane (LwM2M server, bootstrap server, eIM) on loopback.

Each test queues an eIM enable with rollbackFlag and judges the device's own verdict (its
audit trail, reported with LwM2M Send) against the card and the server."""

import asyncio
import json

from host_tools import pki as _pki
from host_tools.control_plane import ControlPlane, netsim
from host_tools.demo import rig

EID = _pki.DEFAULT_EID
OP1 = "8900101000000000017"
OP2 = "8900102000000000025"
EP = "ops-dev"
_BUDGET_S = 150


class Run:
    """One rig: modem process, control plane (in this process), device process."""

    def __init__(self, tmp_path, processes):
        self.dir = str(tmp_path)
        self.processes = processes
        self.cp = None
        self.dev = None
        self.modem = None
        self.port = None

    async def start(self, esipa="https", proof_window=8):
        self.modem, self.port = await asyncio.to_thread(rig.start_modem, self.dir)
        self.processes.append(self.modem)
        self.cp = await ControlPlane.start(self.dir)
        await self.start_device(esipa, proof_window)
        await self.cp.wait_registered(EP, 30)
        # The server may see the Register before the device has read its answer; an Observe
        # sent in between would be dropped with the device's older observations.
        await self.seen(r"lwm2m (registered|updated)", 30)
        if esipa == "lwm2m":
            await self.cp.attach_3443(EP, EID)

    async def start_device(self, esipa="https", proof_window=8):
        self.dev = rig.start_device(self.cp, self.dir, self.port, EP, esipa=esipa,
                                    proof_window=proof_window)
        self.processes.append(self.dev)
        await self.expect(r"device: running", 30)

    async def expect(self, pattern, timeout=30):
        return await asyncio.to_thread(self.dev.expect, pattern, timeout)

    async def seen(self, pattern, timeout=30):
        """A line already printed, or the next one matching."""
        got = self.dev.grep(pattern)
        return got[0] if got else await self.expect(pattern, timeout)

    def enabled_iccid(self):
        with open(self.dir + "/euicc.json") as f:
            for p in json.load(f)["profiles"]:
                if p["state"] == "enabled":
                    return p["iccid"]
        return None

    async def close(self):
        if self.cp is not None:
            await self.cp.close()


def _run(tmp_path, processes, scenario):
    async def main():
        r = Run(tmp_path, processes)
        try:
            await asyncio.wait_for(scenario(r), _BUDGET_S)
        finally:
            await r.close()

    asyncio.run(main())


def _facts(out, step):
    done = [e for e in out.entries if e.get("step") == step]
    return done[-1].get("facts", []) if done else []


def test_profile_switch_over_https_proven_and_committed(tmp_path, processes):
    async def scenario(r):
        await r.start("https")
        out = await r.cp.switch(EP, EID, OP2, via="https", timeout=60)
        assert out.outcome == "committed", out
        assert sorted(_facts(out, "committed")) == sorted(
            ["attached", "registered", "telemetry", "context", "eim_ack"])
        assert out.steps()[:2] == ["issued", "acknowledged"]
        assert r.enabled_iccid() == OP2
        # the server saw the device come back on the new profile and its telemetry
        assert out.server_confirmed()
        assert r.cp.package(EID, out.package)["state"] in ("done", "acknowledged")

    _run(tmp_path, processes, scenario)


def test_profile_switch_to_network_without_route_rolled_back_https(tmp_path, processes):
    async def scenario(r):
        await r.start("https", proof_window=6)
        out = await r.cp.switch(EP, EID, netsim.ISOLATED_ICCID, via="https", timeout=90)
        assert out.outcome == "rolled_back", out
        steps = out.steps()
        assert steps.index("proof_timeout") < steps.index("rollback_issued") \
            < steps.index("rollback_acknowledged") < steps.index("rolled_back")
        timeout = [e for e in out.entries if e["step"] == "proof_timeout"][0]
        assert "registered" in timeout["missing"] and "telemetry" in timeout["missing"]
        assert [e for e in out.entries if e["step"] == "rollback_issued"][0]["to"] == OP1
        assert {"attached", "registered"} <= set(_facts(out, "rolled_back"))
        assert r.enabled_iccid() == OP1
        await r.expect(r"device: change \S+ rolled_back", 5)

    _run(tmp_path, processes, scenario)


def test_management_context_lost_after_switch_rolled_back_https(tmp_path, processes):
    async def scenario(r):
        await r.start("https", proof_window=20)
        obs = r.cp.server.observe(EP, "/4/0/2")
        assert (await obs.established()).ok
        await r.expect(r"lwm2m observe /4/0/2", 10)
        # The device will register anew after the switch: the server forgets its
        # observations (Core §6.2.1), so the device is online but not as it was managed.
        r.dev.send("fault reregister")
        await r.expect(r"device: fault reregister", 5)
        out = await r.cp.switch(EP, EID, OP2, via="https", timeout=90)
        assert out.outcome == "rolled_back", (out, r.dev.output())
        lost = [e for e in out.entries if e["step"] == "context_lost"]
        assert lost and lost[0]["expected"] != lost[0]["got"]
        assert "proof_timeout" not in out.steps()   # no waiting out the window
        assert r.enabled_iccid() == OP1

    _run(tmp_path, processes, scenario)


def test_device_reset_mid_switch_resumes_and_commits_https(tmp_path, processes):
    async def scenario(r):
        await r.start("https", proof_window=30)
        # Slow the modem so the proof takes long enough to cut the device off inside it.
        r.modem.send("delay 0.15")
        r.cp.queue_enable(EID, OP2)
        await r.expect(r"device: ops audit #\d+ acknowledged", 30)
        r.dev.stop(grace=0.5)
        r.modem.send("delay 0")
        assert r.enabled_iccid() == OP2
        await r.start_device("https", proof_window=30)
        resumed = r.dev.grep(r"device: ops resume state=(\w+)")
        assert resumed and resumed[0].group(1) == "proving"
        await r.expect(r"device: change \S+ committed", 60)
        assert r.enabled_iccid() == OP2
        # Upstream, the trail is whole: entries not yet sent at the reset went after it.
        assert await r.cp.wait(lambda: [e["step"] for e in r.cp.audit(EP)][-1:] == ["committed"], 20)
        steps = [e["step"] for e in r.cp.audit(EP)]
        for step in ("issued", "acknowledged", "resumed", "committed"):
            assert step in steps
        assert [e["seq"] for e in r.cp.audit(EP)] == list(range(1, len(steps) + 1))

    _run(tmp_path, processes, scenario)


def test_profile_switch_over_lwm2m_3443_committed(tmp_path, processes):
    async def scenario(r):
        await r.start("lwm2m")
        out = await r.cp.switch(EP, EID, OP2, via="lwm2m", timeout=60)
        assert out.outcome == "committed", out
        assert "eim_ack" in _facts(out, "committed")
        assert r.enabled_iccid() == OP2
        assert r.cp.relay.errors == []

    _run(tmp_path, processes, scenario)


def test_enable_without_rollback_flag_runs_ungoverned_then_adopted_https(tmp_path, processes):
    async def scenario(r):
        await r.start("https")
        n = len(r.cp.audit(EP))
        r.cp.queue_enable(EID, OP2, rollback=False)
        await r.expect(r"device: attached iccid=%s" % OP2, 30)
        assert await r.cp.wait(lambda: any(e["step"] == "adopted" and e.get("iccid") == OP2
                                           for e in r.cp.audit(EP)[n:]), 20)
        assert {e["step"] for e in r.cp.audit(EP)[n:]} == {"adopted"}   # nothing governed
        r.dev.send("status")
        m = await r.expect(r"device: status state=(\w+) last_good=(\d+)", 10)
        assert m.group(1) == "idle" and m.group(2) == OP2

    _run(tmp_path, processes, scenario)


def test_profile_switch_over_lwm2m_3443_to_network_without_route_rolled_back(tmp_path, processes):
    async def scenario(r):
        await r.start("lwm2m", proof_window=8)
        out = await r.cp.switch(EP, EID, netsim.ISOLATED_ICCID, via="lwm2m", timeout=100)
        assert out.outcome == "rolled_back", out
        assert "proof_timeout" in out.steps()
        assert r.enabled_iccid() == OP1

    _run(tmp_path, processes, scenario)
