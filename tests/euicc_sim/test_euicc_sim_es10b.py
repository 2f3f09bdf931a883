"""ES10b functions other than eUICC packages and download (SGP.32 v1.2 5.9), persistence of the
eUICC state across a reload, and the state CLI."""

import json
import subprocess
import sys

import harness
from host_tools import pki as _pki
from host_tools import sgp32_oracle as oracle
from host_tools.euicc_sim.card import Card
from host_tools.euicc_sim.client import IsdrClient
from host_tools.euicc_sim.state import iccid_to_bytes


def test_get_euicc_info1_and_info2(card, isdr):
    info1 = oracle.decode("EUICCInfo1", isdr.es10(bytes.fromhex("BF2000")))
    assert info1["euiccCiPKIdListForVerification"] == [card.pki.ci_ski]
    info2 = oracle.decode("EUICCInfo2", isdr.es10(bytes.fromhex("BF2200")))
    assert info2["iotSpecificInfo"]["iotVersion"] == [b"\x01\x02\x00"]
    assert info2["ipaMode"] == 0
    assert info2["euiccCiPKIdListForSigning"] == [card.pki.ci_ski]


def test_get_euicc_challenge_fresh_each_time(isdr):
    a = oracle.decode("GetEuiccChallengeResponse", isdr.es10(bytes.fromhex("BF2E00")))
    b = oracle.decode("GetEuiccChallengeResponse", isdr.es10(bytes.fromhex("BF2E00")))
    assert len(a["euiccChallenge"]) == 16 and a != b


def test_profile_info_list_search_criteria(isdr):
    kind, infos = oracle.decode("ProfileInfoListResponse", isdr.es10(bytes.fromhex("BF2D00")))
    assert kind == "profileInfoListOk"
    assert [(i["iccid"], i["profileState"]) for i in infos] == [
        (iccid_to_bytes("8900101000000000017"), 1), (iccid_to_bytes("8900102000000000025"), 0)]
    req = oracle.encode("ProfileInfoListRequest", {"searchCriteria": ("profileClass", 0)})
    assert oracle.decode("ProfileInfoListResponse", isdr.es10(req)) == ("profileInfoListOk", [])


def test_get_eim_configuration_search_by_id(isdr):
    req = oracle.encode("GetEimConfigurationDataRequest", {"searchCriteria": ("eimId", "test-eim")})
    lst = oracle.decode("GetEimConfigurationDataResponse", isdr.es10(req))
    conf = lst["eimConfigurationDataList"][0]
    assert conf["eimFqdn"] == "127.0.0.1" and "indirectProfileDownload" in conf


def test_memory_reset_eim_config_then_add_initial_eim(card, isdr):
    rsp = oracle.decode("EuiccMemoryResetResponse", isdr.es10(oracle.encode(
        "EuiccMemoryResetRequest", {"resetOptions": (0b0000010, 7)})))
    assert rsp == {"resetResult": 0, "resetEimResult": 0}
    assert card.state.data["eims"] == []
    conf = {"eimId": "eim-new", "eimFqdn": "127.0.0.1:4443", "eimIdType": 2, "counterValue": 0,
            "associationToken": 0,
            "eimPublicKeyData": ("eimCertificate", oracle.decode("Certificate",
                                                                 card.pki.eim.cert_der))}
    req = oracle.encode("AddInitialEimRequest", {"eimConfigurationDataList": [conf]})
    kind, res = oracle.decode("AddInitialEimResponse", isdr.es10(req))
    assert kind == "addInitialEimOk" and res[0][0] == "associationToken"
    # only while no eIM is associated
    assert oracle.decode("AddInitialEimResponse", isdr.es10(req)) == ("addInitialEimError", 2)
    # an eIM without key data is refused (commandError)
    card.state.data["eims"] = []
    bad = oracle.encode("AddInitialEimRequest", {"eimConfigurationDataList": [{"eimId": "x"}]})
    assert oracle.decode("AddInitialEimResponse", isdr.es10(bad)) == ("addInitialEimError", 7)


def test_memory_reset_operational_profiles_refreshes(card, isdr):
    refreshed = []
    card.on_refresh = lambda: refreshed.append(True)
    rsp = oracle.decode("EuiccMemoryResetResponse", isdr.es10(oracle.encode(
        "EuiccMemoryResetRequest", {"resetOptions": (0b1, 1)})))
    assert rsp == {"resetResult": 0}
    assert card.state.data["profiles"] == [] and card.enabled_profile() is None
    assert refreshed == [True]


def test_immediate_enable_needs_configuration_and_new_profile(isdr):
    rsp = oracle.decode("ImmediateEnableResponse", isdr.es10(oracle.encode(
        "ImmediateEnableRequest", {"refreshFlag": True})))
    assert rsp == {"immediateEnableResult": 1}
    rsp = oracle.decode("ConfigureImmediateProfileEnablingResponse", isdr.es10(oracle.encode(
        "ConfigureImmediateProfileEnablingRequest", {"immediateEnableFlag": 0})))
    assert rsp == {"configImmediateEnableResult": 0}


def test_get_certs_wrong_ci_error(isdr):
    req = oracle.encode("GetCertsRequest", {"euiccCiPKId": b"\x00" * 20})
    assert oracle.decode("GetCertsResponse", isdr.es10(req)) == ("getCertsError", 1)


def test_unknown_function_6A88(isdr):
    import pytest
    from host_tools.euicc_sim.client import SwError
    with pytest.raises(SwError) as exc:
        isdr.es10(bytes.fromhex("BF7F00"))
    assert exc.value.sw == 0x6A88


def test_persisted_state_survives_reload(tmp_path, test_pki):
    path = str(tmp_path / "e.json")
    card = Card(state_path=path, pki=test_pki)
    client = IsdrClient(card)
    client.open()
    client.es10(oracle.encode("SetDefaultDpAddressRequest", {"defaultDpAddress": "dp.test"}))
    card.isdr.enable("8900102000000000025")
    card.state.save()
    eid = card.state.eid
    again = Card(state_path=path, pki=test_pki)
    assert again.state.eid == eid
    assert again.enabled_profile()["iccid"] == "8900102000000000025"
    assert again.state.data["default_dp_address"] == "dp.test"
    assert [n["event"] for n in again.state.data["notifications"]] == [2, 1]
    with open(path) as f:
        assert json.load(f)["eid"] == eid


def test_state_cli_show_and_reset(tmp_path, test_pki):
    path = str(tmp_path / "cli.json")
    card = Card(state_path=path, pki=test_pki)
    card.isdr.enable("8900102000000000025")
    card.state.save()
    cmd = [sys.executable, "-m", "host_tools.euicc_sim"]
    common = ["--state", path, "--pki", test_pki.directory]
    out = subprocess.run(cmd + ["show"] + common, capture_output=True, text=True, timeout=60,
                         cwd=harness.ROOT,
                         check=True).stdout
    assert "8900102000000000025  enabled" in out
    subprocess.run(cmd + ["reset"] + common, capture_output=True, text=True, timeout=60, check=True,
                   cwd=harness.ROOT)
    assert Card(state_path=path, pki=test_pki).enabled_profile()["iccid"] == "8900101000000000017"
    subprocess.run(cmd + ["set-eim", "--fqdn", "127.0.0.1:4711"] + common, capture_output=True,
                   text=True, timeout=60, check=True, cwd=harness.ROOT)
    assert Card(state_path=path, pki=test_pki).state.eim("test-eim")["fqdn"] == "127.0.0.1:4711"


def test_card_with_other_eid_uses_matching_euicc_certificate(test_pki):
    from cryptography import x509
    base = "890490320000000000000000000042"
    eid = base + "%02d" % (98 - int(base + "00") % 97)   # valid check digits
    card = Card(eid=eid, pki=test_pki)
    client = IsdrClient(card)
    client.open()
    got = oracle.decode("GetEuiccDataResponse", client.es10(bytes.fromhex("BF3E035C015A")))
    assert got["eidValue"].hex() == eid
    cert = card.isdr.euicc.cert
    assert cert.subject.get_attributes_for_oid(x509.NameOID.SERIAL_NUMBER)[0].value == eid
    assert _pki.cert_verifies(cert, test_pki.eum.cert)
