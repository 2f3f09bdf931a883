"""The device IPAd's procedures against the project's real eIM (host_tools/eim EimCore, which signs
packages, verifies eUICC results and relays ES9+' to the test SM-DP+) and the eUICC simulator:
SGP.32 v1.2 §3.2.3 indirect download and the generic eUICC package flow, end to end."""

import pytest

from host_tools.eim import core, packages
from host_tools.eim.smdp_adapter import Es9PlusAdapter
from host_tools.euicc_sim.pytest_fixtures import card, test_pki  # noqa: F401
from host_tools.euicc_sim.state import DEFAULT_EIM_ID
from host_tools.smdp.core import SmDp
from ipa import procedures
from ipa.state import IpaState

import ipa_testkit as kit

NEW_ICCID = "8900103000000000033"


@pytest.fixture
def rig(card, test_pki, tmp_path):  # noqa: F811
    smdp = SmDp(test_pki, address="127.0.0.1", db_path=str(tmp_path / "smdp.sqlite"))
    smdp.add_order("")
    eim = core.EimCore(DEFAULT_EIM_ID, test_pki.eim.key, smdp=Es9PlusAdapter(smdp))
    eid = card.state.eid
    eim.register_euicc(eid, euicc_cert=test_pki.euicc_for(eid).cert_der, association_token=1)
    link = kit.CardLink(card)
    r = kit.Rig(link, lambda msg: eim.handle_ipa_message(None, msg) or b"", chunk=1024)
    ipa = procedures.Ipa(IpaState(str(tmp_path / "ipa.json")), channel=link.channel)
    return eim, card, r, ipa, eid


def _states(eim, eid):
    return [(p["kind"], p["state"]) for p in eim.package_list(eid)]


def test_download_then_enable_through_real_eim(rig):
    eim, card, r, ipa, eid = rig
    eim.queue(eid, packages.PROFILE_DOWNLOAD_TRIGGER, {"activationCode": "1$127.0.0.1$"})
    res = r.run(ipa.poll())
    h = res["handled"][0]
    assert h["installed"] is True
    assert card.state.profile_by_iccid(NEW_ICCID)["state"] == "disabled"
    assert h["acks"] and res["retry_ms"] > 0
    eim.queue(eid, packages.EUICC_PACKAGE, {"psmo": [{"op": "enable", "iccid": NEW_ICCID}]})
    res = r.run(ipa.poll())
    assert res["handled"][0]["result"] == "signed"
    assert res["handled"][0]["results"] == [("enable", 0)]
    assert card.enabled_profile()["iccid"] == NEW_ICCID
    # The eIM verified both results and saw their sequence numbers acknowledged.
    states = _states(eim, eid)
    assert len(states) == 2 and all(s == "acknowledged" for _, s in states), states
    assert card.state.data["package_results"] == []


def test_replayed_package_reported_to_real_eim(rig):
    eim, card, r, ipa, eid = rig
    eim.queue(eid, packages.EUICC_PACKAGE, {"psmo": [{"op": "disable",
                                                      "iccid": "8900101000000000017"}]})
    first = {}

    def capture(action):
        if "es10b" in action and bytes(action["es10b"][:2]) == b"\xbf\x51":
            first.setdefault("pkg", bytes(action["es10b"]))
        return r(action)
    procedures.drive(ipa.poll(), capture)
    # Replaying the identical signed package straight into the eUICC earns replayError.
    out = r.run(ipa.execute_euicc_package(first["pkg"]))
    assert out["result"] == "errorSigned" and out["errorCode"] == 4
