"""Every message the IPAd emits, decoded by asn1play's independent SGP.32 pycrate codec (v1.2,
and v1.0 for the eIM version switch): it must parse and re-encode to the very same DER."""

import importlib.util
import os

import pytest

from host_tools import sgp32_oracle as oracle
from ipa import es10b, esipa, tlv

EID = bytes.fromhex("89049032123451234512345678901235")
TXID = bytes.fromhex("0102030405060708090a0b0c0d0e0f10")
CHALLENGE = bytes(range(16))


def _roundtrip(type_name, der):
    value = oracle.decode(type_name, der)
    assert oracle.encode(type_name, value) == der, type_name
    return value


def _v10():
    path = oracle.module_path().replace(os.sep + "v1_2" + os.sep, os.sep + "v1_0" + os.sep)
    spec = importlib.util.spec_from_file_location("_ipa_sgp32_v1_0", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.SGP32Definitions


# A PendingNotification (compactOtherSignedNotification) and an EuiccPackageResult
# (euiccPackageResultSigned), as an eUICC would return them: built with the oracle itself.
EPR = oracle.encode("EuiccPackageResult", ("euiccPackageResultSigned", {
    "euiccPackageResultDataSigned": {"eimId": "eim1", "counterValue": 5, "seqNumber": 9,
                                     "euiccResult": [("enableResult", 0)]},
    "euiccSignEPR": b"\x22" * 64}))
PIR_COMPACT = oracle.encode("PendingNotification", ("compactProfileInstallationResult", {
    "compactProfileInstallationResultData": {
        "transactionId": TXID, "seqNumber": 3,
        "compactFinalResult": ("compactSuccessResult", {"compactAid": b"\x00\x01"})},
    "euiccSignPIR": b"\x33" * 64}))


ES10B_CASES = [
    ("GetEuiccDataRequest", es10b.get_euicc_data()),
    ("GetEimConfigurationDataRequest", es10b.get_eim_configuration_data()),
    ("GetEimConfigurationDataRequest", es10b.get_eim_configuration_data("eim1")),
    ("RetrieveNotificationsListRequest", es10b.retrieve_notifications_list()),
    ("RetrieveNotificationsListRequest", es10b.retrieve_notifications_list(seq=300)),
    ("RetrieveNotificationsListRequest", es10b.retrieve_notifications_list(operation=1)),
    ("RetrieveNotificationsListRequest",
     es10b.retrieve_notifications_list(euicc_package_results=True)),
    ("NotificationSentRequest", es10b.notification_sent(128)),
    ("GetEuiccInfo1Request", es10b.get_euicc_info1()),
    ("GetEuiccInfo2Request", es10b.get_euicc_info2()),
    ("GetEuiccChallengeRequest", es10b.get_euicc_challenge()),
    ("GetCertsRequest", es10b.get_certs()),
    ("EuiccConfiguredAddressesRequest", es10b.euicc_configured_addresses()),
    ("ProfileInfoListRequest", es10b.profile_info_list()),
    ("ProfileInfoListRequest", es10b.profile_info_list(iccid=bytes(10), tag_list=b"\x5a\x9f\x70")),
    ("ProfileRollbackRequest", es10b.profile_rollback(True)),
    ("ImmediateEnableRequest", es10b.immediate_enable(False)),
    ("CancelSessionRequest", es10b.cancel_session(TXID, es10b.REASON_LOAD_BPP_ERROR)),
    ("AddInitialEimRequest", es10b.add_initial_eim([es10b.eim_configuration_data(
        "eim1", fqdn="eim.example", id_type=1, counter=0, protocols=b"\x03\x40",
        indirect=True)])),
]


@pytest.mark.parametrize("type_name,der", ES10B_CASES, ids=[c[0] for c in ES10B_CASES])
def test_es10b_command_decodes_with_independent_codec(type_name, der):
    _roundtrip(type_name, der)


def test_add_initial_eim_public_key_retagged_implicit():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    spki = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    der = es10b.add_initial_eim([es10b.eim_configuration_data("eim1", public_key=spki)])
    v = _roundtrip("AddInitialEimRequest", der)
    key = v["eimConfigurationDataList"][0]["eimPublicKeyData"]
    assert key[0] == "eimPublicKey"


def test_authenticate_server_and_ctx_params1():
    ctx = es10b.ctx_params1("MATCH-1", b"\x35\x29\x06\x00", imei=bytes(8))
    v = _roundtrip("CtxParams1", ctx)
    assert v[1]["matchingId"] == "MATCH-1"


def test_initiate_authentication_v12_and_v10():
    info1 = oracle.encode("EUICCInfo1", {"svn": b"\x02\x05\x00",
                                         "euiccCiPKIdListForVerification": [b"\x01" * 20],
                                         "euiccCiPKIdListForSigning": [b"\x01" * 20]})
    der = esipa.initiate_authentication(CHALLENGE, "smdp.example", info1, TXID)
    v = _roundtrip("EsipaMessageFromIpaToEim", der)
    assert v[0] == "initiateAuthenticationRequestEsipa"
    assert v[1]["eimTransactionId"] == TXID and v[1]["smdpAddress"] == "smdp.example"
    der10 = esipa.initiate_authentication(CHALLENGE, "smdp.example", info1, TXID, esipa.V10)
    m = _v10().EsipaMessageFromIpaToEim
    m.from_ber(der10)
    assert "eimTransactionId" not in m.get_val()[1]
    assert m.to_ber() == der10


def test_get_eim_package_v12_state_change_and_rplmn():
    der = esipa.get_eim_package(EID, True, esipa.CAUSE_IMMEDIATE_ENABLE, b"\x12\xf3\x45")
    v = _roundtrip("EsipaMessageFromIpaToEim", der)
    assert v == ("getEimPackageRequest", {"eidValue": EID, "notifyStateChange": 0,
                                          "stateChangeCause": 5, "rPLMN": b"\x12\xf3\x45"})


def test_get_eim_package_v10_rplmn_at_tag_1():
    der = esipa.get_eim_package(EID, False, esipa.CAUSE_LOCAL, b"\x12\xf3\x45", esipa.V10)
    m = _v10().EsipaMessageFromIpaToEim
    m.from_ber(der)
    assert m.get_val() == ("getEimPackageRequest", {"eidValue": EID, "rPLMN": b"\x12\xf3\x45"})
    assert m.to_ber() == der


def test_provide_result_epr_and_notifications_v12():
    der = esipa.provide_eim_package_result(
        esipa.epr_and_notifications(EPR, [PIR_COMPACT]), eid=EID)
    v = _roundtrip("EsipaMessageFromIpaToEim", der)
    assert v[0] == "provideEimPackageResult"
    res = v[1]["eimPackageResult"]
    assert res[0] == "ePRAndNotifications"
    assert res[1]["notificationList"][0][0] == "compactProfileInstallationResult"


def test_provide_result_epr_and_notifications_v10():
    der = esipa.provide_eim_package_result(
        esipa.epr_and_notifications(EPR, [PIR_COMPACT], esipa.V10), eid=EID, version=esipa.V10)
    m = _v10().EsipaMessageFromIpaToEim
    m.from_ber(der)
    name, val = m.get_val()
    assert name == "provideEimPackageResult" and val[0] == "ePRAndNotifications"
    assert m.to_ber() == der


@pytest.mark.parametrize("result", [
    EPR,
    esipa.result_error(127, TXID),
    esipa.ipa_euicc_data({0xA8: esipa.ipa_capabilities()}, TXID),
    esipa.ipa_euicc_data_error(esipa.IED_INCORRECT_TAG_LIST, TXID),
    esipa.profile_download_trigger_result(TXID, error_reason=127, error_response=b"\xbf\x39"),
], ids=["epr", "error", "ipaEuiccData", "ipaEuiccDataError", "downloadError"])
def test_provide_eim_package_result_alternatives(result):
    _roundtrip("EsipaMessageFromIpaToEim", esipa.provide_eim_package_result(result, eid=EID))


def test_handle_notification_relays_pending_notification():
    v = _roundtrip("EsipaMessageFromIpaToEim", esipa.handle_notification(PIR_COMPACT))
    assert v[0] == "handleNotificationEsipa" and v[1][0] == "pendingNotification"


def test_cancel_session_wraps_euicc_response_explicitly():
    resp = oracle.encode("CancelSessionResponse", ("cancelSessionResponseError", 5))
    v = _roundtrip("EsipaMessageFromIpaToEim", esipa.cancel_session(TXID, resp))
    assert v[1]["cancelSessionResponse"] == ("cancelSessionResponseError", 5)


def test_authenticate_client_and_get_bpp_relay_raw_responses():
    asr = oracle.encode("AuthenticateServerResponse", ("authenticateResponseError", {
        "transactionId": TXID, "authenticateErrorCode": 2}))
    v = _roundtrip("EsipaMessageFromIpaToEim", esipa.authenticate_client(TXID, asr))
    assert v[1]["authenticateServerResponse"][0] == "authenticateResponseError"
    pdr = oracle.encode("PrepareDownloadResponse", ("downloadResponseError", {
        "transactionId": TXID, "downloadErrorCode": 127}))
    v = _roundtrip("EsipaMessageFromIpaToEim", esipa.get_bound_profile_package(TXID, pdr))
    assert v[0] == "getBoundProfilePackageRequestEsipa"


def test_transfer_eim_package_response_alternatives():
    for der in (esipa.transfer_eim_package_response(), esipa.transfer_eim_package_response(
            error=esipa.TEP_UNKNOWN_PACKAGE), esipa.transfer_eim_package_response(result=EPR)):
        _roundtrip("EsipaMessageFromIpaToEim", der)


def test_decode_eim_messages_built_by_independent_codec():
    enc = lambda v: oracle.encode("EsipaMessageFromEimToIpa", v)  # noqa: E731
    name, d = esipa.decode(enc(("getEimPackageResponse", ("eimPackageError", 1))))
    assert (name, d["package"], d["error"]) == ("getEimPackage", "eimPackageError", 1)
    name, d = esipa.decode(enc(("getEimPackageResponse", ("profileDownloadTriggerRequest", {
        "profileDownloadData": ("activationCode", "1$smdp.example$MATCH"),
        "eimTransactionId": TXID}))))
    assert d["activationCode"] == "1$smdp.example$MATCH" and d["eimTransactionId"] == TXID
    name, d = esipa.decode(enc(("getEimPackageResponse", ("ipaEuiccDataRequest", {
        "tagList": b"\xa0\xbf\x20", "searchCriteriaNotification": ("seqNumber", 4),
        "eimTransactionId": TXID}))))
    assert esipa.tag_list(d["tagList"]) == [0xA0, 0xBF20] and d["searchNotification"] == ("seq", 4)
    name, d = esipa.decode(enc(("provideEimPackageResultResponse", ("eimAcknowledgements",
                                                                     [1, 2, 300]))))
    assert d["acks"] == [1, 2, 300]
    name, d = esipa.decode(enc(("provideEimPackageResultResponse", ("emptyResponse", {}))))
    assert d["acks"] == []
    name, d = esipa.decode(enc(("transferEimPackageRequest", ("eimAcknowledgements", [9]))))
    assert (name, d["acks"]) == ("transferEimPackage", [9])
    name, d = esipa.decode(enc(("initiateAuthenticationResponseEsipa",
                                ("initiateAuthenticationErrorEsipa", 3))))
    assert d == {"error": 3}
    name, d = esipa.decode(enc(("getBoundProfilePackageResponseEsipa",
                                ("getBoundProfilePackageErrorEsipa", 95))))
    assert d == {"error": 95}
    name, d = esipa.decode(enc(("cancelSessionResponseEsipa", ("cancelSessionOk", {}))))
    assert name == "cancelSession" and d == {}


def test_parse_euicc_package_result_and_notifications():
    d = es10b.parse_euicc_package_result(EPR)
    assert (d["kind"], d["eimId"], d["counterValue"], d["seqNumber"]) == ("signed", "eim1", 5, 9)
    assert d["results"] == [(0x83, 0)]
    err = oracle.encode("EuiccPackageResult", ("euiccPackageErrorSigned", {
        "euiccPackageErrorDataSigned": {"eimId": "eim1", "counterValue": 5,
                                        "euiccPackageErrorCode": 4},
        "euiccSignEPE": b"\x01" * 64}))
    d = es10b.parse_euicc_package_result(err)
    assert (d["kind"], d["errorCode"]) == ("errorSigned", es10b.EPE_REPLAY)
    lst = oracle.encode("RetrieveNotificationsListResponse", ("notificationList", [
        oracle.decode("PendingNotification", PIR_COMPACT)]))
    kind, items, raw = es10b.parse_notifications_list(lst)
    assert kind == "notifications" and items == [(3, PIR_COMPACT)]
    assert raw == tlv.encode(0xA0, PIR_COMPACT)
    lst = oracle.encode("RetrieveNotificationsListResponse", ("euiccPackageResultList", [
        oracle.decode("EuiccPackageResult", EPR)]))
    assert es10b.parse_notifications_list(lst)[:2] == ("epr", [(9, EPR)])
