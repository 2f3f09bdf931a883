"""Interop between the device IPAd's hand-written ESipa codec (firmware/ipa/esipa.py, imported
under CPython via the micropython shim) and the eIM (pycrate/asn1play): what the IPAd encodes the
eIM understands, and what the eIM answers the IPAd decodes — for the SGP.32 v1.2 retrieve flow."""

import binascii

from eim_fake_euicc import FakeEuicc
from host_tools.eim import codec, core, crypto, packages
from ipa import esipa

EID = "89049032123451234512345678901235"
EID_BYTES = binascii.unhexlify(EID)
EIM_ID = "eim.test.invalid"
ICCID = "8944123456789012345"


def make():
    key = crypto.generate_key()
    eim = core.EimCore(EIM_ID, key)
    card = FakeEuicc(EID, EIM_ID, key.public_key())
    eim.register_euicc(EID, euicc_cert=card.cert_der)
    return eim, card


def test_ipad_get_eim_package_empty_queue_decodes_noEimPackageAvailable():
    eim, _ = make()
    name, d = esipa.decode(eim.handle_ipa_message(None, esipa.get_eim_package(EID_BYTES)))
    assert (name, d["package"], d["error"]) == ("getEimPackage", "eimPackageError",
                                                esipa.NO_EIM_PACKAGE_AVAILABLE)


def test_ipad_retrieve_flow_package_result_acknowledged():
    eim, card = make()
    eim.queue(EID, packages.EUICC_PACKAGE, {"psmo": [{"op": "enable", "iccid": ICCID}]})
    name, d = esipa.decode(eim.handle_ipa_message(None, esipa.get_eim_package(
        EID_BYTES, notify_state_change=True, state_change_cause=esipa.CAUSE_LOCAL)))
    assert (name, d["package"]) == ("getEimPackage", "euiccPackageRequest")
    result = card.load_package(bytes(d["raw"]))
    name, d = esipa.decode(eim.handle_ipa_message(None, esipa.provide_eim_package_result(
        result, eid=EID_BYTES)))
    assert (name, d["acks"]) == ("provideEimPackageResult", [1])
    assert eim.package_list(EID)[0]["state"] == "acknowledged"
    assert any(a["event"] == "state-change" for a in eim.audit_log(EID))


def test_ipad_epr_and_notifications_all_acknowledged():
    eim, card = make()
    eim.queue(EID, packages.EUICC_PACKAGE, {"psmo": [{"op": "disable", "iccid": ICCID}]})
    _, d = esipa.decode(eim.handle_ipa_message(None, esipa.get_eim_package(EID_BYTES)))
    result = card.load_package(bytes(d["raw"]))
    note = codec.encode("PendingNotification", ("compactOtherSignedNotification", {
        "tbsOtherNotification": {"seqNumber": 8, "profileManagementOperation": (0b0010, 4),
                                 "notificationAddress": "smdp.example"},
        "euiccNotificationSignature": bytes(64)}))
    msg = esipa.provide_eim_package_result(esipa.epr_and_notifications(result, [note]),
                                           eid=EID_BYTES)
    name, d = esipa.decode(eim.handle_ipa_message(None, msg))
    assert sorted(d["acks"]) == [1, 8]


def test_ipad_download_trigger_and_result_error():
    eim, _ = make()
    eim.queue(EID, packages.PROFILE_DOWNLOAD_TRIGGER, {"activationCode": "1$smdp.example$MID"})
    name, d = esipa.decode(eim.handle_ipa_message(None, esipa.get_eim_package(EID_BYTES)))
    assert d["package"] == "profileDownloadTriggerRequest"
    txid = eim.package_list(EID)[0]["eimTransactionId"]
    msg = esipa.provide_eim_package_result(esipa.result_error(
        127, eim_transaction_id=binascii.unhexlify(txid)), eid=EID_BYTES)
    name, d = esipa.decode(eim.handle_ipa_message(None, msg))
    assert d["acks"] == []
    pkg = eim.package_list(EID)[0]
    assert pkg["state"] == "error" and "undefinedError(127)" in pkg["result"]


def test_ipad_handle_notification_has_no_answer():
    eim, _ = make()
    note = codec.encode("PendingNotification", ("compactOtherSignedNotification", {
        "eidValue": EID_BYTES,
        "tbsOtherNotification": {"seqNumber": 3, "profileManagementOperation": (0b1000, 4),
                                 "notificationAddress": "smdp.example"},
        "euiccNotificationSignature": bytes(64)}))
    assert eim.handle_ipa_message(None, esipa.handle_notification(note)) is None
    assert eim.store.pending_acks(EID) == [3]
