"""Every dialect against the modem simulator, firmware on the MicroPython Unix port over TCP
(and one over a pty): attach + identity + radio information + object 4 values, UDP
socket-over-AT echo to a host UDP socket, and APDUs on a logical channel."""

import pytest

from modem_simctl import DIALECTS, UdpEcho, run_device, start_sim
from modem_fakecard import EID, PROFILES, store_data_answer
import hashlib


@pytest.mark.parametrize("dialect", DIALECTS)
def test_attach_identity_radio_and_object4_values(processes, dialect):
    sim, link = start_sim(processes, dialect)
    r = run_device(processes, dialect, link, "basic", "iot.nordnett")
    p = PROFILES[0]
    assert r["ip"] == "10.42.0.133"
    assert r["identity"] == {"imei": "490154203237518", "imsi": p["imsi"], "iccid": p["iccid"], "eid": None}
    assert r["signal"]["rsrp"] == -81 and r["rrc"] is True  # +CSCON: 1 URC seen
    assert r["cell"] == {"ci": 0x00011B07, "tac": 0x00B7, "mcc": "242", "mnc": "01"}
    c4 = r["connmon"]
    assert c4["bearer"] == 6 and c4["available"] == [6, 7] and c4["rssi"] == -81
    assert c4["ip_addresses"] == ["10.42.0.133"] and c4["apns"] == ["iot.nordnett"]
    assert (c4["cell_id"], c4["smcc"], c4["smnc"], c4["lac"]) == (0x00011B07, 242, 1, 0xB7)
    o4 = r["obj4"]  # the values as objects/obj_connmon.py holds them after update(**values)
    assert (o4["0"], o4["2"], o4["8"], o4["9"], o4["10"], o4["12"]) == (6, -81, 0x00011B07, 1, 242, 0xB7)
    assert r["stats"]["timeouts"] == 0 and r["stats"]["garbled"] == 0


@pytest.mark.parametrize("dialect", DIALECTS)
def test_udp_socket_over_at_echo(processes, dialect):
    echo = UdpEcho()
    try:
        sim, link = start_sim(processes, dialect)
        r = run_device(processes, dialect, link, "udp", "127.0.0.1", echo.port)
    finally:
        echo.close()
    assert r["echoed"] == [True, True, True]
    assert r["remote"] == ["127.0.0.1", echo.port]
    assert echo.seen == 3 and r["tx_errors"] == 0 and r["dropped_tx"] == 0


@pytest.mark.parametrize("dialect", DIALECTS)
def test_apdu_store_data_chaining_1KB_with_6100_get_response_and_6cxx(processes, dialect):
    sim, link = start_sim(processes, dialect)
    r = run_device(processes, dialect, link, "apdu")
    payload = bytes((i * 7) & 0xFF for i in range(1024))
    assert r["eid"] == EID.hex() and r["eid_sw"] == 0x9000  # 6C10 answered by a resend with Le
    assert r["store_sw"] == 0x9000 and r["store_len"] == 300  # 61 00, then 61 2C
    assert r["store_sha"] == hashlib.sha256(store_data_answer(payload)).hexdigest()
    assert r["csim"] == (dialect == "sara_r5")
    blocks = -(-1024 // r["segment"])
    assert r["round_trips"] == blocks + 2


def test_pty_link_bg95(processes):
    sim, link = start_sim(processes, "bg95", pty=True)
    assert link.startswith("/dev/")
    r = run_device(processes, "bg95", link, "basic")
    assert r["ip"] == "10.42.0.133"


def test_udp_burst_beyond_queue_dropped_not_blocking(processes):
    echo = UdpEcho()
    try:
        sim, link = start_sim(processes, "bg95")
        r = run_device(processes, "bg95", link, "udp_burst", "127.0.0.1", echo.port)
    finally:
        echo.close()
    assert r["dropped_tx"] == 6
    assert r["got"] == ["burst 0", "burst 1", "burst 2", "burst 3"]
