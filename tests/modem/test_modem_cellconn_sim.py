"""Object 10 and SIM identity against the modem simulator (firmware on the Unix port over TCP):
/10 values read from +CPSMS?/+CEDRXS?, a server Write of PSM timers and eDRX applied as
+CPSMS/+CEDRXS commands the modem accepts, ICCID/IMSI read and the IPA's EID put in /3443/0/1."""

import pytest

import harness
from modem_fakecard import PROFILES
from modem_simctl import HERE, result, start_sim

_EID = "89049032123451234512345678901041"


@pytest.mark.parametrize("dialect", ["bg95", "nrf91_slm"])
def test_lwm2m_object10_psm_edrx_and_sim_identity_over_at(processes, dialect):
    sim, link = start_sim(processes, dialect)
    dev = harness.start_micropython("modem_cellconn_app", [dialect, link, _EID], heapsize="256K",
                                    extra_path=[HERE], name="device")
    processes.append(dev)
    r = result(dev)
    # the simulator answers +CPSMS: 0,,,"00100001","00000011" and +CEDRXS: 4,"0101"
    assert r["read"] == {"psm_timer": 3600, "active_timer": 6, "edrx_wb_s1": "05",
                         "active_modes": 2}, r["read"]
    # set_psm + set_edrx for WB-S1 (kept from the read) and NB-S1 (written), all answered OK
    assert r["drained"] and r["errors"] == [] and r["done"] == 3, r
    assert r["obj10_psm"] == 3600
    p = PROFILES[0]
    assert r["identity"] == {"imei": "490154203237518", "imsi": p["imsi"], "iccid": p["iccid"],
                             "eid": _EID}
    assert r["obj3443_eid"] == _EID and r["obj3_serial"] != p["iccid"]
    assert r["stats"]["timeouts"] == 0
