"""LoadEuiccPackage (SGP.32 v1.2 5.9.x, BF51): every PSMO and eCO run from an eIM-signed
package, the eUICC-signed EuiccPackageResult verified, and the refusal paths
(replayError, invalidEid, bad eIM signature)."""

import pytest

from host_tools import sgp32_oracle as oracle
from host_tools.euicc_sim import package
from host_tools.euicc_sim.state import iccid_to_bytes

OP1 = "8900101000000000017"
OP2 = "8900102000000000025"


class Eim:
    """The test eIM: keeps the counter and builds signed packages."""

    def __init__(self, card, eim_id="test-eim", token=1):
        self.card = card
        self.eim_id = eim_id
        self.token = token
        self.counter = 0
        self.key = card.pki.eim.key

    def request(self, pkg, counter=None, eid=None, tamper=False, txid=None):
        if counter is None:
            self.counter += 1
            counter = self.counter
        return package.build_request(self.key, self.eim_id, eid or self.card.state.eid, counter,
                                     pkg, association_token=self.token, transaction_id=txid,
                                     tamper=tamper)

    def run(self, isdr, pkg, **kw):
        der = isdr.es10(self.request(pkg, **kw))
        return package.verify_result(der, self.card.isdr.euicc.cert.public_key(), self.token)


def results(res):
    assert res[0] == "euiccPackageResultSigned", res
    return res[1]["euiccPackageResultDataSigned"]["euiccResult"]


@pytest.fixture
def eim(card):
    return Eim(card)


def test_psmo_enable_with_rollback_then_profile_rollback(card, isdr, eim):
    refreshed = []
    card.on_refresh = lambda: refreshed.append(card.enabled_profile()["iccid"])
    res = eim.run(isdr, ("psmoList", [("enable", {"iccid": iccid_to_bytes(OP2),
                                                  "rollbackFlag": 0})]))
    data = res[1]["euiccPackageResultDataSigned"]
    assert data["euiccResult"] == [("enableResult", 0)]
    assert data["eimId"] == "test-eim" and data["counterValue"] == 1
    assert card.enabled_profile() == {"iccid": OP2, "imsi": "001020000000025", "mcc": "001",
                                      "mnc": "02", "apn": "internet.op2"}
    assert refreshed == [OP2]
    # connectivity on OP2 "failed": the IPAd asks for rollback
    rsp = oracle.decode("ProfileRollbackResponse",
                        isdr.es10(oracle.encode("ProfileRollbackRequest", {"refreshFlag": True})))
    assert rsp["cmdResult"] == 0
    assert card.enabled_profile()["iccid"] == OP1
    assert refreshed == [OP2, OP1]
    epr = oracle.encode("EuiccPackageResult", rsp["eUICCPackageResult"])
    assert results(package.verify_result(epr, card.isdr.euicc.cert.public_key(), 1)) == \
        [("rollbackResult", 0)]
    # no second rollback
    rsp = oracle.decode("ProfileRollbackResponse",
                        isdr.es10(oracle.encode("ProfileRollbackRequest", {"refreshFlag": True})))
    assert rsp["cmdResult"] == 1


def test_psmo_enable_errors(isdr, eim):
    assert results(eim.run(isdr, ("psmoList", [("enable", {"iccid": iccid_to_bytes(OP1)})]))) == \
        [("enableResult", 2)]   # already enabled
    assert results(eim.run(isdr, ("psmoList", [("enable", {"iccid": b"\x98" + b"\x00" * 9})]))) \
        == [("enableResult", 1)]


def test_psmo_disable_and_delete(card, isdr, eim):
    refreshed = []
    card.on_refresh = lambda: refreshed.append(card.enabled_profile())
    assert results(eim.run(isdr, ("psmoList", [("delete", {"iccid": iccid_to_bytes(OP1)})]))) == \
        [("deleteResult", 2)]   # enabled profiles cannot be deleted
    assert results(eim.run(isdr, ("psmoList", [("disable", {"iccid": iccid_to_bytes(OP1)}),
                                               ("delete", {"iccid": iccid_to_bytes(OP1)})]))) == \
        [("disableResult", 0), ("deleteResult", 0)]
    assert refreshed == [None]
    assert card.enabled_profile() is None
    assert [p["iccid"] for p in card.state.data["profiles"]] == [OP2]
    # processing stops at the first failing PSMO
    assert results(eim.run(isdr, ("psmoList", [("disable", {"iccid": iccid_to_bytes(OP2)}),
                                               ("delete", {"iccid": iccid_to_bytes(OP2)})]))) == \
        [("disableResult", 2)]


def test_psmo_list_profile_info_and_get_rat(isdr, eim):
    res = results(eim.run(isdr, ("psmoList", [
        ("listProfileInfo", {"searchCriteria": ("iccid", iccid_to_bytes(OP2))}), ("getRAT", {})])))
    kind, infos = res[0][1]
    assert res[0][0] == "listProfileInfoResult" and kind == "profileInfoListOk"
    assert len(infos) == 1 and infos[0]["profileState"] == 0
    assert infos[0]["profileOwner"]["mccMnc"] == bytes.fromhex("00F120")
    assert res[1] == ("getRATResult", [])


def test_psmo_configure_immediate_enable_and_default_dp(card, isdr, eim):
    res = results(eim.run(isdr, ("psmoList", [
        ("configureImmediateEnable", {"immediateEnableFlag": 0,
                                      "defaultSmdpAddress": "smdp.example"}),
        ("setDefaultDpAddress", {"defaultDpAddress": "127.0.0.1:8443"})])))
    assert res == [("configureImmediateEnableResult", 0),
                   ("setDefaultDpAddressResult", {"setDefaultDpAddressResult": 0})]
    assert card.state.data["immediate_enable"]["flag"] is True
    addrs = oracle.decode("EuiccConfiguredAddressesResponse", isdr.es10(bytes.fromhex("BF3C00")))
    assert addrs["defaultDpAddress"] == "127.0.0.1:8443"


def test_psmo_fallback_attribute(card, isdr, eim):
    assert results(eim.run(isdr, ("psmoList", [("unsetFallbackAttribute", {})]))) == \
        [("unsetFallbackAttributeResult", 2)]
    assert results(eim.run(isdr, ("psmoList", [
        ("setFallbackAttribute", {"iccid": iccid_to_bytes(OP2)})]))) == \
        [("setFallbackAttributeResult", 0)]
    assert card.state.profile_by_iccid(OP2)["fallback"] is True
    assert results(eim.run(isdr, ("psmoList", [("unsetFallbackAttribute", {})]))) == \
        [("unsetFallbackAttributeResult", 0)]


def test_eco_add_update_list_delete_eim(card, isdr, eim):
    new_cert = oracle.decode("Certificate", card.pki.eim.cert_der)
    res = results(eim.run(isdr, ("ecoList", [("addEim", {
        "eimId": "eim-two", "eimFqdn": "127.0.0.1:9999", "eimIdType": 2, "counterValue": 10,
        "associationToken": 0, "eimPublicKeyData": ("eimCertificate", new_cert),
        "eimSupportedProtocol": (0b10100, 5)})])))
    assert res == [("addEimResult", ("associationToken", 2))]
    assert results(eim.run(isdr, ("ecoList", [("addEim", {
        "eimId": "eim-two", "eimPublicKeyData": ("eimCertificate", new_cert)})]))) == \
        [("addEimResult", ("addEimResultCode", 2))]
    assert results(eim.run(isdr, ("ecoList", [("updateEim", {
        "eimId": "eim-two", "eimFqdn": "127.0.0.1:7777"})]))) == [("updateEimResult", 0)]
    assert card.state.eim("eim-two")["fqdn"] == "127.0.0.1:7777"
    assert results(eim.run(isdr, ("ecoList", [("updateEim", {"eimId": "nope"})]))) == \
        [("updateEimResult", 1)]
    res = results(eim.run(isdr, ("ecoList", [("listEim", {})])))
    assert res == [("listEimResult", ("eimIdList", [{"eimId": "test-eim", "eimIdType": 2},
                                                    {"eimId": "eim-two", "eimIdType": 2}]))]
    # the second eIM can now manage the card with its own counter (starts above 10)
    eim2 = Eim(card, "eim-two", token=2)
    eim2.counter = 10
    assert results(eim2.run(isdr, ("ecoList", [("deleteEim", {"eimId": "test-eim"})]))) == \
        [("deleteEimResult", 0)]
    assert results(eim2.run(isdr, ("ecoList", [("deleteEim", {"eimId": "eim-two"})]))) == \
        [("deleteEimResult", 2)]   # lastEimDeleted
    assert card.state.data["eims"] == []


def test_replay_error_counter_not_increasing(isdr, eim):
    pkg = ("psmoList", [("getRAT", {})])
    eim.run(isdr, pkg, counter=5)
    for stale in (5, 4):
        res = eim.run(isdr, pkg, counter=stale)
        assert res[0] == "euiccPackageErrorSigned"
        assert res[1]["euiccPackageErrorDataSigned"]["euiccPackageErrorCode"] == 4
    assert results(eim.run(isdr, pkg, counter=6)) == [("getRATResult", [])]


def test_wrong_eid_invalid_eid_error(isdr, eim):
    res = eim.run(isdr, ("psmoList", [("getRAT", {})]), eid="89049032123451234512345678901140")
    assert res[0] == "euiccPackageErrorSigned"
    assert res[1]["euiccPackageErrorDataSigned"]["euiccPackageErrorCode"] == 3


def test_bad_eim_signature_unsigned_error(card, isdr, eim):
    res = eim.run(isdr, ("psmoList", [("disable", {"iccid": iccid_to_bytes(OP1)})]), tamper=True,
                  txid=b"\x01\x02")
    assert res == ("euiccPackageErrorUnsigned", {"eimId": "test-eim",
                                                 "eimTransactionId": b"\x01\x02"})
    assert card.enabled_profile()["iccid"] == OP1
    # a signature made without the association token does not verify either
    eim.token = None
    der = eim.request(("psmoList", [("getRAT", {})]))
    assert oracle.decode("EuiccPackageResult", isdr.es10(der))[0] == "euiccPackageErrorUnsigned"


def test_results_and_notifications_retrievable_then_removed(card, isdr, eim):
    eim.run(isdr, ("psmoList", [("enable", {"iccid": iccid_to_bytes(OP2)})]))
    kind, lst = oracle.decode("RetrieveNotificationsListResponse", isdr.es10(
        oracle.encode("RetrieveNotificationsListRequest",
                      {"searchCriteria": ("euiccPackageResults", 0)})))
    assert kind == "euiccPackageResultList" and len(lst) == 1
    seq = lst[0][1]["euiccPackageResultDataSigned"]["seqNumber"]
    kind, notes = oracle.decode("RetrieveNotificationsListResponse",
                                isdr.es10(bytes.fromhex("BF2B00")))
    ops = [n[1]["tbsOtherNotification"]["profileManagementOperation"] for n in notes]
    assert ops == [(0b0010, 4), (0b0100, 4)]   # disable OP1, enable OP2
    ipa = oracle.decode("IpaEuiccDataResponse", isdr.es10(oracle.encode(
        "IpaEuiccDataRequest", {"tagList": bytes.fromhex("A0A2BF2084")})))
    assert ipa[0] == "ipaEuiccData"
    assert len(ipa[1]["notificationsList"]) == 2 and len(ipa[1]["euiccPackageResultList"]) == 1
    assert ipa[1]["associationToken"] == 1
    for s in [seq] + [n[1]["tbsOtherNotification"]["seqNumber"] for n in notes]:
        rsp = oracle.decode("NotificationSentResponse", isdr.es10(
            oracle.encode("NotificationSentRequest", {"seqNumber": s})))
        assert rsp == {"deleteNotificationStatus": 0}
    assert card.state.data["notifications"] == [] and card.state.data["package_results"] == []
