"""Fault injection through the simulator: a modem reboot in the middle of a command (boot
URCs), a URC storm, a command that is never answered, 30 % garbled lines, lost URCs, and a
profile switch with REFRESH.  The engine must recover with no channel leak and no stuck
coroutine (lock free, nothing pending, the process ends)."""

import pytest

from modem_fakecard import PROFILES
from modem_simctl import UdpEcho, control, result, run_device, sim_stats, start_device, start_sim


@pytest.mark.parametrize("dialect", ["bg95", "nrf91_slm", "sim7080"])
def test_reset_mid_command_urc_storm_and_no_answer_recover(processes, dialect):
    sim, link = start_sim(processes, dialect)
    control(sim, "reset_on AT+CIMI")
    control(sim, "storm_on AT+CGSN 3000")
    control(sim, "mute_on AT+CEREG?")
    r = run_device(processes, dialect, link, "faults", 40, timeout=90)
    assert r["imsi"] == PROFILES[0]["imsi"] and r["resets"] >= 1
    assert r["imei"] == "490154203237518"
    assert r["storm_heap_delta"] < 4096, r["storm_heap_delta"]
    assert r["stats"]["urcs"] + r["stats"]["unsolicited"] >= 3000
    assert r["mute"] == "timeout" and r["ok"] == 40
    assert r["channels_left"] == 0 and r["lock_free"] and not r["pending"]
    st = sim_stats(sim)
    assert st["sessions"] == 0 and st["card_channels"] == [] and st["counters"]["resets"] == 1


@pytest.mark.parametrize("dialect", ["bg95", "sim7080", "nrf91_slm"])
def test_30_percent_garbled_lines(processes, dialect):
    echo = UdpEcho()
    try:
        sim, link = start_sim(processes, dialect, "--garble", "0.3", "--seed", "7")
        u = run_device(processes, dialect, link, "udp", "127.0.0.1", echo.port)
        a = run_device(processes, dialect, link, "apdu")
    finally:
        echo.close()
    assert u["echoed"] == [True, True, True] and a["store_sw"] == 0x9000 and a["store_len"] == 300
    assert u["stats"]["garbled"] + a["stats"]["garbled"] > 5
    assert sim_stats(sim)["counters"]["garbage"] > 5


@pytest.mark.parametrize("dialect", ["sara_r5", "bg95"])
def test_lost_data_urcs_recovered_by_polling(processes, dialect):
    echo = UdpEcho()
    try:
        sim, link = start_sim(processes, dialect)
        control(sim, "drop_urc 1.0")  # after start: registration URCs are lost as well
        r = run_device(processes, dialect, link, "udp", "127.0.0.1", echo.port, 200)
    finally:
        echo.close()
    assert r["echoed"] == [True, True, True]
    assert sim_stats(sim)["counters"]["dropped_urcs"] >= 3


@pytest.mark.parametrize("dialect", ["bg95", "sara_r5"])
def test_profile_switch_refresh_reopens_channel_and_reattaches_on_new_network(processes, dialect):
    sim, link = start_sim(processes, dialect)
    dev = start_device(processes, dialect, link, "refresh")
    dev.expect("READY_FOR_REFRESH", timeout=30)
    control(sim, "switch " + PROFILES[1]["iccid"])
    r = result(dev)
    assert r["imsi1"] == PROFILES[0]["imsi"] and r["imsi2"] == PROFILES[1]["imsi"]
    assert r["ip1"].startswith("10.42.0.") and r["ip2"].startswith("10.77.3.")
    assert r["cell"]["mcc"] == "262" and r["cell"]["mnc"] == "95"
    assert r["sim_events"] >= 1 and r["reopens"] == 1 and r["sw"] == 0x9000
    st = sim_stats(sim)
    assert st["sessions"] == 0 and st["card_channels"] == []


def test_silent_reboot_sara_r5_timeout_then_reinit(processes):
    # the R5 prints no boot banner: the command in flight times out, the next one re-inits
    sim, link = start_sim(processes, "sara_r5")
    control(sim, "reset_on AT+CIMI")
    r = run_device(processes, "sara_r5", link, "silent_reboot")
    assert r["first"] == "AtTimeout" and r["imsi"] == PROFILES[0]["imsi"]
    assert r["cmee_errors_numeric"] is True
