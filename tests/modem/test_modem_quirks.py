"""UICC access under each quirk profile of firmware/modem/uicc.py QUIRKS, the simulator
playing the same profile: bare +CCHO answers, large session ids, no +CCHO (+CSIM with MANAGE
CHANNEL by hand), +CSIM line caps (smaller segments), slow +CGLA, +CME ERROR: 13 without an
enabled profile; and stale channels left by an earlier run are closed at start."""

import pytest

from modem_simctl import run_device, sim_stats, start_sim


@pytest.mark.parametrize("quirks,csim,segment", [
    ("standard", False, 255),
    ("nrf91_slm", False, 255),
    ("bg95", False, 255),       # session ids above 2**31
    ("sim7080", False, 255),    # bare +CCHO answer, slow +CGLA
    ("sara_r5", True, 131),     # no +CCHO, 300-character command cap
    ("raw_cla", False, 255),    # +CGLA forwards CLA unchanged: the channel is coded by us
])
def test_quirk_profile_apdu_flow(processes, quirks, csim, segment):
    sim, link = start_sim(processes, "bg95", "--quirks", quirks)
    r = run_device(processes, "bg95", link, "apdu", quirks, 700)
    assert (r["csim"], r["segment"]) == (csim, segment)
    assert r["store_sw"] == 0x9000 and r["store_len"] == 300 and r["eid_sw"] == 0x9000
    assert r["round_trips"] == -(-700 // segment) + 2
    st = sim_stats(sim)
    assert st["sessions"] == 0 and st["card_channels"] == []
    assert st["counters"]["csim" if csim else "cgla"] > 0


def test_cme13_without_enabled_profile_falls_back_to_csim(processes):
    sim, link = start_sim(processes, "nrf91_slm", "--euicc-state", "none")
    r = run_device(processes, "nrf91_slm", link, "apdu", "nrf91_slm", 300)
    assert r["csim"] is True and r["store_sw"] == 0x9000
    st = sim_stats(sim)
    assert st["sessions"] == 0 and st["card_channels"] == []


def test_standard_firmware_fails_on_cme13_profile_with_error_context(processes):
    sim, link = start_sim(processes, "nrf91_slm", "--euicc-state", "none")
    from modem_simctl import start_device

    dev = start_device(processes, "nrf91_slm", link, "apdu", "standard", 300)
    m = dev.expect(r"^(RESULT|FAIL) (.*)", timeout=40)
    assert m.group(1) == "FAIL" and "AT+CGLA" in m.group(2) and "13" in m.group(2)


@pytest.mark.parametrize("dialect", ["bg95", "sara_r5"])
def test_stale_channel_from_previous_run_closed_at_start(processes, dialect):
    sim, link = start_sim(processes, dialect)
    run_device(processes, dialect, link, "stale", "leak")
    assert len(sim_stats(sim)["card_channels"]) == 1
    run_device(processes, dialect, link, "stale")
    st = sim_stats(sim)
    assert st["card_channels"] == [] and st["sessions"] == 0
