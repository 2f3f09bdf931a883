"""Network-entry change end to end: the firmware's device application (micropython -m ops) on
the Unix port, the modem simulator with the eUICC simulator (operator network 001-03 has no
route out), and the control plane (LwM2M server, bootstrap server, eIM) on loopback.

Each test queues an eIM enable with rollbackFlag and judges the device's own verdict (its
audit trail, reported with LwM2M Send) against the card and the server."""

import pytest

from host_tools.control_plane import netsim

from ops_integration_rig import EID, EP, OP1, OP2, facts_of, run_scenario


def test_profile_switch_over_https_proven_and_committed(tmp_path, processes):
    async def scenario(r):
        await r.start("https")
        before = (await r.cp.observe(EP, "/4/0/2").established()).value
        out = await r.cp.switch(EP, EID, OP2, via="https", timeout=60)
        assert out.outcome == "committed", out
        # monitoring follows the device: observed again from its new address, /4 from the
        # modem on the new network
        assert out.reobserved["/4/0/2"].ok and out.reobserved["/4/0/2"].value != before
        assert sorted(facts_of(out, "committed")) == sorted(
            ["attached", "registered", "telemetry", "context", "eim_ack"])
        assert out.steps()[:2] == ["issued", "acknowledged"]
        assert r.enabled_iccid() == OP2
        # the server saw the device come back on the new profile and its telemetry
        assert out.server_confirmed()
        assert r.cp.package(EID, out.package)["state"] in ("done", "acknowledged")

    run_scenario(tmp_path, processes, scenario)


@pytest.mark.parametrize("via", ["https", "lwm2m"])
def test_profile_switch_to_network_without_route_rolled_back(tmp_path, processes, via):
    async def scenario(r):
        await r.start(via, proof_window=8)
        out = await r.cp.switch(EP, EID, netsim.ISOLATED_ICCID, via=via, timeout=100)
        assert out.outcome == "rolled_back", out
        steps = out.steps()
        assert steps.index("proof_timeout") < steps.index("rollback_issued") \
            < steps.index("rollback_acknowledged") < steps.index("rolled_back")
        timeout = [e for e in out.entries if e["step"] == "proof_timeout"][0]
        assert "registered" in timeout["missing"] and "telemetry" in timeout["missing"]
        assert [e for e in out.entries if e["step"] == "rollback_issued"][0]["to"] == OP1
        assert {"attached", "registered"} <= set(facts_of(out, "rolled_back"))
        assert r.enabled_iccid() == OP1
        await r.expect(r"device: change \S+ rolled_back", 5)

    run_scenario(tmp_path, processes, scenario)


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

    run_scenario(tmp_path, processes, scenario)


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

    run_scenario(tmp_path, processes, scenario)
