"""End to end with the project's eUICC simulator: the eIM's signed package goes to the card as
ES10b.LoadEuiccPackage (STORE DATA chain carrying BF51), the card's signed EuiccPackageResult
comes back through ProvideEimPackageResult, and the eIM verifies euiccSignEPR against the eUICC
certificate from the test PKI (SGP.32 v1.2 3.5 eUICC Package procedure)."""

import binascii

import pytest

from host_tools.euicc_sim.state import DEFAULT_EIM_ID
from host_tools.eim import codec, core, packages

OP1 = "8900101000000000017"
OP2 = "8900102000000000025"
SEED_ASSOCIATION_TOKEN = 1  # the simulator's factory eIM entry


@pytest.fixture
def rig(card, isdr, test_pki):
    eim = core.EimCore(DEFAULT_EIM_ID, test_pki.eim.key)
    eid = card.state.eid
    eim.register_euicc(eid, euicc_cert=test_pki.euicc_for(eid).cert_der,
                       association_token=SEED_ASSOCIATION_TOKEN)
    return eim, card, isdr, eid


def ipa_cycle(eim, client, eid):
    """One IPA retrieve cycle: GetEimPackage -> card -> ProvideEimPackageResult. Returns the
    eIM's ProvideEimPackageResultResponse value (or None when nothing was queued)."""
    answer = eim.handle_ipa_message(None, codec.encode("EsipaMessageFromIpaToEim", (
        "getEimPackageRequest", {"eidValue": binascii.unhexlify(eid)})))
    _, (kind, value) = codec.decode("EsipaMessageFromEimToIpa", answer)
    if kind == "eimPackageError":
        return None
    if kind == "euiccPackageRequest":
        card_answer = client.es10(codec.encode("EuiccPackageRequest", value))
        result = ("euiccPackageResult", codec.decode("EuiccPackageResult", card_answer))
    elif kind == "ipaEuiccDataRequest":
        card_answer = client.es10(codec.encode("IpaEuiccDataRequest", value))
        result = ("ipaEuiccDataResponse", codec.decode("IpaEuiccDataResponse", card_answer))
    else:
        raise AssertionError("unexpected %s" % kind)
    # an EuiccPackageResult is forwarded exactly as the card produced it: the eIM checks the
    # card's signature over those bytes
    if kind == "euiccPackageRequest":
        msg = codec.tlv_encode(b"\xbf\x50", codec.tlv_encode(b"\x5a", binascii.unhexlify(eid))
                               + card_answer)
    else:
        msg = codec.encode("EsipaMessageFromIpaToEim", ("provideEimPackageResult", {
            "eidValue": binascii.unhexlify(eid), "eimPackageResult": result}))
    response = eim.handle_ipa_message(None, msg)
    return codec.decode("EsipaMessageFromEimToIpa", response)[1]


def test_eim_package_enable_on_euicc_sim_result_verified_and_acknowledged(rig):
    eim, card, client, eid = rig
    pid = eim.queue(eid, packages.EUICC_PACKAGE, {"psmo": [{"op": "enable", "iccid": OP2}]})
    response = ipa_cycle(eim, client, eid)
    assert response[0] == "eimAcknowledgements" and len(response[1]) == 1
    assert card.enabled_profile()["iccid"] == OP2
    pkg = eim.package_list(eid)[0]
    assert pkg["id"] == pid and pkg["state"] == "acknowledged"
    assert "enableResult=ok(0)" in pkg["result"] and "(verified," in pkg["result"]


def test_eim_counter_continues_across_packages_on_euicc_sim(rig):
    eim, card, client, eid = rig
    eim.queue(eid, packages.EUICC_PACKAGE, {"psmo": [{"op": "enable", "iccid": OP2}]})
    eim.queue(eid, packages.EUICC_PACKAGE, {"eco": [{"op": "listEim"}]})
    ipa_cycle(eim, client, eid)
    ipa_cycle(eim, client, eid)
    rows = eim.package_list(eid)
    assert [r["counterValue"] for r in rows] == [1, 2]
    assert all("(verified," in r["result"] for r in rows)
    assert "listEimResult=eimIdList" in rows[1]["result"]


def test_eim_replayed_counter_gets_replayError_from_euicc_sim(rig):
    eim, card, client, eid = rig
    eim.queue(eid, packages.EUICC_PACKAGE, {"psmo": [{"op": "getRAT"}]})
    ipa_cycle(eim, client, eid)
    eim.store.set_association(eid, DEFAULT_EIM_ID, counter=0)  # the eIM "forgets" its counter
    eim.queue(eid, packages.EUICC_PACKAGE, {"psmo": [{"op": "getRAT"}]})
    ipa_cycle(eim, client, eid)
    last = eim.package_list(eid)[-1]
    assert last["state"] == "error" and "replayError" in last["result"]
    assert "(verified)" in last["result"]


def test_eim_ipa_euicc_data_from_euicc_sim(rig):
    eim, card, client, eid = rig
    eim.queue(eid, packages.IPA_EUICC_DATA, {})
    ipa_cycle(eim, client, eid)
    row = eim.package_list(eid)[0]
    assert row["state"] == "result" and "euiccCertificate" in row["result"]
    assert bytes(eim.store.euicc(eid)["euicc_cert"]) == card.pki.euicc_for(eid).cert_der


def test_eim_lost_result_recovered_through_ipa_euicc_data_result_list(rig):
    eim, card, client, eid = rig
    pid = eim.queue(eid, packages.EUICC_PACKAGE, {"psmo": [{"op": "enable", "iccid": OP2}]})
    answer = eim.handle_ipa_message(None, codec.encode("EsipaMessageFromIpaToEim", (
        "getEimPackageRequest", {"eidValue": binascii.unhexlify(eid)})))
    _, (_, value) = codec.decode("EsipaMessageFromEimToIpa", answer)
    client.es10(codec.encode("EuiccPackageRequest", value))  # its result never reaches the eIM
    assert eim.package_list(eid)[0]["state"] == "delivered"
    eim.queue(eid, packages.IPA_EUICC_DATA, {"tagList": "a2"})
    response = ipa_cycle(eim, client, eid)
    assert response[0] == "eimAcknowledgements" and len(response[1]) == 1
    rows = {r["id"]: r for r in eim.package_list(eid)}
    assert rows[pid]["state"] == "acknowledged" and "(verified," in rows[pid]["result"]
