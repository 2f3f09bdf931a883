"""ESipa message codec (SGP.32 §6.3/§6.4, ASN.1 EsipaMessageFromIpaToEim / EsipaMessageFromEimToIpa).

Encoders build what the IPAd sends; decode() turns an eIM message into (name, dict) where every
field the IPAd relays to the eUICC stays a whole raw TLV. `version` selects the wire form an eIM
expects (V12 = SGP.32 v1.2, the default; V10 = v1.0). Differences handled (from the two ASN.1
modules): GetEimPackageRequest rPLMN is [1] in v1.0 and [2] in v1.2 (v1.2 puts stateChangeCause
at [1]); ProvideEimPackageResult is a bare CHOICE in v1.0 and a SEQUENCE with optional eidValue
in v1.2; ePRAndNotifications carries a RetrieveNotificationsListResponse ([43]) in v1.0 and a
[0] SEQUENCE OF PendingNotification in v1.2; the error alternative is eimPackageError INTEGER in
v1.0 and eimPackageResultResponseError [0] in v1.2; InitiateAuthenticationRequestEsipa has no
eimTransactionId in v1.0; ProvideEimPackageResultResponse is a SEQUENCE with optional
eimAcknowledgements in v1.0 and a CHOICE in v1.2. IpaEuiccData is built in the v1.2 form only."""

from micropython import const

from ipa import tlv

V10 = const(10)
V12 = const(12)

TAG_INITIATE_AUTH = const(0xBF39)
TAG_GET_BPP = const(0xBF3A)
TAG_AUTHENTICATE_CLIENT = const(0xBF3B)
TAG_HANDLE_NOTIFICATION = const(0xBF3D)
TAG_CANCEL_SESSION = const(0xBF41)
TAG_TRANSFER_EIM_PACKAGE = const(0xBF4E)
TAG_GET_EIM_PACKAGE = const(0xBF4F)
TAG_PROVIDE_RESULT = const(0xBF50)
TAG_EUICC_PACKAGE = const(0xBF51)
TAG_IPA_EUICC_DATA = const(0xBF52)
TAG_EIM_ACKS = const(0xBF53)
TAG_DOWNLOAD_TRIGGER = const(0xBF54)
TAG_RETRIEVE_NOTIFICATIONS = const(0xBF2B)

# GetEimPackageResponse eimPackageError.
NO_EIM_PACKAGE_AVAILABLE = const(1)
EID_NOT_FOUND = const(2)
INVALID_EID = const(3)
MISSING_EID = const(4)
UNDEFINED_ERROR = const(127)

# StateChangeCause (v1.2).
CAUSE_OTHER_EIM = const(0)
CAUSE_FALLBACK = const(1)
CAUSE_EMERGENCY_PROFILE = const(2)
CAUSE_LOCAL = const(3)
CAUSE_RESET = const(4)
CAUSE_IMMEDIATE_ENABLE = const(5)
CAUSE_DEVICE_CHANGE = const(6)
CAUSE_UNDEFINED = const(127)

# IpaEuiccDataErrorCode.
IED_INCORRECT_TAG_LIST = const(1)
IED_CI_PKID_NOT_FOUND = const(5)
IED_UNDEFINED = const(127)

# TransferEimPackageResponse eimPackageError.
TEP_INVALID_PACKAGE_FORMAT = const(1)
TEP_UNKNOWN_PACKAGE = const(2)


class EsipaError(ValueError):
    """An eIM message that is well-formed TLV but not a valid ESipa message here; .tag names the
    offending element."""

    def __init__(self, msg, tag=None):
        self.tag = tag
        super().__init__(msg if tag is None else "%s (tag %X)" % (msg, tag))


# --- IPA -> eIM ---------------------------------------------------------------------------------

def initiate_authentication(euicc_challenge, smdp_address=None, euicc_info1=None,
                            eim_transaction_id=None, version=V12):
    """euicc_info1: the GetEuiccInfo1 response TLV (BF20), relayed unchanged."""
    return tlv.encode_seq(
        TAG_INITIATE_AUTH,
        tlv.encode(0x81, euicc_challenge),
        None if smdp_address is None else tlv.encode(0x83, smdp_address.encode()),
        euicc_info1,
        None if eim_transaction_id is None or version == V10
        else tlv.encode(0x82, eim_transaction_id),
    )


def authenticate_client(transaction_id, authenticate_server_response):
    return tlv.encode_seq(TAG_AUTHENTICATE_CLIENT, tlv.encode(0x80, transaction_id),
                          authenticate_server_response)


def get_bound_profile_package(transaction_id, prepare_download_response):
    return tlv.encode_seq(TAG_GET_BPP, tlv.encode(0x80, transaction_id),
                          prepare_download_response)


def cancel_session(transaction_id, cancel_session_response):
    # cancelSessionResponse is [1] EXPLICIT around the eUICC's own BF41 response.
    return tlv.encode_seq(TAG_CANCEL_SESSION, tlv.encode(0x80, transaction_id),
                          tlv.encode(0xA1, cancel_session_response))


def handle_notification(pending_notification):
    """One PendingNotification TLV as listed by RetrieveNotificationsList."""
    return tlv.encode_seq(TAG_HANDLE_NOTIFICATION, tlv.encode(0xA0, pending_notification))


def get_eim_package(eid, notify_state_change=False, state_change_cause=None, rplmn=None,
                    version=V12):
    if version == V10:
        cause = None
        rp = None if rplmn is None else tlv.encode(0x81, rplmn)
    else:
        cause = None if state_change_cause is None else tlv.encode_uint(0x81, state_change_cause)
        rp = None if rplmn is None else tlv.encode(0x82, rplmn)
    return tlv.encode_seq(TAG_GET_EIM_PACKAGE, tlv.encode(0x5A, eid),
                          tlv.encode(0x80) if notify_state_change else None, cause, rp)


def epr_and_notifications(epr, notifications, version=V12):
    """ePRAndNotifications: the EuiccPackageResult TLV plus the pending notifications (whole
    TLVs) that the eIM should see with it."""
    items = tlv.encode_seq(0xA0, *notifications)
    if version == V10:
        items = tlv.encode(TAG_RETRIEVE_NOTIFICATIONS, items)
    return tlv.encode_seq(0x30, epr, items)


def result_error(code, eim_transaction_id=None, version=V12):
    """The "could not produce a result" alternative of EimPackageResult."""
    if version == V10:
        return tlv.encode_uint(0x02, code)
    return tlv.encode_seq(0xA0, None if eim_transaction_id is None
                          else tlv.encode(0x80, eim_transaction_id), tlv.encode_uint(0x02, code))


def provide_eim_package_result(result, eid=None, version=V12):
    """result: one EimPackageResult alternative, whole TLV (EuiccPackageResult BF51, the output of
    epr_and_notifications(), an IpaEuiccDataResponse BF52, a ProfileDownloadTriggerResult BF54
    or result_error())."""
    if version == V10:
        return tlv.encode(TAG_PROVIDE_RESULT, result)
    return tlv.encode_seq(TAG_PROVIDE_RESULT, None if eid is None else tlv.encode(0x5A, eid),
                          result)


def transfer_eim_package_response(result=None, error=None):
    """Answer to a pushed TransferEimPackageRequest: a result TLV (as for
    provide_eim_package_result), eimPackageReceived (neither given) or eimPackageError."""
    if error is not None:
        return tlv.encode_seq(TAG_TRANSFER_EIM_PACKAGE, tlv.encode_uint(0x02, error))
    if result is None:
        return tlv.encode_seq(TAG_TRANSFER_EIM_PACKAGE, tlv.encode(0x05))
    return tlv.encode_seq(TAG_TRANSFER_EIM_PACKAGE, result)


def ipa_euicc_data(fields, eim_transaction_id=None):
    """IpaEuiccDataResponse with ipaEuiccData. fields: {tag: whole TLV} already tagged as in
    IpaEuiccData (A0 notificationsList, 81 defaultSmdpAddress, A2 euiccPackageResultList, BF20,
    BF22, 83 rootSmdsAddress, 84 associationToken, A5/A6 certificates, A8 ipaCapabilities, A9
    deviceInfo); emitted in the ASN.1 order."""
    parts = []
    for tag in (0xA0, 0x81, 0xA2, 0xBF20, 0xBF22, 0x83, 0x84, 0xA5, 0xA6):
        if tag in fields:
            parts.append(fields[tag])
    if eim_transaction_id is not None:
        parts.append(tlv.encode(0x87, eim_transaction_id))
    for tag in (0xA8, 0xA9):
        if tag in fields:
            parts.append(fields[tag])
    return tlv.encode_seq(TAG_IPA_EUICC_DATA, tlv.encode_seq(0xA0, *parts))


def ipa_euicc_data_error(code, eim_transaction_id=None):
    return tlv.encode_seq(TAG_IPA_EUICC_DATA, tlv.encode_seq(
        0xA1, None if eim_transaction_id is None else tlv.encode(0x80, eim_transaction_id),
        tlv.encode_uint(0x02, code)))


def ipa_capabilities(features=(1,), protocols=None):
    """IpaCapabilities (A8): ipaFeatures bit numbers, default indirectRspServerCommunication."""
    from ipa.es10b import bit_string
    return tlv.encode_seq(0xA8, tlv.encode(0x80, bit_string(features, 6)),
                          None if protocols is None else tlv.encode(0x81, bit_string(protocols, 5)))


def profile_download_trigger_result(eim_transaction_id=None, pir=None, error_reason=None,
                                    error_response=None):
    """ProfileDownloadTriggerResult (BF54): the ProfileInstallationResult TLV on completion, or
    profileDownloadError with a reason (and the failing response, e.g. an ESipa error)."""
    if pir is not None:
        data = pir
    else:
        data = tlv.encode_seq(0x30, tlv.encode_uint(0x80, error_reason),
                              None if error_response is None else tlv.encode(0x04, error_response))
    return tlv.encode_seq(TAG_DOWNLOAD_TRIGGER, None if eim_transaction_id is None
                          else tlv.encode(0x82, eim_transaction_id), data)


# --- eIM -> IPA ---------------------------------------------------------------------------------

def _raw(buf, start, end):
    return bytes(buf[start:end])


def _int_error(buf, t, a, b):
    return {"error": tlv.uint(buf, a, b, t)}


def parse_ipa_euicc_data_request(buf, a, b):
    d = {"tagList": b"", "euiccCiPKId": None, "searchNotification": None, "searchEpr": None,
         "eimTransactionId": None}
    for t, x, y in tlv.children(buf, a, b):
        if t == 0x5C:
            d["tagList"] = _raw(buf, x, y)
        elif t == 0x04:
            d["euiccCiPKId"] = _raw(buf, x, y)
        elif t == 0xA1:
            st, p, q = tlv.header(buf, x, y)
            d["searchNotification"] = ("seq", tlv.uint(buf, p, q, st)) if st == 0x80 \
                else ("op", _raw(buf, p, q))
        elif t == 0xA2:
            st, p, q = tlv.header(buf, x, y)
            d["searchEpr"] = tlv.uint(buf, p, q, st)
        elif t == 0x83:
            d["eimTransactionId"] = _raw(buf, x, y)
    return d


def tag_list(raw):
    """Split a tagList value into tag ints."""
    out = []
    off = 0
    while off < len(raw):
        t, off = tlv.read_tag(raw, off, len(raw))
        out.append(t)
    return out


def parse_download_trigger(buf, a, b):
    d = {"activationCode": None, "contactDefaultSmdp": False, "contactSmds": False,
         "eimTransactionId": None}
    for t, x, y in tlv.children(buf, a, b):
        if t == 0xA0:
            ct, p, q = tlv.header(buf, x, y)
            if ct == 0x80:
                d["activationCode"] = tlv.text(buf, p, q)
            elif ct == 0x81:
                d["contactDefaultSmdp"] = True
            elif ct == 0xA2:
                d["contactSmds"] = True
        elif t == 0x82:
            d["eimTransactionId"] = _raw(buf, x, y)
    return d


def parse_activation_code(code):
    """SGP.22 §4.1 activation code "1$SM-DP+ address$Matching ID[$...]" -> (address, matching id)."""
    parts = code.split("$")
    if len(parts) < 3 or parts[0] != "1" or not parts[1]:
        raise EsipaError("activation code %r not of the form 1$address$matchingId" % code)
    return parts[1], parts[2]


def parse_acks(buf, a, b):
    return [tlv.uint(buf, x, y, t) for t, x, y in tlv.children(buf, a, b)]


def _eim_package(buf, t, start, a, b):
    """One alternative of GetEimPackageResponse / TransferEimPackageRequest."""
    if t == TAG_EUICC_PACKAGE:
        return {"package": "euiccPackageRequest", "raw": _raw(buf, start, b)}
    if t == TAG_IPA_EUICC_DATA:
        d = parse_ipa_euicc_data_request(buf, a, b)
        d["package"] = "ipaEuiccDataRequest"
        return d
    if t == TAG_DOWNLOAD_TRIGGER:
        d = parse_download_trigger(buf, a, b)
        d["package"] = "profileDownloadTriggerRequest"
        return d
    if t == TAG_EIM_ACKS:
        return {"package": "eimAcknowledgements", "acks": parse_acks(buf, a, b)}
    if t == 0x02:
        return {"package": "eimPackageError", "error": tlv.uint(buf, a, b, t)}
    raise EsipaError("unknown eIM package", t)


def decode(buf, version=V12):
    """(message name, dict) for one EsipaMessageFromEimToIpa."""
    tag, voff, vend = tlv.header(buf, 0, len(buf))
    if vend != len(buf):
        raise tlv.TlvError("trailing bytes after ESipa message", tag, vend)
    if tag == TAG_GET_EIM_PACKAGE or tag == TAG_TRANSFER_EIM_PACKAGE:
        name = "getEimPackage" if tag == TAG_GET_EIM_PACKAGE else "transferEimPackage"
        if voff == vend:
            raise EsipaError("empty " + name, tag)
        t, start, a, b = next(tlv.elements(buf, voff, vend))
        return name, _eim_package(buf, t, start, a, b)
    if tag == TAG_PROVIDE_RESULT:
        return "provideEimPackageResult", _provide_result_response(buf, voff, vend, version)
    if voff == vend:
        raise EsipaError("empty ESipa response", tag)
    t, a, b = tlv.header(buf, voff, vend)
    if tag == TAG_INITIATE_AUTH:
        return "initiateAuthentication", (_init_auth_ok(buf, a, b) if t == 0xA0
                                          else _int_error(buf, t, a, b))
    if tag == TAG_AUTHENTICATE_CLIENT:
        if t == 0xA0:
            return "authenticateClient", _auth_client_dp(buf, a, b)
        if t == 0xA1:
            d = {"transactionId": None, "profileDownloadTrigger": None}
            for ft, start, x, y in tlv.elements(buf, a, b):
                if ft == 0x80:
                    d["transactionId"] = _raw(buf, x, y)
                elif ft == TAG_DOWNLOAD_TRIGGER:
                    d["profileDownloadTrigger"] = parse_download_trigger(buf, x, y)
            d["ds"] = True
            return "authenticateClient", d
        return "authenticateClient", _int_error(buf, t, a, b)
    if tag == TAG_GET_BPP:
        if t != 0xA0:
            return "getBoundProfilePackage", _int_error(buf, t, a, b)
        d = {"transactionId": None, "bpp": None}
        for ft, start, x, y in tlv.elements(buf, a, b):
            if ft == 0x80:
                d["transactionId"] = _raw(buf, x, y)
            elif ft == 0xBF36:
                d["bpp"] = (start, y)
        return "getBoundProfilePackage", d
    if tag == TAG_CANCEL_SESSION:
        return "cancelSession", ({} if t == 0xA0 else _int_error(buf, t, a, b))
    raise EsipaError("unknown ESipa message", tag)


def _provide_result_response(buf, voff, vend, version):
    if voff == vend:
        return {"acks": []}
    t, a, b = tlv.header(buf, voff, vend)
    if t == TAG_EIM_ACKS:
        return {"acks": parse_acks(buf, a, b)}
    if t == 0x30:
        return {"acks": []}
    if t == 0x02:
        return {"acks": [], "error": tlv.uint(buf, a, b, t)}
    raise EsipaError("ProvideEimPackageResultResponse alternative", t)


def _pick(buf, a, b, whole, value, seq_names):
    """Children of an ok alternative: `whole` tags kept as whole TLVs, `value` tags as their
    value bytes, and the untagged SEQUENCEs (signed data, certificate) named by position."""
    d = {"transactionId": None}
    for k in whole.values():
        d[k] = None
    for k in value.values():
        d[k] = None
    seqs = 0
    for t, start, x, y in tlv.elements(buf, a, b):
        if t == 0x80:
            d["transactionId"] = _raw(buf, x, y)
        elif t == 0x30 and seqs < len(seq_names):
            d[seq_names[seqs]] = _raw(buf, start, y)
            seqs += 1
        elif t in whole:
            d[whole[t]] = _raw(buf, start, y)
        elif t in value:
            d[value[t]] = _raw(buf, x, y)
    for k in seq_names:
        if k not in d:
            raise EsipaError("ok response without " + k)
    if d["transactionId"] is None:
        d["transactionId"] = _signed_txid(d[seq_names[0]])
    return d


def _init_auth_ok(buf, a, b):
    # ctxParams1 is [2] around the CtxParams1 CHOICE: its value is what AuthenticateServer takes.
    d = _pick(buf, a, b, {0x5F37: "serverSignature1", 0x04: "euiccCiPKIdToBeUsed"},
              {0x0C: "matchingId", 0xA2: "ctxParams1"}, ("serverSigned1", "serverCertificate"))
    for k in ("serverSignature1", "euiccCiPKIdToBeUsed"):
        if d[k] is None:
            raise EsipaError("InitiateAuthenticationOkEsipa without " + k)
    if d["matchingId"] is not None:
        d["matchingId"] = tlv.text(d["matchingId"], 0, len(d["matchingId"]), 0x0C)
    return d


def _signed_txid(signed):
    s = tlv.find(signed, 0x80, *tlv.expect(signed, 0x30))
    if s is None:
        raise EsipaError("signed data without transactionId", 0x30)
    return signed[s[0]:s[1]]


def _auth_client_dp(buf, a, b):
    d = _pick(buf, a, b, {0xBF25: "profileMetaData", 0x5F37: "smdpSignature2", 0x04: "hashCc"},
              {}, ("smdpSigned2", "smdpCertificate"))
    if d["smdpSignature2"] is None:
        raise EsipaError("AuthenticateClientOkDPEsipa without smdpSignature2")
    d["ds"] = False
    return d
