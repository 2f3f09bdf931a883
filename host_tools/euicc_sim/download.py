"""Profile download on the eUICC side (SGP.22 functions reused by SGP.32 v1.2):
BF38 AuthenticateServer, BF21 PrepareDownload, BF36 LoadBoundProfilePackage (segmented),
BF41 CancelSession.

Checks done: server/DPpb certificates issued under our CI with the right SGP.22 role policy,
serverSignature1, euiccChallenge, transactionId, smdpSignature2, smdpSign of
InitialiseSecureChannel, the SCP03t MAC chain of every '87'/'88'/'86' segment, segment order,
and the ICCID being new. Not done: decrypting ConfigureISDP / profile elements (SCP03t
confidentiality), Confirmation Code, profile policy rules. The network identity of the new
profile comes from StoreMetadata (profileOwner, plus a test vendor extension, see smdp.core).
"""

import json

from cryptography import x509

from host_tools import pki as _pki
from host_tools import sgp32_oracle as oracle
from host_tools.euicc_sim import scp03t, state as st, tlv
from host_tools.euicc_sim.errors import Es10Error, decode_signed

# BppCommandId / ErrorReason values (SGP.22 ProfileInstallationResult)
_CMD_ISC, _CMD_CONFIGURE, _CMD_METADATA, _CMD_REPLACE, _CMD_LOAD = 0, 1, 2, 4, 5
_R_INPUT, _R_SIG, _R_TXID, _R_SCP_STRUCT, _R_SCP_SEC, _R_ICCID_EXISTS = 1, 2, 3, 7, 8, 9
# private arc: StoreMetadata vendor extension carrying the test network identity (JSON)
NETWORK_IDENTITY_OID = (1, 3, 6, 1, 4, 1, 99999, 32, 2)
DEFAULT_SMDP_OID = (2, 999, 32, 1)


def _has_role(cert, role):
    try:
        pols = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except x509.ExtensionNotFound:
        return False
    return any(p.policy_identifier.dotted_string == role for p in pols)


def cert_oid(cert):
    """The SM-DP+ OID from the certificate's registeredID SAN, if any."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return DEFAULT_SMDP_OID
    for oid in san.get_values_for_type(x509.RegisteredID):
        return tuple(int(x) for x in oid.dotted_string.split("."))
    return DEFAULT_SMDP_OID


class Download:
    def __init__(self, isdr):
        self.isdr = isdr
        self._reset()

    def _reset(self):
        self.txid = None
        self.server_address = None
        self.euicc_signature1 = None
        self.smdp_oid = None
        self.dppb_key = None
        self.otsk = None
        self.otpk = None
        self.bpp = None     # dict while a BPP is being loaded

    def in_bpp(self):
        return self.bpp is not None

    # ------------------------------------------------------------------ BF38
    def authenticate_server(self, der):
        isdr = self.isdr
        req, signed1_raw = decode_signed("AuthenticateServerRequest", der)
        s1 = req["serverSigned1"]
        txid = s1["transactionId"]

        def error(code):
            return oracle.encode("AuthenticateServerResponse", ("authenticateResponseError", {
                "transactionId": txid, "authenticateErrorCode": code}))

        if req["euiccCiPKIdToBeUsed"] != isdr.pki.ci_ski:
            return error(7)  # ciPKUnknown
        cert = x509.load_der_x509_certificate(oracle.encode("Certificate",
                                                            req["serverCertificate"]))
        if not _pki.cert_verifies(cert, isdr.pki.ci.cert) or not _has_role(cert, _pki.ROLE_DP_AUTH):
            return error(1)  # invalidCertificate
        sig = req["serverSignature1"]
        if not _pki.verify_raw(cert.public_key(), signed1_raw, sig):
            return error(2)  # invalidSignature
        if isdr.challenge is None:
            return error(4)  # noSessionContext
        if s1["euiccChallenge"] != isdr.challenge:
            return error(6)  # euiccChallengeMismatch
        isdr.challenge = None
        self._reset()
        self.txid = txid
        self.server_address = s1["serverAddress"]
        self.smdp_oid = cert_oid(cert)
        signed = {"transactionId": txid, "serverAddress": s1["serverAddress"],
                  "serverChallenge": s1["serverChallenge"], "euiccInfo2": isdr.euicc_info2(),
                  "ctxParams1": req["ctxParams1"]}
        signed_der = oracle.encode("EuiccSigned1", signed)
        self.euicc_signature1 = isdr.euicc.sign(signed_der)
        return oracle.encode("AuthenticateServerResponse", ("authenticateResponseOk", {
            "euiccSigned1": signed, "euiccSignature1": self.euicc_signature1,
            "euiccCertificate": oracle.decode("Certificate", isdr.euicc.cert_der),
            "eumCertificate": oracle.decode("Certificate", isdr.pki.eum.cert_der)}))

    # ------------------------------------------------------------------ BF21
    def prepare_download(self, der):
        isdr = self.isdr
        req, signed2_raw = decode_signed("PrepareDownloadRequest", der)
        txid = req["smdpSigned2"]["transactionId"]

        def error(code):
            return oracle.encode("PrepareDownloadResponse", ("downloadResponseError", {
                "transactionId": txid, "downloadErrorCode": code}))

        if self.txid is None:
            return error(4)  # noSessionContext
        if txid != self.txid:
            return error(5)  # invalidTransactionId
        cert = x509.load_der_x509_certificate(oracle.encode("Certificate",
                                                            req["smdpCertificate"]))
        if not _pki.cert_verifies(cert, isdr.pki.ci.cert) or not _has_role(cert, _pki.ROLE_DP_PB):
            return error(1)
        sig1_tlv = tlv.encode(0x5F37, self.euicc_signature1)
        smdp_sig2 = req["smdpSignature2"]
        if not _pki.verify_raw(cert.public_key(), signed2_raw + sig1_tlv, smdp_sig2):
            return error(2)
        self.dppb_key = cert.public_key()
        self.otsk, self.otpk = scp03t.new_otk()
        signed = {"transactionId": txid, "euiccOtpk": self.otpk}
        if "hashCc" in req:
            signed["hashCc"] = req["hashCc"]
        signed_der = oracle.encode("EUICCSigned2", signed)
        sig2 = isdr.euicc.sign(signed_der + tlv.encode(0x5F37, smdp_sig2))
        return oracle.encode("PrepareDownloadResponse", ("downloadResponseOk", {
            "euiccSigned2": signed, "euiccSignature2": sig2}))

    # ------------------------------------------------------------------ BF41
    def cancel_session(self, req):
        if self.txid is None or req["transactionId"] != self.txid:
            return oracle.encode("CancelSessionResponse", ("cancelSessionResponseError", 5))
        signed = {"transactionId": self.txid, "smdpOid": self.smdp_oid, "reason": req["reason"]}
        sig = self.isdr.euicc.sign(oracle.encode("EuiccCancelSessionSigned", signed))
        self._reset()
        return oracle.encode("CancelSessionResponse", ("cancelSessionResponseOk", {
            "euiccCancelSessionSigned": signed, "euiccCancelSessionSignature": sig}))

    # ------------------------------------------------------------------ BF36 segments
    def load_bpp_segment(self, segment):
        """One STORE DATA command of the segmented BPP (SGP.22 2.5.5). Returns b"" until the
        last segment, then the ProfileInstallationResult (or an early error result)."""
        if self.bpp is None:
            if self.otpk is None:
                raise Es10Error(0x6985, "LoadBoundProfilePackage without PrepareDownload")
            _, vs, ve = _header_only(segment, 0)
            self.bpp = {"buf": segment[vs:], "total": ve - vs, "consumed": 0,
                        "stage": "isc", "scp": None, "metadata": b"", "mac_ok": True,
                        "size": 0, "aid": None}
        else:
            self.bpp["buf"] += segment
        try:
            return self._consume()
        except tlv.TlvError:
            return self._fail(_CMD_LOAD, _R_SCP_STRUCT)

    def _consume(self):
        b = self.bpp
        while b["buf"]:
            tag = peek_tag(b["buf"])
            if tag is None:
                break
            if tag in (0xA0, 0xA1, 0xA2, 0xA3):
                try:
                    _, vs, _ = _header_only(b["buf"], 0)
                except tlv.TlvError:
                    break
                res = self._container(tag)
                b["buf"] = b["buf"][vs:]
                b["consumed"] += vs
            else:
                try:
                    _, vs, ve = tlv.header(b["buf"], 0)
                except tlv.TlvError:
                    break  # element continues in the next segment
                raw, value = b["buf"][:ve], b["buf"][vs:ve]
                b["buf"] = b["buf"][ve:]
                b["consumed"] += ve
                if tag in (0x86, 0x87, 0x88) and ve > scp03t.SEGMENT_MAX:
                    return self._fail(_CMD_LOAD, _R_SCP_STRUCT)
                res = self._element(tag, raw, value)
            if res is not None:
                return res
        if b["consumed"] == b["total"]:
            return self._finish()
        if b["consumed"] > b["total"]:
            return self._fail(_CMD_LOAD, _R_SCP_STRUCT)
        return b""

    def _container(self, tag):
        b = self.bpp
        if b["stage"] == "metadata":
            res = self._store_metadata()
            if res is not None:
                return res
        allowed = {0xA0: ("isc_done",), 0xA1: ("configure_done",), 0xA2: ("metadata_done",),
                   0xA3: ("metadata_done", "replace_done")}
        if b["stage"] not in allowed[tag]:
            return self._fail(_CMD_LOAD, _R_SCP_STRUCT)
        b["stage"] = {0xA0: "configure", 0xA1: "metadata", 0xA2: "replace", 0xA3: "load"}[tag]
        return None

    def _element(self, tag, raw, value):
        b = self.bpp
        if tag == 0xBF23:
            if b["stage"] != "isc":
                return self._fail(_CMD_ISC, _R_SCP_STRUCT)
            return self._isc(raw)
        if tag == 0x87 and b["stage"] == "configure":
            if b["scp"].check(tag, value) is None:
                return self._fail(_CMD_CONFIGURE, _R_SCP_SEC)
            b["aid"] = self.isdr.state.new_isdp_aid()
            b["stage"] = "configure_done"
            return None
        if tag == 0x88 and b["stage"] == "metadata":
            body = b["scp"].check(tag, value)
            if body is None:
                return self._fail(_CMD_METADATA, _R_SCP_SEC)
            b["metadata"] += body
            return None
        if tag == 0x87 and b["stage"] == "replace":
            # the new keys are inside ciphertext we do not decrypt: MAC checking ends here
            b["mac_ok"] = False
            b["stage"] = "replace_done"
            return None
        if tag == 0x86 and b["stage"] == "load":
            if b["mac_ok"] and b["scp"].check(tag, value) is None:
                return self._fail(_CMD_LOAD, _R_SCP_SEC)
            b["size"] += len(value)
            return None
        return self._fail(_CMD_LOAD, _R_SCP_STRUCT)

    def _isc(self, raw):
        b = self.bpp
        try:
            isc = oracle.decode("InitialiseSecureChannelRequest", raw)
        except oracle.OracleError:
            return self._fail(_CMD_ISC, _R_INPUT)
        if isc["remoteOpId"] != 1:
            return self._fail(_CMD_ISC, 5)
        if isc["transactionId"] != self.txid:
            return self._fail(_CMD_ISC, _R_TXID)
        crt = isc["controlRefTemplate"]
        if crt["keyType"] != scp03t.KEY_TYPE_AES or crt["keyLen"] != scp03t.KEY_LEN_16:
            return self._fail(_CMD_ISC, 4)
        # smdpSign covers remoteOpId, transactionId, controlRefTemplate, smdpOtpk (as sent)
        # followed by the eUICC's own otPK (SGP.22 5.5.1)
        _, vs, ve = tlv.header(raw)
        signed = b""
        for t, child_raw, _ in tlv.children(raw, vs, ve):
            if t != 0x5F37:
                signed += child_raw
        signed += tlv.encode(0x5F49, self.otpk)
        if not _pki.verify_raw(self.dppb_key, signed, isc["smdpSign"]):
            return self._fail(_CMD_ISC, _R_SIG)
        shs = scp03t.shared_secret(self.otsk, isc["smdpOtpk"])
        b["scp"] = scp03t.Session(*scp03t.derive(shs, crt["keyType"], crt["keyLen"],
                                                 crt["hostId"], bytes.fromhex(self.isdr.state.eid)))
        b["stage"] = "isc_done"
        return None

    def _store_metadata(self):
        b = self.bpp
        try:
            meta = oracle.decode("StoreMetadataRequest", b["metadata"])
        except oracle.OracleError:
            return self._fail(_CMD_METADATA, _R_INPUT)
        iccid = st.iccid_from_bytes(meta["iccid"])
        if self.isdr.state.profile_by_iccid(iccid) is not None:
            return self._fail(_CMD_METADATA, _R_ICCID_EXISTS)
        b["meta"] = meta
        b["stage"] = "metadata_done"
        return None

    def _finish(self):
        b = self.bpp
        if b["stage"] != "load" or "meta" not in b:
            return self._fail(_CMD_LOAD, _R_SCP_STRUCT)
        meta = b["meta"]
        mcc, mnc = st.mccmnc_from_bytes(meta["profileOwner"]["mccMnc"]) \
            if "profileOwner" in meta else ("001", "01")
        ident = {}
        for ext in meta.get("serviceSpecificDataStoredInEuicc", []):
            if tuple(ext["vendorOid"]) == NETWORK_IDENTITY_OID:
                try:
                    ident = json.loads(_open_type_text(ext["vendorSpecificData"]))
                except ValueError:
                    ident = {}
        iccid = st.iccid_from_bytes(meta["iccid"])
        profile = {
            "iccid": iccid, "isdp_aid": b["aid"], "state": "disabled",
            "class": meta.get("profileClass", st.CLASS_OPERATIONAL), "nickname": "",
            "service_provider": meta["serviceProviderName"], "name": meta["profileName"],
            "fallback": False, "mcc": mcc, "mnc": mnc,
            "imsi": ident.get("imsi") or (mcc + mnc + iccid[-(15 - len(mcc + mnc)):]),
            "apn": ident.get("apn", "internet"), "smdp_oid": list(self.smdp_oid),
            "notification_address": self.server_address, "size": b["size"],
        }
        self.isdr.state.data["profiles"].append(profile)
        self.isdr.last_installed_iccid = iccid
        result = ("successResult", {"aid": bytes.fromhex(b["aid"]), "simaResponse": b"\x30\x00"})
        return self._result(result, meta["iccid"])

    def _fail(self, cmd, reason):
        iccid = self.bpp.get("meta", {}).get("iccid") if self.bpp else None
        return self._result(("errorResult", {"bppCommandId": cmd, "errorReason": reason}), iccid)

    def _result(self, final, iccid_raw):
        isdr = self.isdr
        seq = isdr.state.take_seq()
        meta = {"seqNumber": seq, "profileManagementOperation": (0b1000, 4),
                "notificationAddress": self.server_address or st.DEFAULT_NOTIFICATION_ADDRESS}
        if iccid_raw is not None:
            meta["iccid"] = iccid_raw
        data = {"transactionId": self.txid, "notificationMetadata": meta,
                "smdpOid": self.smdp_oid or DEFAULT_SMDP_OID, "finalResult": final}
        data_der = oracle.encode("ProfileInstallationResultData", data)
        value = {"profileInstallationResultData": data, "euiccSignPIR": isdr.euicc.sign(data_der)}
        isdr.add_notification(seq, st.EVENT_INSTALL,
                              st.iccid_from_bytes(iccid_raw) if iccid_raw else None,
                              ("profileInstallationResult", value))
        isdr.state.save()
        self._reset()
        return oracle.encode("ProfileInstallationResult", value)


def _open_type_text(val):
    if isinstance(val, tuple):
        val = val[1]
    if isinstance(val, bytes):
        return val.decode("utf-8")
    return str(val)


def peek_tag(buf):
    if not buf:
        return None
    if buf[0] & 0x1F == 0x1F:
        if len(buf) < 2:
            return None
        return int.from_bytes(buf[:2], "big")
    return buf[0]


def _header_only(buf, pos):
    """Like tlv.header but without requiring the value to be present in buf."""
    start = pos
    if pos >= len(buf):
        raise tlv.TlvError("empty")
    pos += 1
    if buf[start] & 0x1F == 0x1F:
        while pos < len(buf) and buf[pos] & 0x80:
            pos += 1
        pos += 1
    if pos >= len(buf):
        raise tlv.TlvError("truncated header")
    first = buf[pos]
    pos += 1
    n = first & 0x7F if first & 0x80 else 0
    if pos + n > len(buf):
        raise tlv.TlvError("truncated length")
    length = first if not n else int.from_bytes(buf[pos:pos + n], "big")
    return int.from_bytes(buf[start:pos - 1], "big"), pos + n, pos + n + length
