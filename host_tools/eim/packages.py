"""eIM package specs (JSON, as the CLI and REST take them) -> SGP.32 v1.2 ASN.1 values.

A spec is validated when it is queued (so a bad request fails at the control plane, naming the
field) and turned into ASN.1 when it is delivered (when counterValue is assigned and signed).

Spec shapes (`kind` -> spec):
  euiccPackage            {"psmo": [{"op": "enable", "iccid": "8944...", "rollback": true}, ...]}
                          {"eco":  [{"op": "addEim", "eimId": "...", ...}, ...]}
  ipaEuiccData            {"tagList": "a0a2a5a6", "notificationSeq": 3, "resultSeq": 1}
  profileDownloadTrigger  {"activationCode": "1$smdp.example$MATCHING"} | {"contactDefaultSmdp": true}
                          | {"smdsAddress": "smds.example"}
"""

import binascii

from . import codec

EUICC_PACKAGE = "euiccPackage"
IPA_EUICC_DATA = "ipaEuiccData"
PROFILE_DOWNLOAD_TRIGGER = "profileDownloadTrigger"
KINDS = (EUICC_PACKAGE, IPA_EUICC_DATA, PROFILE_DOWNLOAD_TRIGGER)

# notificationsList, euiccPackageResultList, eumCertificate, euiccCertificate (SGP.32 IpaEuiccData)
DEFAULT_TAG_LIST = "a0a2a5a6"

_PSMO_ICCID_OPS = ("enable", "disable", "delete", "setFallbackAttribute")
_PSMO_EMPTY_OPS = ("getRAT", "unsetFallbackAttribute")
_ECO_CONFIG_OPS = ("addEim", "updateEim")
_EIM_ID_TYPES = {"oid": 1, "fqdn": 2, "proprietary": 3}
_EIM_PROTOCOLS = ("eimRetrieveHttps", "eimRetrieveCoaps", "eimInjectHttps", "eimInjectCoaps",
                  "eimProprietary")
_MAX_LIST = 32  # more operations than any eUICC buffer takes in one package


class SpecError(ValueError):
    """A package spec the eIM refuses; `field` names the offending field."""

    def __init__(self, field, reason):
        ValueError.__init__(self, "%s: %s" % (field, reason))
        self.field = field
        self.reason = reason


def eid_bytes(eid):
    """EID text (32 decimal digits) -> the 16-byte eidValue (digits as nibbles, in order)."""
    if not isinstance(eid, str) or len(eid) != 32 or not eid.isdigit():
        raise SpecError("eid", "must be 32 decimal digits, got %r" % (eid,))
    return binascii.unhexlify(eid)


def eid_text(eid_value):
    if len(eid_value) != 16:
        raise SpecError("eidValue", "must be 16 bytes, got %d" % len(eid_value))
    return binascii.hexlify(bytes(eid_value)).decode()


def iccid_bytes(iccid):
    """ICCID digits -> 10 bytes, nibble-swapped BCD padded with F (SGP.22 Iccid)."""
    if not isinstance(iccid, str) or not iccid.isdigit() or not 18 <= len(iccid) <= 20:
        raise SpecError("iccid", "must be 18..20 decimal digits, got %r" % (iccid,))
    digits = iccid + "f" * (20 - len(iccid))
    return binascii.unhexlify("".join(digits[i + 1] + digits[i] for i in range(0, 20, 2)))


def iccid_text(value):
    h = binascii.hexlify(bytes(value)).decode()
    return "".join(h[i + 1] + h[i] for i in range(0, len(h), 2)).rstrip("f")


def _hex(field, text):
    try:
        return binascii.unhexlify(text)
    except (binascii.Error, TypeError):
        raise SpecError(field, "not hex: %r" % (text,)) from None


def _require(item, key, field):
    if key not in item:
        raise SpecError(field, "missing")
    return item[key]


def _op_list(spec, key):
    ops = spec[key]
    if not isinstance(ops, list) or not ops:
        raise SpecError(key, "must be a non-empty list")
    if len(ops) > _MAX_LIST:
        raise SpecError(key, "at most %d operations" % _MAX_LIST)
    for i, op in enumerate(ops):
        if not isinstance(op, dict) or "op" not in op:
            raise SpecError("%s[%d]" % (key, i), "must be an object with 'op'")
    return ops


def _psmo(i, item):
    op = item["op"]
    field = "psmo[%d]" % i
    if op in _PSMO_ICCID_OPS:
        body = {"iccid": iccid_bytes(_require(item, "iccid", field + ".iccid"))}
        if op == "enable" and item.get("rollback"):
            body["rollbackFlag"] = 0
        return (op, body)
    if op in _PSMO_EMPTY_OPS:
        return (op, {})
    if op == "listProfileInfo":
        body = {}
        if "iccid" in item:
            body["searchCriteria"] = ("iccid", iccid_bytes(item["iccid"]))
        elif "isdpAid" in item:
            body["searchCriteria"] = ("isdpAid", _hex(field + ".isdpAid", item["isdpAid"]))
        elif "profileClass" in item:
            body["searchCriteria"] = ("profileClass", int(item["profileClass"]))
        if "tagList" in item:
            body["tagList"] = _hex(field + ".tagList", item["tagList"])
        return (op, body)
    if op == "configureImmediateEnable":
        body = {}
        if item.get("immediateEnableFlag"):
            body["immediateEnableFlag"] = 0
        if "defaultSmdpAddress" in item:
            body["defaultSmdpAddress"] = str(item["defaultSmdpAddress"])
        return (op, body)
    if op == "setDefaultDpAddress":
        return (op, {"defaultDpAddress": str(_require(item, "address", field + ".address"))})
    raise SpecError(field + ".op", "unknown PSMO %r" % (op,))


def _eim_config(field, item):
    body = {"eimId": str(_require(item, "eimId", field + ".eimId"))}
    if not 1 <= len(body["eimId"]) <= 128:
        raise SpecError(field + ".eimId", "must be 1..128 characters")
    if "eimFqdn" in item:
        body["eimFqdn"] = str(item["eimFqdn"])
    if "eimIdType" in item:
        if item["eimIdType"] not in _EIM_ID_TYPES:
            raise SpecError(field + ".eimIdType", "one of %s" % ", ".join(sorted(_EIM_ID_TYPES)))
        body["eimIdType"] = _EIM_ID_TYPES[item["eimIdType"]]
    if "counterValue" in item:
        body["counterValue"] = int(item["counterValue"])
    if "associationToken" in item:
        body["associationToken"] = int(item["associationToken"])
    if "eimPublicKey" in item:  # SubjectPublicKeyInfo DER, hex
        der = _hex(field + ".eimPublicKey", item["eimPublicKey"])
        body["eimPublicKeyData"] = ("eimPublicKey", _decode_pkix("SubjectPublicKeyInfo", field, der))
    elif "eimCertificate" in item:  # X.509 DER, hex
        der = _hex(field + ".eimCertificate", item["eimCertificate"])
        body["eimPublicKeyData"] = ("eimCertificate", _decode_pkix("Certificate", field, der))
    if "eimSupportedProtocol" in item:
        bits = 0
        for name in item["eimSupportedProtocol"]:
            if name not in _EIM_PROTOCOLS:
                raise SpecError(field + ".eimSupportedProtocol", "unknown %r" % (name,))
            bits |= 1 << (len(_EIM_PROTOCOLS) - 1 - _EIM_PROTOCOLS.index(name))
        body["eimSupportedProtocol"] = (bits, len(_EIM_PROTOCOLS))
    if item.get("indirectProfileDownload"):
        body["indirectProfileDownload"] = 0
    return body


def _decode_pkix(type_name, field, der):
    try:
        return codec.decode("PKIX1Explicit88." + type_name, der)
    except codec.DecodeError as exc:
        raise SpecError(field, "bad %s: %s" % (type_name, exc.reason)) from None


def _eco(i, item):
    op = item["op"]
    field = "eco[%d]" % i
    if op in _ECO_CONFIG_OPS:
        return (op, _eim_config(field, item))
    if op == "deleteEim":
        return (op, {"eimId": str(_require(item, "eimId", field + ".eimId"))})
    if op == "listEim":
        return (op, {})
    raise SpecError(field + ".op", "unknown eCO %r" % (op,))


def euicc_package_value(spec):
    """EuiccPackage CHOICE value for a euiccPackage spec."""
    if not isinstance(spec, dict) or len(spec) != 1:
        raise SpecError("euiccPackage", "exactly one of 'psmo' or 'eco'")
    if "psmo" in spec:
        return ("psmoList", [_psmo(i, it) for i, it in enumerate(_op_list(spec, "psmo"))])
    if "eco" in spec:
        return ("ecoList", [_eco(i, it) for i, it in enumerate(_op_list(spec, "eco"))])
    raise SpecError("euiccPackage", "exactly one of 'psmo' or 'eco'")


def ipa_euicc_data_request_value(spec, eim_transaction_id):
    value = {"tagList": _hex("tagList", spec.get("tagList", DEFAULT_TAG_LIST)),
             "eimTransactionId": bytes(eim_transaction_id)}
    if "notificationSeq" in spec:
        value["searchCriteriaNotification"] = ("seqNumber", int(spec["notificationSeq"]))
    if "resultSeq" in spec:
        value["searchCriteriaEuiccPackageResult"] = ("seqNumber", int(spec["resultSeq"]))
    return value


def profile_download_trigger_value(spec, eim_transaction_id):
    value = {"eimTransactionId": bytes(eim_transaction_id)}
    if "activationCode" in spec:
        code = str(spec["activationCode"])
        if len(code.encode()) > 255:
            raise SpecError("activationCode", "longer than 255 bytes")
        value["profileDownloadData"] = ("activationCode", code)
    elif spec.get("contactDefaultSmdp"):
        value["profileDownloadData"] = ("contactDefaultSmdp", 0)
    elif "smdsAddress" in spec:
        body = {} if spec["smdsAddress"] is None else {"smdsAddress": str(spec["smdsAddress"])}
        value["profileDownloadData"] = ("contactSmds", body)
    return value


def validate(kind, spec):
    """Raise SpecError unless `spec` builds; returns nothing."""
    if kind == EUICC_PACKAGE:
        codec.encode("EuiccPackage", euicc_package_value(spec))
    elif kind == IPA_EUICC_DATA:
        codec.encode("IpaEuiccDataRequest", ipa_euicc_data_request_value(spec, b"\x00"))
    elif kind == PROFILE_DOWNLOAD_TRIGGER:
        codec.encode("ProfileDownloadTriggerRequest", profile_download_trigger_value(spec, b"\x00"))
    else:
        raise SpecError("kind", "one of %s" % ", ".join(KINDS))


def kind_of(spec):
    """The kind a REST/CLI body means: {"psmo"|"eco": ...} / {"ipaEuiccData": {...}} /
    {"download": {...}}; returns (kind, inner_spec)."""
    if not isinstance(spec, dict):
        raise SpecError("body", "must be a JSON object")
    if "psmo" in spec or "eco" in spec:
        return EUICC_PACKAGE, spec
    if "ipaEuiccData" in spec:
        return IPA_EUICC_DATA, spec["ipaEuiccData"] or {}
    if "download" in spec:
        return PROFILE_DOWNLOAD_TRIGGER, spec["download"] or {}
    raise SpecError("body", "one of 'psmo', 'eco', 'ipaEuiccData', 'download'")
