"""eUICC Packages (SGP.32 v1.2 section 2.11 / 5.9.x LoadEuiccPackage, BF51).

Card side: verify the eIM signature (ECDSA P-256 over euiccPackageSigned || associationToken DO,
'84 01 00' without a token, as received), the EID, the counter (strictly increasing), then run each PSMO or eCO and answer with
an EuiccPackageResult signed by the eUICC (euiccSignEPR over euiccPackageResultDataSigned ||
associationToken). Where the eIM cannot be authenticated the answer is the unsigned error.

eIM side (for tests and the host eIM): `build_request()` and `verify_result()`.

Simplifications (documented in docs/euicc-sim.md): PSMO processing stops at the first PSMO that
fails; a rollback-able enable stays rollback-able until the next eUICC Package or rollback;
getRAT returns an empty Rules Authorisation Table.
"""

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from host_tools import pki as _pki
from host_tools import sgp32_oracle as oracle
from host_tools.euicc_sim import state as st, tlv
from host_tools.euicc_sim.errors import decode_signed

ERR_INVALID_EID = 3
ERR_REPLAY = 4
ERR_COUNTER_RANGE = 6
ERR_UNDEFINED = 127
_COUNTER_MAX = (1 << 31) - 1
_TAG_ASSOCIATION_TOKEN = 0x84


def _token_tlv(token):
    """The associationToken data object appended to signed data; '84 01 00' when the
    association has no token (SGP.32 v1.2 2.11.1 / 2.11.2.1)."""
    return tlv.der_integer(_TAG_ASSOCIATION_TOKEN, token or 0)


# ---------------------------------------------------------------------- eIM side
def build_request(eim_key, eim_id, eid, counter, package, association_token=None,
                  transaction_id=None, tamper=False):
    """DER of an EuiccPackageRequest (BF51). `package` is ('psmoList'|'ecoList', [...]) in the
    oracle's value form. `eim_key`: the eIM's private key (pki.eim.key)."""
    signed = {"eimId": eim_id, "eidValue": bytes.fromhex(eid), "counterValue": counter,
              "euiccPackage": package}
    if transaction_id is not None:
        signed["eimTransactionId"] = transaction_id
    signed_der = oracle.encode("EuiccPackageSigned", signed)
    signature = _pki.sign_raw(eim_key, signed_der + _token_tlv(association_token))
    if tamper:
        signature = bytes([signature[0] ^ 1]) + signature[1:]
    return oracle.encode("EuiccPackageRequest", {"euiccPackageSigned": signed,
                                                 "eimSignature": signature})


def verify_result(der, euicc_public_key, association_token=None):
    """Decode an EuiccPackageResult and check its eUICC signature.

    Returns (choice_name, value); raises ValueError on a bad signature."""
    value = oracle.decode("EuiccPackageResult", der)
    kind = value[0]
    if kind == "euiccPackageErrorUnsigned":
        return value
    inner = tlv.child(der, 0xA0 if kind == "euiccPackageResultSigned" else 0xA1)
    data_raw = tlv.child(inner, 0x30)
    sig_raw = tlv.child(inner, 0x5F37)
    _, svs, sve = tlv.header(sig_raw)
    if not _pki.verify_raw(euicc_public_key, data_raw + _token_tlv(association_token),
                           sig_raw[svs:sve]):
        raise ValueError("EuiccPackageResult %s: eUICC signature does not verify" % kind)
    return value


# ---------------------------------------------------------------------- card side
def _eim_public_key(eim):
    if eim.get("cert_der"):
        return x509.load_der_x509_certificate(bytes.fromhex(eim["cert_der"])).public_key()
    if eim.get("public_key_der"):
        return serialization.load_der_public_key(bytes.fromhex(eim["public_key_der"]))
    return None


def signed_result(isdr, eim, counter, transaction_id, results):
    """EuiccPackageResult value (choice) with a fresh sequence number, signed by the eUICC."""
    data = {"eimId": eim["eim_id"], "counterValue": counter,
            "seqNumber": isdr.state.take_seq(), "euiccResult": results}
    if transaction_id is not None:
        data["eimTransactionId"] = transaction_id
    data_der = oracle.encode("EuiccPackageResultDataSigned", data)
    sig = isdr.euicc.sign(data_der + _token_tlv(eim.get("association_token")))
    value = ("euiccPackageResultSigned", {"euiccPackageResultDataSigned": data,
                                          "euiccSignEPR": sig})
    isdr.state.data["package_results"].append(
        {"seq": data["seqNumber"], "eim_id": eim["eim_id"],
         "der": oracle.encode("EuiccPackageResult", value).hex()})
    return value


def _error_signed(isdr, eim, counter, transaction_id, code):
    data = {"eimId": eim["eim_id"], "counterValue": counter, "euiccPackageErrorCode": code}
    if transaction_id is not None:
        data["eimTransactionId"] = transaction_id
    data_der = oracle.encode("EuiccPackageErrorDataSigned", data)
    sig = isdr.euicc.sign(data_der + _token_tlv(eim.get("association_token")))
    return oracle.encode("EuiccPackageResult", ("euiccPackageErrorSigned", {
        "euiccPackageErrorDataSigned": data, "euiccSignEPE": sig}))


def _error_unsigned(eim_id, transaction_id):
    value = {"eimId": eim_id or "?"}
    if transaction_id is not None:
        value["eimTransactionId"] = transaction_id
    return oracle.encode("EuiccPackageResult", ("euiccPackageErrorUnsigned", value))


def load_euicc_package(isdr, der):
    req, signed_raw = decode_signed("EuiccPackageRequest", der)
    sig_raw = tlv.child(der, 0x5F37)
    signed = req["euiccPackageSigned"]
    txid = signed.get("eimTransactionId")
    eim = isdr.state.eim(signed["eimId"])
    if eim is None:
        return _error_unsigned(signed["eimId"], txid)
    key = _eim_public_key(eim)
    _, svs, sve = tlv.header(sig_raw)
    signed_input = signed_raw + _token_tlv(eim.get("association_token"))
    if key is None or not _pki.verify_raw(key, signed_input, sig_raw[svs:sve]):
        return _error_unsigned(signed["eimId"], txid)
    counter = signed["counterValue"]
    if signed["eidValue"] != bytes.fromhex(isdr.state.eid):
        return _error_signed(isdr, eim, counter, txid, ERR_INVALID_EID)
    if counter > _COUNTER_MAX or counter < 0:
        return _error_signed(isdr, eim, counter, txid, ERR_COUNTER_RANGE)
    if counter <= eim["counter"]:
        return _error_signed(isdr, eim, counter, txid, ERR_REPLAY)
    eim["counter"] = counter
    # a new package settles the previous rollback-able enable
    isdr.state.data["rollback"] = None
    kind, items = signed["euiccPackage"]
    results = []
    for name, args in items:
        result = (_run_psmo if kind == "psmoList" else _run_eco)(isdr, eim, name, args)
        results.append(result)
        if kind == "psmoList" and not _ok(result):
            break
    value = signed_result(isdr, eim, counter, txid, results)
    isdr.state.save()
    return oracle.encode("EuiccPackageResult", value)


def _ok(result):
    name, val = result
    if isinstance(val, int):
        return val == 0
    if name == "listProfileInfoResult":
        return val[0] == "profileInfoListOk"
    return True


def _run_psmo(isdr, eim, name, args):
    if name == "enable":
        return ("enableResult", isdr.enable(st.iccid_from_bytes(args["iccid"]),
                                            rollback="rollbackFlag" in args,
                                            eim_id=eim["eim_id"]))
    if name == "disable":
        return ("disableResult", isdr.disable(st.iccid_from_bytes(args["iccid"])))
    if name == "delete":
        return ("deleteResult", isdr.delete(st.iccid_from_bytes(args["iccid"])))
    if name == "listProfileInfo":
        resp = oracle.decode("ProfileInfoListResponse",
                             isdr._profile_info_list(args))  # same rules as ES10b
        return ("listProfileInfoResult", resp)
    if name == "getRAT":
        return ("getRATResult", [])
    if name == "configureImmediateEnable":
        isdr.state.data["immediate_enable"] = {
            "flag": "immediateEnableFlag" in args,
            "smdp_oid": list(args["defaultSmdpOid"]) if "defaultSmdpOid" in args else None,
            "smdp_address": args.get("defaultSmdpAddress")}
        return ("configureImmediateEnableResult", 0)
    if name == "setFallbackAttribute":
        return ("setFallbackAttributeResult", _set_fallback(isdr, args["iccid"]))
    if name == "unsetFallbackAttribute":
        return ("unsetFallbackAttributeResult", _unset_fallback(isdr))
    if name == "setDefaultDpAddress":
        isdr.state.data["default_dp_address"] = args["defaultDpAddress"]
        return ("setDefaultDpAddressResult", {"setDefaultDpAddressResult": 0})
    return ("processingTerminated", 2)


def _set_fallback(isdr, iccid_raw):
    target = isdr.state.profile_by_iccid(st.iccid_from_bytes(iccid_raw))
    if target is None:
        return 1
    for p in isdr.state.data["profiles"]:
        if p["fallback"] and p is not target and p["state"] == "enabled":
            return 3
    for p in isdr.state.data["profiles"]:
        p["fallback"] = p is target
    return 0


def _unset_fallback(isdr):
    holders = [p for p in isdr.state.data["profiles"] if p["fallback"]]
    if not holders:
        return 2
    if holders[0]["state"] == "enabled":
        return 3
    holders[0]["fallback"] = False
    return 0


def eim_entry_from_config(isdr, conf, existing):
    """State entry from an EimConfigurationData value; returns (entry, error code or 0)."""
    entry = dict(existing) if existing else {
        "eim_id": conf["eimId"], "fqdn": None, "id_type": None, "counter": 0,
        "association_token": None, "cert_der": None, "public_key_der": None,
        "protocols": None, "indirect_download": False, "ci_pkid": None}
    if "eimFqdn" in conf:
        entry["fqdn"] = conf["eimFqdn"]
    if "eimIdType" in conf:
        entry["id_type"] = conf["eimIdType"]
    if "counterValue" in conf:
        if not 0 <= conf["counterValue"] <= _COUNTER_MAX:
            return None, 6
        entry["counter"] = conf["counterValue"]
    if "eimPublicKeyData" in conf:
        kind, val = conf["eimPublicKeyData"]
        if kind == "eimCertificate":
            cert_der = oracle.encode("Certificate", val)
            cert = x509.load_der_x509_certificate(cert_der)
            if not _pki.cert_verifies(cert, isdr.pki.ci.cert):
                return None, 3  # ciPKUnknown: not issued under a CI this eUICC trusts
            entry["cert_der"], entry["public_key_der"] = cert_der.hex(), None
        else:
            entry["public_key_der"] = oracle.encode("SubjectPublicKeyInfo", val).hex()
            entry["cert_der"] = None
    elif existing is None:
        return None, 7  # commandError: an eIM without a key could never be verified
    if "eimSupportedProtocol" in conf:
        bits, n = conf["eimSupportedProtocol"]
        entry["protocols"] = [i for i in range(n) if bits >> (n - 1 - i) & 1]
    if "euiccCiPKId" in conf:
        if conf["euiccCiPKId"] != isdr.pki.ci_ski:
            return None, 3
        entry["ci_pkid"] = conf["euiccCiPKId"].hex()
    if "indirectProfileDownload" in conf:
        entry["indirect_download"] = True
    if existing is None and "associationToken" in conf:
        entry["association_token"] = isdr.state.take_association_token()
    return entry, 0


def _run_eco(isdr, eim, name, args):
    d = isdr.state.data
    if name == "addEim":
        if isdr.state.eim(args["eimId"]) is not None:
            return ("addEimResult", ("addEimResultCode", 2))
        entry, code = eim_entry_from_config(isdr, args, None)
        if code:
            return ("addEimResult", ("addEimResultCode", code))
        d["eims"].append(entry)
        if entry["association_token"] is not None:
            return ("addEimResult", ("associationToken", entry["association_token"]))
        return ("addEimResult", ("addEimResultCode", 0))
    if name == "deleteEim":
        target = isdr.state.eim(args["eimId"])
        if target is None:
            return ("deleteEimResult", 1)
        d["eims"].remove(target)
        return ("deleteEimResult", 0 if d["eims"] else 2)
    if name == "updateEim":
        target = isdr.state.eim(args["eimId"])
        if target is None:
            return ("updateEimResult", 1)
        entry, code = eim_entry_from_config(isdr, args, target)
        if code:
            return ("updateEimResult", code)
        target.update(entry)
        return ("updateEimResult", 0)
    if name == "listEim":
        return ("listEimResult", ("eimIdList", [
            {"eimId": e["eim_id"], "eimIdType": e.get("id_type") or 3} for e in d["eims"]]))
    return ("processingTerminated", 2)
