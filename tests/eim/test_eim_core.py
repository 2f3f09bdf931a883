"""EimCore (SGP.32 v1.2 eIM) through its transport-neutral entry handle_ipa_message().

Tests are named after the SGP.32 clause or flow they prove. Signatures are checked with
`cryptography` directly (eim_fake_euicc), never with the eIM's own verify code."""

import binascii

import pytest
from hypothesis import given, settings, strategies as st

from eim_fake_euicc import FakeEuicc, make_key_and_cert, raw_verify, split_package_request
from host_tools.eim import codec, core, crypto, packages
from host_tools.eim.store import Store

EID = "89049032123451234512345678901235"
EID2 = "89049032123451234512345678901243"
EIM_ID = "eim.test.invalid"
ICCID = "8944123456789012345"


@pytest.fixture
def eim():
    key = crypto.generate_key()
    c = core.EimCore(EIM_ID, key, Store(":memory:"))
    card = FakeEuicc(EID, EIM_ID, key.public_key())
    c.register_euicc(EID, euicc_cert=card.cert_der)
    c.card = card
    return c


def ipa(alternative, value):
    return codec.encode("EsipaMessageFromIpaToEim", (alternative, value))


def get_package(c, eid=EID):
    answer = c.handle_ipa_message(None, ipa("getEimPackageRequest",
                                            {"eidValue": binascii.unhexlify(eid)}))
    alt, value = codec.decode("EsipaMessageFromEimToIpa", answer)
    assert alt == "getEimPackageResponse"
    return answer, value


def provide_result(c, result_value, eid=EID):
    answer = c.handle_ipa_message(None, ipa("provideEimPackageResult", {
        "eidValue": binascii.unhexlify(eid), "eimPackageResult": result_value}))
    alt, value = codec.decode("EsipaMessageFromEimToIpa", answer)
    assert alt == "provideEimPackageResultResponse"
    return value


def raw_package_request(answer):
    """The BF51 TLV inside a GetEimPackageResponse, by raw offsets (no re-encoding)."""
    assert answer[:2] == b"\xbf\x4f"
    _, voff, _ = codec.tlv_header(answer)
    tag, inner, ln = codec.tlv_header(answer, voff)
    assert tag == b"\xbf\x51"
    return answer[voff:inner + ln]


def test_get_eim_package_empty_queue_noEimPackageAvailable(eim):
    _, value = get_package(eim)
    assert value == ("eimPackageError", core.NO_EIM_PACKAGE_AVAILABLE)


def test_get_eim_package_unknown_eid_eidNotFound(eim):
    _, value = get_package(eim, EID2)
    assert value == ("eimPackageError", core.EID_NOT_FOUND)


def test_get_eim_package_short_eid_invalidEid(eim):
    answer = eim.handle_ipa_message(None, bytes.fromhex("bf4f055a03123456"))
    assert codec.decode("EsipaMessageFromEimToIpa", answer) == (
        "getEimPackageResponse", ("eimPackageError", core.INVALID_EID))


def test_get_eim_package_without_eid_missingEid(eim):
    answer = eim.handle_ipa_message(None, bytes.fromhex("bf4f028000"))
    assert codec.decode("EsipaMessageFromEimToIpa", answer) == (
        "getEimPackageResponse", ("eimPackageError", core.MISSING_EID))


def test_euicc_package_request_eimSignature_over_signed_and_association_token_2_11_1_1(eim):
    eim.queue(EID, packages.EUICC_PACKAGE, {"psmo": [{"op": "enable", "iccid": ICCID}]})
    answer, value = get_package(eim)
    assert value[0] == "euiccPackageRequest"
    signed, sig = split_package_request(raw_package_request(answer))
    assert len(sig) == 64  # r||s, not X9.62 DER
    pub = eim.signing_key.public_key()
    assert raw_verify(pub, signed + b"\x84\x01\x00", sig)
    assert not raw_verify(pub, signed, sig)  # the token DO is part of the signed data
    decoded = codec.decode("EuiccPackageSigned", signed)
    assert decoded["eimId"] == EIM_ID and decoded["eidValue"] == binascii.unhexlify(EID)
    assert decoded["euiccPackage"] == ("psmoList", [("enable", {"iccid": packages.iccid_bytes(ICCID)})])


def test_eimSignature_uses_configured_association_token(eim):
    eim.register_euicc(EID, association_token=300)
    eim.queue(EID, packages.EUICC_PACKAGE, {"psmo": [{"op": "getRAT"}]})
    answer, _ = get_package(eim)
    signed, sig = split_package_request(raw_package_request(answer))
    assert raw_verify(eim.signing_key.public_key(), signed + b"\x84\x02\x01\x2c", sig)


def test_counterValue_strictly_increasing_per_association(eim):
    eim.register_euicc(EID2)
    eim.register_euicc(EID, counter=41)
    for _ in range(3):
        eim.queue(EID, packages.EUICC_PACKAGE, {"psmo": [{"op": "getRAT"}]})
        eim.queue(EID2, packages.EUICC_PACKAGE, {"psmo": [{"op": "getRAT"}]})
    seen = {EID: [], EID2: []}
    for _ in range(3):
        for eid in (EID, EID2):
            _, (_, req) = get_package(eim, eid)
            seen[eid].append(req["euiccPackageSigned"]["counterValue"])
    assert seen[EID] == [42, 43, 44]
    assert seen[EID2] == [1, 2, 3]


def test_queue_deliver_result_acknowledged_audit_trail(eim):
    pid = eim.queue(EID, packages.EUICC_PACKAGE, {"psmo": [{"op": "enable", "iccid": ICCID,
                                                            "rollback": True}]})
    answer, _ = get_package(eim)
    result = eim.card.load_package(raw_package_request(answer))
    response = provide_result(eim, ("euiccPackageResult",
                                    codec.decode("EuiccPackageResult", result)))
    assert response == ("eimAcknowledgements", [1])
    events = [(a["event"], a["package_id"]) for a in eim.audit_log(EID) if a["package_id"] == pid]
    assert [e for e, _ in events] == ["queued", "delivered", "result", "acknowledged"]
    pkg = eim.package_list(EID)[0]
    assert pkg["state"] == "acknowledged" and pkg["seqNumber"] == 1
    assert "enableResult=ok(0)" in pkg["result"] and "verified" in pkg["result"]
    # nothing left: the next result answer carries no acknowledgement twice
    _, value = get_package(eim)
    assert value == ("eimPackageError", core.NO_EIM_PACKAGE_AVAILABLE)


def test_result_with_forged_euiccSignEPR_is_error_and_not_acknowledged(eim):
    eim.queue(EID, packages.EUICC_PACKAGE, {"psmo": [{"op": "disable", "iccid": ICCID}]})
    answer, _ = get_package(eim)
    kind, body = codec.decode("EuiccPackageResult", eim.card.load_package(raw_package_request(answer)))
    body["euiccSignEPR"] = bytes(64 - 1) + b"\x01"
    response = provide_result(eim, ("euiccPackageResult", (kind, body)))
    assert response == ("emptyResponse", {})
    pkg = eim.package_list(EID)[0]
    assert pkg["state"] == "error" and "signature invalid" in pkg["result"]


def test_result_without_euicc_certificate_is_marked_unverified():
    key = crypto.generate_key()
    c = core.EimCore(EIM_ID, key)
    c.register_euicc(EID)
    card = FakeEuicc(EID, EIM_ID, key.public_key())
    c.queue(EID, packages.EUICC_PACKAGE, {"psmo": [{"op": "enable", "iccid": ICCID}]})
    answer, _ = get_package(c)
    provide_result(c, ("euiccPackageResult", codec.decode("EuiccPackageResult",
                                                          card.load_package(raw_package_request(answer)))))
    assert "unverified: no eUICC certificate" in c.package_list(EID)[0]["result"]


def test_replayed_counter_gives_euiccPackageErrorSigned_replayError(eim):
    eim.card.counter = 10  # the card has seen a higher counter than this eIM's
    eim.queue(EID, packages.EUICC_PACKAGE, {"psmo": [{"op": "enable", "iccid": ICCID}]})
    answer, _ = get_package(eim)
    result = eim.card.load_package(raw_package_request(answer))
    provide_result(eim, ("euiccPackageResult", codec.decode("EuiccPackageResult", result)))
    pkg = eim.package_list(EID)[0]
    assert pkg["state"] == "error" and "replayError(4)" in pkg["result"] and "verified" in pkg["result"]


def test_provide_result_garbled_asn1_undefinedError(eim):
    answer = eim.handle_ipa_message(EID, bytes.fromhex("bf5005bf51030201"))
    assert codec.decode("EsipaMessageFromEimToIpa", answer) == (
        "provideEimPackageResultResponse", ("provideEimPackageResultError", core.UNDEFINED_ERROR))
    assert any(a["event"] == "ipa-error" for a in eim.audit_log(EID))


def test_euicc_package_result_unknown_extension_alternative_is_audited(eim):
    answer = eim.handle_ipa_message(EID, bytes.fromhex("bf5008bf510502037f0000"))
    assert codec.decode("EsipaMessageFromEimToIpa", answer) == (
        "provideEimPackageResultResponse", ("emptyResponse", {}))
    assert any("unknown alternative" in (a["detail"] or "") for a in eim.audit_log(EID))


def test_provide_result_without_eid_anywhere_missingEid(eim):
    msg = ipa("provideEimPackageResult", {"eimPackageResult": ("eimPackageResultResponseError", {
        "eimPackageResultErrorCode": 127})})
    answer = eim.handle_ipa_message(None, msg)
    assert codec.decode("EsipaMessageFromEimToIpa", answer) == (
        "provideEimPackageResultResponse", ("provideEimPackageResultError", core.MISSING_EID))


def test_unknown_outer_tag_raises_malformed(eim):
    with pytest.raises(core.MalformedMessage):
        eim.handle_ipa_message(EID, bytes.fromhex("300100"))
    with pytest.raises(core.MalformedMessage):
        eim.handle_ipa_message(EID, b"")


def test_ipa_euicc_data_request_learns_certificate_and_acks_notifications():
    key = crypto.generate_key()
    c = core.EimCore(EIM_ID, key)
    c.register_euicc(EID)
    pid = c.queue(EID, packages.IPA_EUICC_DATA, {})
    _, (alt, req) = get_package(c)
    assert alt == "ipaEuiccDataRequest" and req["tagList"] == bytes.fromhex(packages.DEFAULT_TAG_LIST)
    _, card_cert = make_key_and_cert("eUICC")
    data = {"euiccCertificate": codec.decode("PKIX1Explicit88.Certificate", card_cert), "eimTransactionId": req["eimTransactionId"],
            "notificationsList": [("compactOtherSignedNotification", {
                "tbsOtherNotification": {"seqNumber": 7, "profileManagementOperation": (0b0100, 4),
                                         "notificationAddress": "smdp.example"},
                "euiccNotificationSignature": bytes(64)})]}
    response = provide_result(c, ("ipaEuiccDataResponse", ("ipaEuiccData", data)))
    assert response == ("eimAcknowledgements", [7])
    assert bytes(c.store.euicc(EID)["euicc_cert"]) == card_cert
    assert c.package_list(EID)[0]["state"] == "result"
    assert c.package_list(EID)[0]["id"] == pid


def test_profile_download_trigger_request_carries_activation_code(eim):
    eim.queue(EID, packages.PROFILE_DOWNLOAD_TRIGGER, {"activationCode": "1$smdp.example$ABC"})
    _, (alt, req) = get_package(eim)
    assert alt == "profileDownloadTriggerRequest"
    assert req["profileDownloadData"] == ("activationCode", "1$smdp.example$ABC")
    assert len(req["eimTransactionId"]) == 16


class _FakeSmdp:
    def __init__(self):
        self.calls = []

    def initiate_authentication(self, der):
        self.calls.append(("initiate_authentication", der))
        return codec.encode("EsipaMessageFromEimToIpa", ("initiateAuthenticationResponseEsipa", (
            "initiateAuthenticationErrorEsipa", 3)))

    def cancel_session(self, der):
        raise ConnectionError("SM-DP+ down")

    def handle_notification(self, der):
        self.calls.append(("handle_notification", der))


def test_es9plus_relay_initiate_authentication_passes_through(eim):
    eim.smdp = _FakeSmdp()
    eim.queue(EID, packages.PROFILE_DOWNLOAD_TRIGGER, {"contactDefaultSmdp": True})
    _, (_, trigger) = get_package(eim)
    req = ipa("initiateAuthenticationRequestEsipa", {"euiccChallenge": bytes(16),
                                                     "eimTransactionId": trigger["eimTransactionId"]})
    answer = eim.handle_ipa_message(None, req)
    assert eim.smdp.calls == [("initiate_authentication", req)]
    assert codec.decode("EsipaMessageFromEimToIpa", answer) == (
        "initiateAuthenticationResponseEsipa", ("initiateAuthenticationErrorEsipa", 3))


def test_es9plus_relay_unknown_eimTransactionId_invalidEimTransactionId(eim):
    eim.smdp = _FakeSmdp()
    req = ipa("initiateAuthenticationRequestEsipa", {"euiccChallenge": bytes(16),
                                                     "eimTransactionId": b"\x01\x02"})
    answer = eim.handle_ipa_message(None, req)
    assert codec.decode("EsipaMessageFromEimToIpa", answer) == (
        "initiateAuthenticationResponseEsipa",
        ("initiateAuthenticationErrorEsipa", core.INVALID_EIM_TRANSACTION_ID))
    assert eim.smdp.calls == []


def test_es9plus_relay_failures_give_undefinedError(eim):
    req = ipa("cancelSessionRequestEsipa", {"transactionId": b"\x01",
                                            "cancelSessionResponse": ("cancelSessionResponseError", 5)})
    # no SM-DP+ configured
    assert codec.decode("EsipaMessageFromEimToIpa", eim.handle_ipa_message(EID, req)) == (
        "cancelSessionResponseEsipa", ("cancelSessionError", core.UNDEFINED_ERROR))
    eim.smdp = _FakeSmdp()  # raises
    assert codec.decode("EsipaMessageFromEimToIpa", eim.handle_ipa_message(EID, req)) == (
        "cancelSessionResponseEsipa", ("cancelSessionError", core.UNDEFINED_ERROR))
    assert [a["event"] for a in eim.audit_log(EID)].count("relay-error") == 2


def test_handle_notification_no_response_and_acknowledged_with_next_result(eim):
    note = ("compactOtherSignedNotification", {
        "tbsOtherNotification": {"seqNumber": 5, "profileManagementOperation": (0b0010, 4),
                                 "notificationAddress": "smdp.example"},
        "euiccNotificationSignature": bytes(64)})
    assert eim.handle_ipa_message(EID, ipa("handleNotificationEsipa",
                                           ("pendingNotification", note))) is None
    assert eim.store.pending_acks(EID) == [5]
    eim.queue(EID, packages.EUICC_PACKAGE, {"psmo": [{"op": "enable", "iccid": ICCID}]})
    answer, _ = get_package(eim)
    result = eim.card.load_package(raw_package_request(answer))
    response = provide_result(eim, ("euiccPackageResult", codec.decode("EuiccPackageResult", result)))
    assert response == ("eimAcknowledgements", [1, 5])


def test_inject_mode_transfer_response_returns_acknowledgements(eim):
    eim.queue(EID, packages.EUICC_PACKAGE, {"psmo": [{"op": "enable", "iccid": ICCID}]})
    push = eim.next_push_message(EID)
    alt, (kind, req) = codec.decode("EsipaMessageFromEimToIpa", push)
    assert (alt, kind) == ("transferEimPackageRequest", "euiccPackageRequest")
    result = eim.card.load_package(codec.encode("EuiccPackageRequest", req))
    answer = eim.handle_ipa_message(EID, ipa("transferEimPackageResponse", (
        "euiccPackageResult", codec.decode("EuiccPackageResult", result))))
    assert codec.decode("EsipaMessageFromEimToIpa", answer) == (
        "transferEimPackageRequest", ("eimAcknowledgements", [1]))
    assert eim.next_push_message(EID) is None


def test_package_spec_errors_name_the_field(eim):
    with pytest.raises(packages.SpecError) as exc:
        eim.queue(EID, packages.EUICC_PACKAGE, {"psmo": [{"op": "enable", "iccid": "12"}]})
    assert exc.value.field == "iccid"
    with pytest.raises(packages.SpecError) as exc:
        eim.queue(EID, packages.EUICC_PACKAGE, {"psmo": [{"op": "frobnicate"}]})
    assert exc.value.field == "psmo[0].op"
    with pytest.raises(packages.SpecError) as exc:
        eim.queue("1234", packages.EUICC_PACKAGE, {"psmo": [{"op": "getRAT"}]})
    assert exc.value.field == "eid"


def test_iccid_is_nibble_swapped_bcd_padded_with_f():
    assert packages.iccid_bytes("8944123456789012345").hex() == "984421436587092143f5"
    assert packages.iccid_text(bytes.fromhex("984421436587092143f5")) == "8944123456789012345"


def test_eco_add_eim_with_public_key_encodes(eim):
    other = crypto.generate_key()
    spki = crypto.public_key_info_der(other.public_key()).hex()
    eim.queue(EID, packages.EUICC_PACKAGE, {"eco": [{"op": "addEim", "eimId": "eim2",
                                                     "eimFqdn": "eim2.example",
                                                     "eimPublicKey": spki,
                                                     "eimSupportedProtocol": ["eimRetrieveHttps"]}]})
    _, (_, req) = get_package(eim)
    kind, ops = req["euiccPackageSigned"]["euiccPackage"]
    assert kind == "ecoList" and ops[0][0] == "addEim"
    assert ops[0][1]["eimPublicKeyData"][0] == "eimPublicKey"


_FUZZ_KEY = crypto.generate_key()
_VALID_GET = codec.encode("EsipaMessageFromIpaToEim",
                          ("getEimPackageRequest", {"eidValue": binascii.unhexlify(EID)}))
_VALID_RESULT = codec.encode("EsipaMessageFromIpaToEim", ("provideEimPackageResult", {
    "eidValue": binascii.unhexlify(EID),
    "eimPackageResult": ("eimPackageResultResponseError", {"eimPackageResultErrorCode": 1})}))


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.binary(max_size=64),
                 st.tuples(st.sampled_from([_VALID_GET, _VALID_RESULT]),
                           st.integers(0, 40), st.integers(0, 255)).map(
                     lambda t: t[0][:t[1] % len(t[0])] + bytes([t[2]]) + t[0][t[1] % len(t[0]) + 1:])))
def test_malformed_ipa_input_never_crashes_the_eim(data):
    c = core.EimCore(EIM_ID, _FUZZ_KEY)
    c.register_euicc(EID)
    try:
        answer = c.handle_ipa_message(None, data)
    except core.MalformedMessage:
        return
    if answer is not None:
        codec.decode("EsipaMessageFromEimToIpa", answer)


def test_result_with_out_of_range_counterValue_undefinedError(eim):
    data = {"eimId": EIM_ID, "counterValue": 2 ** 80, "seqNumber": 1,
            "euiccResult": [("enableResult", 0)]}
    result = ("euiccPackageResult", ("euiccPackageResultSigned", {
        "euiccPackageResultDataSigned": data, "euiccSignEPR": bytes(64)}))
    answer = eim.handle_ipa_message(None, ipa("provideEimPackageResult", {
        "eidValue": binascii.unhexlify(EID), "eimPackageResult": result}))
    assert codec.decode("EsipaMessageFromEimToIpa", answer) == (
        "provideEimPackageResultResponse", ("provideEimPackageResultError", core.UNDEFINED_ERROR))


def test_redelivery_resends_same_signed_package_and_late_replayError_keeps_result(eim):
    eim.redeliver_after_s = 0  # offer an unanswered package again on the next poll
    eim.queue(EID, packages.EUICC_PACKAGE, {"psmo": [{"op": "enable", "iccid": ICCID}]})
    eim.queue(EID, packages.EUICC_PACKAGE, {"psmo": [{"op": "getRAT"}]})
    first, _ = get_package(eim)
    again, _ = get_package(eim)  # the IPA lost the first answer and asks again
    assert raw_package_request(again) == raw_package_request(first)
    result = eim.card.load_package(raw_package_request(first))
    assert provide_result(eim, ("euiccPackageResult",
                                codec.decode("EuiccPackageResult", result))) == (
        "eimAcknowledgements", [1])
    replay = eim.card.load_package(raw_package_request(again))
    provide_result(eim, ("euiccPackageResult", codec.decode("EuiccPackageResult", replay)))
    first_pkg = eim.package_list(EID)[0]
    assert first_pkg["state"] == "acknowledged" and "enableResult=ok(0)" in first_pkg["result"]
    events = [a["event"] for a in eim.audit_log(EID) if a["package_id"] == first_pkg["id"]]
    assert events == ["queued", "delivered", "redelivered", "result", "acknowledged", "late-error"]
    _, (_, nxt) = get_package(eim)  # then the next queued package, counter 2
    assert nxt["euiccPackageSigned"]["counterValue"] == 2


def test_no_redelivery_by_default(eim):
    eim.queue(EID, packages.EUICC_PACKAGE, {"psmo": [{"op": "getRAT"}]})
    get_package(eim)
    _, value = get_package(eim)
    assert value == ("eimPackageError", core.NO_EIM_PACKAGE_AVAILABLE)
