"""The committed switch over HTTPS with the other modem families' AT dialects (the BG95 runs in
test_ops_integration_switch.py): socket-over-AT, ISD-R channel and REFRESH handling differ per
dialect, the operating loop must not."""

import pytest

from ops_integration_rig import EID, EP, OP2, facts_of, run_scenario


@pytest.mark.parametrize("dialect", [("nrf91_slm", "nrf91_slm"), ("sim7080", "simcom_sim7080"),
                                     ("sara_r5", "ublox_sara_r5")])
def test_profile_switch_committed_per_modem_dialect(tmp_path, processes, dialect):
    async def scenario(r):
        await r.start("https", dialect=dialect)
        out = await r.cp.switch(EP, EID, OP2, via="https", timeout=60)
        assert out.outcome == "committed", out
        assert "telemetry" in facts_of(out, "committed")
        assert r.enabled_iccid() == OP2

    run_scenario(tmp_path, processes, scenario)
