"""ES10b command encoders and response decoders the IPAd uses (SGP.32 v1.2 §5.9, reusing SGP.22
v2.x ES10b where SGP.32 does). Tags come from the SGP.32 v1.2 ASN.1 module: note AddInitialEim is
[87] = BF57 (BF56 is GetCerts). Commands are small and built as bytes; responses are decoded by
offset and only the fields the procedures act on are copied out; everything that is relayed to
the eIM or SM-DP+ unchanged is handed back as the raw TLV bytes."""

from micropython import const

from ipa import tlv

# ES10b command/response tags (outer [n] of each Request/Response).
TAG_GET_EUICC_INFO1 = const(0xBF20)
TAG_PREPARE_DOWNLOAD = const(0xBF21)
TAG_GET_EUICC_INFO2 = const(0xBF22)
TAG_PROFILE_INFO_LIST = const(0xBF2D)
TAG_RETRIEVE_NOTIFICATIONS = const(0xBF2B)
TAG_GET_EUICC_CHALLENGE = const(0xBF2E)
TAG_NOTIFICATION_SENT = const(0xBF30)
TAG_BPP = const(0xBF36)
TAG_PIR = const(0xBF37)
TAG_AUTHENTICATE_SERVER = const(0xBF38)
TAG_CONFIGURED_ADDRESSES = const(0xBF3C)
TAG_GET_EUICC_DATA = const(0xBF3E)
TAG_CANCEL_SESSION = const(0xBF41)
TAG_EUICC_PACKAGE = const(0xBF51)
TAG_GET_EIM_CONFIG = const(0xBF55)
TAG_GET_CERTS = const(0xBF56)
TAG_ADD_INITIAL_EIM = const(0xBF57)
TAG_PROFILE_ROLLBACK = const(0xBF58)
TAG_IMMEDIATE_ENABLE = const(0xBF5A)

_TAG_EID = const(0x5A)
_TAG_TAG_LIST = const(0x5C)
_TAG_SIGNATURE = const(0x5F37)
_TAG_NOTIF_METADATA = const(0xBF2F)
_TAG_PIR_DATA = const(0xBF27)

# CancelSessionReason (SGP.22).
REASON_END_USER_REJECTION = const(0)
REASON_POSTPONED = const(1)
REASON_TIMEOUT = const(2)
REASON_PPR_NOT_ALLOWED = const(3)
REASON_METADATA_MISMATCH = const(4)
REASON_LOAD_BPP_ERROR = const(5)
REASON_UNDEFINED = const(127)

# EuiccPackageErrorCode (SGP.32 v1.2).
EPE_INVALID_EID = const(3)
EPE_REPLAY = const(4)
EPE_COUNTER_OUT_OF_RANGE = const(6)
EPE_SIZE_OVERFLOW = const(15)
EPE_ECALL_ACTIVE = const(104)
EPE_UNDEFINED = const(127)

# EuiccResultData alternatives: context tag number -> name (enableResult etc.).
RESULT_NAMES = {
    0x83: "enable", 0x84: "disable", 0x85: "delete", 0xBF2D: "listProfileInfo", 0xA6: "getRAT",
    0x87: "configureImmediateEnable", 0xA8: "addEim", 0x89: "deleteEim", 0x8A: "updateEim",
    0xAB: "listEim", 0x8C: "rollback", 0x8D: "setFallbackAttribute",
    0x8E: "unsetFallbackAttribute", 0x02: "processingTerminated", 0xBF65: "setDefaultDpAddress",
}


class Es10Error(Exception):
    """The eUICC answered an ES10b command with its error alternative; .command names it,
    .code is the error code from the response."""

    def __init__(self, command, code):
        self.command = command
        self.code = code
        super().__init__("%s failed: error %s" % (command, code))


# Field kinds for _fields(): how a primitive child's value is kept.
_TEXT = const(0)
_UINT = const(1)
_BYTES = const(2)
_FLAG = const(3)


def _fields(buf, voff, vend, table, d=None):
    """Decode the children of one SEQUENCE through a field table {tag: (name, kind)}; tags not
    in the table are skipped (extension fields)."""
    if d is None:
        d = {}
    for t, a, b in tlv.children(buf, voff, vend):
        f = table.get(t)
        if f is None:
            continue
        name, kind = f
        if kind == _TEXT:
            d[name] = tlv.text(buf, a, b, t)
        elif kind == _UINT:
            d[name] = tlv.uint(buf, a, b, t)
        elif kind == _BYTES:
            d[name] = bytes(buf[a:b])
        else:
            d[name] = True
    return d


def _choice(resp, tag, command):
    """(alternative tag, value offset, value end) of a CHOICE response; the error alternative
    [1] INTEGER raises Es10Error carrying its code."""
    voff, vend = tlv.expect(resp, tag)
    t, a, b = tlv.header(resp, voff, vend)
    if t == 0x81:
        raise Es10Error(command, tlv.uint(resp, a, b, t))
    return t, a, b


def _empty(tag):
    return tlv.encode(tag)


def bit_string(bits, nbits):
    """BIT STRING from a list of bit numbers (bit 0 = MSB of the first byte)."""
    nbytes = (nbits + 7) // 8
    b = bytearray(1 + nbytes)
    b[0] = nbytes * 8 - nbits
    for i in bits:
        b[1 + i // 8] |= 0x80 >> (i % 8)
    return bytes(b)


# --- GetEUICCData / EID ---------------------------------------------------------------------

def get_euicc_data(tag_list=b"\x5a"):
    return tlv.encode_seq(TAG_GET_EUICC_DATA, tlv.encode(_TAG_TAG_LIST, tag_list))


def parse_eid(resp):
    voff, vend = tlv.expect(resp, TAG_GET_EUICC_DATA)
    f = tlv.find(resp, _TAG_EID, voff, vend)
    if f is None or f[1] - f[0] != 16:
        raise tlv.TlvError("GetEUICCData without a 16-byte eidValue", _TAG_EID, voff)
    return bytes(resp[f[0]:f[1]])


# --- GetEimConfigurationData / AddInitialEim --------------------------------------------------

def get_eim_configuration_data(eim_id=None):
    if eim_id is None:
        return _empty(TAG_GET_EIM_CONFIG)
    crit = tlv.encode_seq(0xA0, tlv.encode(0x80, eim_id.encode()))
    return tlv.encode_seq(TAG_GET_EIM_CONFIG, crit)


_EIM_CONFIG = {
    0x80: ("eimId", _TEXT), 0x81: ("eimFqdn", _TEXT), 0x82: ("eimIdType", _UINT),
    0x83: ("counterValue", _UINT), 0x84: ("associationToken", _UINT),
    0x87: ("eimSupportedProtocol", _BYTES), 0x88: ("euiccCiPKId", _BYTES),
    0x89: ("indirectProfileDownload", _FLAG),
}


def parse_eim_configuration_data(resp):
    """List of dicts, one per eIM (eimId, eimFqdn, counterValue, associationToken, ...)."""
    voff, vend = tlv.expect(resp, TAG_GET_EIM_CONFIG)
    out = []
    f = tlv.find(resp, 0xA0, voff, vend)
    if f is None:
        return out
    for t, a, b in tlv.children(resp, f[0], f[1]):
        if t != 0x30:
            raise tlv.TlvError("EimConfigurationData item", t, a)
        out.append(_fields(resp, a, b, _EIM_CONFIG))
    return out


def eim_configuration_data(eim_id, fqdn=None, id_type=None, counter=None, public_key=None,
                           certificate=None, protocols=None, ci_pkid=None, indirect=False):
    """One EimConfigurationData (30 ...). public_key: DER SubjectPublicKeyInfo; certificate: DER
    Certificate; both are re-tagged for the [0]/[1] IMPLICIT alternatives of eimPublicKeyData."""
    key = None
    if public_key is not None or certificate is not None:
        der = public_key if public_key is not None else certificate
        voff, vend = tlv.expect(der, 0x30)
        inner = tlv.encode(0xA0 if public_key is not None else 0xA1, der[voff:vend])
        key = tlv.encode(0xA5, inner)
    return tlv.encode_seq(
        0x30,
        tlv.encode(0x80, eim_id.encode()),
        None if fqdn is None else tlv.encode(0x81, fqdn.encode()),
        None if id_type is None else tlv.encode_uint(0x82, id_type),
        None if counter is None else tlv.encode_uint(0x83, counter),
        key,
        None if protocols is None else tlv.encode(0x87, protocols),
        None if ci_pkid is None else tlv.encode(0x88, ci_pkid),
        tlv.encode(0x89) if indirect else None,
    )


def add_initial_eim(configs):
    """configs: list of encoded EimConfigurationData (see eim_configuration_data())."""
    return tlv.encode_seq(TAG_ADD_INITIAL_EIM, tlv.encode_seq(0xA0, *configs))


def parse_add_initial_eim(resp):
    """List with one entry per eIM added: its associationToken or None (addOk)."""
    t, a, b = _choice(resp, TAG_ADD_INITIAL_EIM, "AddInitialEim")
    if t != 0xA0:
        raise tlv.TlvError("AddInitialEimResponse alternative", t, a)
    out = []
    for t, x, y in tlv.children(resp, a, b):
        out.append(tlv.uint(resp, x, y, t) if t == 0x84 else None)
    return out


# --- Notifications ----------------------------------------------------------------------------

def retrieve_notifications_list(seq=None, operation=None, euicc_package_results=False):
    """seq: one seqNumber; operation: NotificationEvent bit number; euicc_package_results:
    ask for the stored eUICC Package Results instead of notifications."""
    if seq is not None:
        crit = tlv.encode_uint(0x80, seq)
    elif operation is not None:
        crit = tlv.encode(0x81, bit_string((operation,), 4))
    elif euicc_package_results:
        crit = tlv.encode(0x82)
    else:
        return _empty(TAG_RETRIEVE_NOTIFICATIONS)
    return tlv.encode_seq(TAG_RETRIEVE_NOTIFICATIONS, tlv.encode(0xA0, crit))


def _metadata_seq(buf, a, b):
    f = tlv.find(buf, _TAG_NOTIF_METADATA, a, b)
    if f is None:
        raise tlv.TlvError("notification without NotificationMetadata", _TAG_NOTIF_METADATA, a)
    s = tlv.find(buf, 0x80, f[0], f[1])
    if s is None:
        raise tlv.TlvError("NotificationMetadata without seqNumber", 0x80, f[0])
    return tlv.uint(buf, s[0], s[1], 0x80)


def pending_notification_seq(buf, tag, a, b):
    """seqNumber of one PendingNotification alternative (value at buf[a:b])."""
    if tag == TAG_PIR:
        f = tlv.find(buf, _TAG_PIR_DATA, a, b)
        if f is None:
            raise tlv.TlvError("ProfileInstallationResult without data", _TAG_PIR_DATA, a)
        return _metadata_seq(buf, f[0], f[1])
    if tag == 0x30 or tag == 0xA1:
        return _metadata_seq(buf, a, b)
    if tag == 0xA0:
        f = tlv.find(buf, 0xA0, a, b)
        s = None if f is None else tlv.find(buf, 0x02, f[0], f[1])
        if s is None:
            raise tlv.TlvError("compact PIR without seqNumber", 0x02, a)
        return tlv.uint(buf, s[0], s[1], 0x02)
    raise tlv.TlvError("unknown PendingNotification", tag, a)


def epr_seq(buf, tag, a, b):
    """seqNumber of an EuiccPackageResult (BF51 or its bare alternative), or None (error
    results have none)."""
    if tag == TAG_EUICC_PACKAGE:
        tag, a, b = tlv.header(buf, a, b)
    if tag != 0xA0:
        return None
    f = tlv.find(buf, 0x30, a, b)
    s = None if f is None else tlv.find(buf, 0x83, f[0], f[1])
    return None if s is None else tlv.uint(buf, s[0], s[1], 0x83)


def parse_notifications_list(resp):
    """("notifications" | "epr", [(seqNumber or None, raw TLV bytes), ...], raw list TLV)."""
    t, a, b = _choice(resp, TAG_RETRIEVE_NOTIFICATIONS, "RetrieveNotificationsList")
    if t == 0xA0:
        kind, seq_of = "notifications", pending_notification_seq
    elif t == 0xA2:
        kind, seq_of = "epr", epr_seq
    else:
        raise tlv.TlvError("RetrieveNotificationsListResponse alternative", t, a)
    items = []
    for it, start, x, y in tlv.elements(resp, a, b):
        items.append((seq_of(resp, it, x, y), bytes(resp[start:y])))
    return kind, items, bytes(resp[tlv.expect(resp, TAG_RETRIEVE_NOTIFICATIONS)[0]:b])


def notification_sent(seq):
    """RemoveNotificationFromList (ES10b.RemoveNotificationFromList, tag BF30)."""
    return tlv.encode_seq(TAG_NOTIFICATION_SENT, tlv.encode_uint(0x80, seq))


def parse_notification_sent(resp):
    voff, vend = tlv.expect(resp, TAG_NOTIFICATION_SENT)
    f = tlv.find(resp, 0x80, voff, vend)
    if f is None:
        raise tlv.TlvError("NotificationSentResponse without status", 0x80, voff)
    return tlv.uint(resp, f[0], f[1], 0x80)


# --- eUICC info, challenge, certificates, addresses ------------------------------------------

def get_euicc_info1():
    return _empty(TAG_GET_EUICC_INFO1)


def get_euicc_info2():
    return _empty(TAG_GET_EUICC_INFO2)


def get_euicc_challenge():
    return _empty(TAG_GET_EUICC_CHALLENGE)


def parse_euicc_challenge(resp):
    voff, vend = tlv.expect(resp, TAG_GET_EUICC_CHALLENGE)
    f = tlv.find(resp, 0x80, voff, vend)
    if f is None or f[1] - f[0] != 16:
        raise tlv.TlvError("GetEuiccChallenge without a 16-byte challenge", 0x80, voff)
    return bytes(resp[f[0]:f[1]])


def get_certs(ci_pkid=None):
    if ci_pkid is None:
        return _empty(TAG_GET_CERTS)
    return tlv.encode_seq(TAG_GET_CERTS, tlv.encode(0x80, ci_pkid))


def parse_certs(resp):
    """(eumCertificate, euiccCertificate) as their [5]/[6]-tagged TLVs, as IpaEuiccData uses them."""
    _, a, b = _choice(resp, TAG_GET_CERTS, "GetCerts")
    eum = euicc = None
    for ct, start, x, y in tlv.elements(resp, a, b):
        if ct == 0xA5:
            eum = bytes(resp[start:y])
        elif ct == 0xA6:
            euicc = bytes(resp[start:y])
    return eum, euicc


def euicc_configured_addresses():
    return _empty(TAG_CONFIGURED_ADDRESSES)


def parse_configured_addresses(resp):
    """(defaultDpAddress or None, rootDsAddress)."""
    voff, vend = tlv.expect(resp, TAG_CONFIGURED_ADDRESSES)
    dp = ds = None
    for t, a, b in tlv.children(resp, voff, vend):
        if t == 0x80:
            dp = tlv.text(resp, a, b)
        elif t == 0x81:
            ds = tlv.text(resp, a, b)
    return dp, ds


# --- Profiles ----------------------------------------------------------------------------------

def profile_info_list(iccid=None, tag_list=None):
    return tlv.encode_seq(
        TAG_PROFILE_INFO_LIST,
        None if iccid is None else tlv.encode(0xA0, tlv.encode(_TAG_EID, iccid)),
        None if tag_list is None else tlv.encode(_TAG_TAG_LIST, tag_list),
    )


_PROFILE_INFO = {
    0x5A: ("iccid", _BYTES), 0x4F: ("isdpAid", _BYTES), 0x9F70: ("state", _UINT),
    0x90: ("nickname", _TEXT), 0x91: ("serviceProviderName", _TEXT), 0x92: ("profileName", _TEXT),
    0x95: ("profileClass", _UINT),
}


def parse_profile_info_list(resp):
    """List of dicts: iccid (bytes), isdpAid, state (0 disabled / 1 enabled), nickname,
    serviceProviderName, profileName, profileClass."""
    t, a, b = _choice(resp, TAG_PROFILE_INFO_LIST, "ProfileInfoList")
    if t != 0xA0:
        raise tlv.TlvError("ProfileInfoListResponse alternative", t, a)
    out = []
    for it, x, y in tlv.children(resp, a, b):
        if it != 0xE3:
            raise tlv.TlvError("ProfileInfo item", it, x)
        out.append(_fields(resp, x, y, _PROFILE_INFO))
    return out


def enabled_iccid(profiles):
    for p in profiles:
        if p.get("state") == 1:
            return p.get("iccid")
    return None


# --- eUICC packages (PSMO/eCO) -----------------------------------------------------------------

def load_euicc_package(package):
    """ES10b.LoadEuiccPackage takes the eIM-signed EuiccPackageRequest (BF51) unchanged; only
    check that it is exactly one BF51 TLV so a truncated download never reaches the eUICC."""
    voff, vend = tlv.expect(package, TAG_EUICC_PACKAGE)
    if vend != len(package):
        raise tlv.TlvError("trailing bytes after EuiccPackageRequest", TAG_EUICC_PACKAGE, vend)
    return package


def parse_euicc_package_request(buf, off=0, end=None):
    """Fields of an EuiccPackageRequest the IPAd acts on: eimId, eidValue, counterValue,
    eimTransactionId, psmos [(tag, iccid or None, rollbackFlag)], eco (bool)."""
    voff, vend = tlv.expect(buf, TAG_EUICC_PACKAGE, off, end)
    f = tlv.find(buf, 0x30, voff, vend)
    if f is None:
        raise tlv.TlvError("EuiccPackageRequest without euiccPackageSigned", 0x30, voff)
    d = {"psmos": [], "eco": False, "eimTransactionId": None}
    for t, a, b in tlv.children(buf, f[0], f[1]):
        if t == 0x80:
            d["eimId"] = tlv.text(buf, a, b)
        elif t == _TAG_EID:
            d["eidValue"] = bytes(buf[a:b])
        elif t == 0x81:
            d["counterValue"] = tlv.uint(buf, a, b, t)
        elif t == 0x82:
            d["eimTransactionId"] = bytes(buf[a:b])
        elif t == 0xA0:
            for pt, p, q in tlv.children(buf, a, b):
                iccid = tlv.find(buf, _TAG_EID, p, q) if tlv.is_constructed(pt) else None
                rollback = tlv.is_constructed(pt) and tlv.find(buf, 0x05, p, q) is not None
                d["psmos"].append((pt, None if iccid is None else bytes(buf[iccid[0]:iccid[1]]),
                                   rollback))
        elif t == 0xA1:
            d["eco"] = True
    return d


_EPR_DATA = {
    0x80: ("eimId", _TEXT), 0x81: ("counterValue", _UINT), 0x82: ("eimTransactionId", _BYTES),
    0x83: ("seqNumber", _UINT), 0x02: ("errorCode", _UINT), 0x84: ("associationToken", _UINT),
}


def parse_euicc_package_result(buf, off=0, end=None):
    """EuiccPackageResult (BF51 CHOICE) as a dict: kind ("signed" | "errorSigned" |
    "errorUnsigned"), eimId, counterValue, eimTransactionId, seqNumber, errorCode,
    results [(result tag, int value or None)], raw (the whole TLV)."""
    voff, vend = tlv.expect(buf, TAG_EUICC_PACKAGE, off, end)
    t, a, b = tlv.header(buf, voff, vend)
    d = {"eimTransactionId": None, "seqNumber": None, "errorCode": None, "results": [],
         "counterValue": None, "raw": bytes(buf[off:vend])}
    if t == 0xA0:
        d["kind"] = "signed"
        data = tlv.find(buf, 0x30, a, b)
    elif t == 0xA1:
        d["kind"] = "errorSigned"
        data = tlv.find(buf, 0x30, a, b)
    elif t == 0xA2:
        d["kind"] = "errorUnsigned"
        data = (a, b)
    else:
        raise tlv.TlvError("EuiccPackageResult alternative", t, voff)
    if data is None:
        raise tlv.TlvError("EuiccPackageResult without data", 0x30, a)
    _fields(buf, data[0], data[1], _EPR_DATA, d)
    res = tlv.find(buf, 0x30, data[0], data[1])
    if res is not None:
        for rt, x, y in tlv.children(buf, res[0], res[1]):
            val = None if tlv.is_constructed(rt) else tlv.uint(buf, x, y, rt)
            d["results"].append((rt, val))
    return d


def profile_rollback(refresh=True):
    return tlv.encode_seq(TAG_PROFILE_ROLLBACK,
                          tlv.encode(0x80, b"\xff" if refresh else b"\x00"))


def parse_profile_rollback(resp):
    """(cmdResult, raw EuiccPackageResult TLV or None)."""
    voff, vend = tlv.expect(resp, TAG_PROFILE_ROLLBACK)
    code, epr = None, None
    for t, start, a, b in tlv.elements(resp, voff, vend):
        if t == 0x02:
            code = tlv.uint(resp, a, b, t)
        elif t == TAG_EUICC_PACKAGE:
            epr = bytes(resp[start:b])
    if code is None:
        raise tlv.TlvError("ProfileRollbackResponse without cmdResult", 0x02, voff)
    return code, epr


def immediate_enable(refresh=True):
    return tlv.encode_seq(TAG_IMMEDIATE_ENABLE,
                          tlv.encode(0x80, b"\xff" if refresh else b"\x00"))


def parse_immediate_enable(resp):
    voff, vend = tlv.expect(resp, TAG_IMMEDIATE_ENABLE)
    f = tlv.find(resp, 0x80, voff, vend)
    if f is None:
        raise tlv.TlvError("ImmediateEnableResponse without result", 0x80, voff)
    return tlv.uint(resp, f[0], f[1], 0x80)


# --- Profile download (SGP.22 common mutual authentication, relayed) -------------------------

def authenticate_server(server_signed1, server_signature1, ci_pkid, server_certificate,
                        ctx_params1):
    """All arguments are whole TLVs as received from the eIM / built by ctx_params1()."""
    return tlv.encode_seq(TAG_AUTHENTICATE_SERVER, server_signed1, server_signature1, ci_pkid,
                          server_certificate, ctx_params1)


def ctx_params1(matching_id, tac, device_capabilities=None, imei=None):
    """CtxParamsForCommonAuthentication (A0 ...), built by the IPAd when the eIM sends none."""
    if device_capabilities is None:
        # eutranEpcSupportedRelease 15.0.0: the release an LTE-M/NB-IoT module reports.
        device_capabilities = tlv.encode(0x85, b"\x0f\x00\x00")
    info = tlv.encode_seq(0xA1, tlv.encode(0x80, tac),
                          tlv.encode(0xA1, device_capabilities),
                          None if imei is None else tlv.encode(0x82, imei))
    return tlv.encode_seq(
        0xA0, None if matching_id is None else tlv.encode(0x80, matching_id.encode()), info)


def prepare_download(smdp_signed2, smdp_signature2, smdp_certificate, hash_cc=None):
    return tlv.encode_seq(TAG_PREPARE_DOWNLOAD, smdp_signed2, smdp_signature2, hash_cc,
                          smdp_certificate)


def cancel_session(transaction_id, reason):
    return tlv.encode_seq(TAG_CANCEL_SESSION, tlv.encode(0x80, transaction_id),
                          tlv.encode_uint(0x81, reason))


def response_alternative(resp, tag, command):
    """For responses relayed as-is (AuthenticateServer, PrepareDownload, CancelSession): the
    CHOICE alternative tag; raises Es10Error for the error alternative [1] with its code."""
    voff, vend = tlv.expect(resp, tag)
    t, a, b = tlv.header(resp, voff, vend)
    if t == 0xA1 and tag != TAG_CANCEL_SESSION:
        code = tlv.find(resp, 0x02, a, b)
        raise Es10Error(command, None if code is None else tlv.uint(resp, code[0], code[1]))
    if t == 0x81:
        raise Es10Error(command, tlv.uint(resp, a, b, t))
    return t


def parse_profile_installation_result(buf, off=0, end=None):
    """Dict: transactionId, seqNumber, iccid, success, bppCommandId, errorReason, raw."""
    voff, vend = tlv.expect(buf, TAG_PIR, off, end)
    data = tlv.find(buf, _TAG_PIR_DATA, voff, vend)
    if data is None:
        raise tlv.TlvError("ProfileInstallationResult without data", _TAG_PIR_DATA, voff)
    d = {"raw": bytes(buf[off:vend]), "iccid": None, "success": False,
         "bppCommandId": None, "errorReason": None, "transactionId": None, "seqNumber": None}
    for t, a, b in tlv.children(buf, data[0], data[1]):
        if t == 0x80:
            d["transactionId"] = bytes(buf[a:b])
        elif t == _TAG_NOTIF_METADATA:
            for mt, p, q in tlv.children(buf, a, b):
                if mt == 0x80:
                    d["seqNumber"] = tlv.uint(buf, p, q, mt)
                elif mt == _TAG_EID:
                    d["iccid"] = bytes(buf[p:q])
        elif t == 0xA2:
            rt, p, q = tlv.header(buf, a, b)
            d["success"] = rt == 0xA0
            if rt == 0xA1:
                for et, x, y in tlv.children(buf, p, q):
                    if et == 0x80:
                        d["bppCommandId"] = tlv.uint(buf, x, y, et)
                    elif et == 0x81:
                        d["errorReason"] = tlv.uint(buf, x, y, et)
    return d
