"""Network-entry change end to end over ESipa on LwM2M object 3443, and an eIM enable without
rollbackFlag (ungoverned, then adopted). Same rig as test_ops_integration_switch.py."""

from ops_integration_rig import EID, EP, OP2, facts_of, run_scenario


def test_profile_switch_over_lwm2m_3443_committed(tmp_path, processes):
    async def scenario(r):
        await r.start("lwm2m")
        out = await r.cp.switch(EP, EID, OP2, via="lwm2m", timeout=60)
        assert out.outcome == "committed", out
        assert "eim_ack" in facts_of(out, "committed")
        assert r.enabled_iccid() == OP2
        assert r.cp.relay.errors == []

    run_scenario(tmp_path, processes, scenario)


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

    run_scenario(tmp_path, processes, scenario)

