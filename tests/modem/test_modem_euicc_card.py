"""The modem simulator with the eUICC simulator's Card (host_tools/euicc_sim/card.py): ES10
GetEID through +CCHO/+CGLA and through +CSIM, and a profile switch whose REFRESH moves the
device to the network of the newly enabled profile."""

import pytest

from modem_simctl import control, result, run_device, sim_stats, start_device, start_sim

_EID_TAG = "bf3e125a10"
_OP1_IMSI, _OP2_IMSI, _OP2_ICCID = "001010000000017", "001020000000025", "8900102000000000025"


@pytest.mark.parametrize("dialect", ["nrf91_slm", "sara_r5"])
def test_es10_get_eid_over_logical_channel(processes, tmp_path, dialect):
    sim, link = start_sim(processes, dialect, "--euicc-state", str(tmp_path / "euicc.json"), card=None)
    r = run_device(processes, dialect, link, "es10")
    assert r["sw"] == 0x9000 and r["data"].startswith(_EID_TAG) and len(r["data"]) == 2 * 21
    assert r["csim"] == (dialect == "sara_r5")
    st = sim_stats(sim)
    assert st["sessions"] == 0 and st["card_channels"] == []


def test_profile_switch_on_euicc_card_moves_device_to_other_operator(processes, tmp_path):
    sim, link = start_sim(processes, "bg95", "--euicc-state", str(tmp_path / "euicc.json"), card=None)
    dev = start_device(processes, "bg95", link, "refresh")
    dev.expect("READY_FOR_REFRESH", timeout=30)
    control(sim, "switch " + _OP2_ICCID)
    r = result(dev)
    assert (r["imsi1"], r["imsi2"]) == (_OP1_IMSI, _OP2_IMSI)
    assert r["ip1"].startswith("10.1.1.") and r["ip2"].startswith("10.2.2.")
    assert (r["cell"]["mcc"], r["cell"]["mnc"]) == ("001", "02")
    assert r["reopens"] == 1 and r["sw"] == 0x9000
    assert sim_stats(sim)["card_channels"] == []
