"""Test SM-DP+ logic for the indirect download path (SGP.32 v1.2: IPAd <-ESipa-> eIM <-ES9+'->
SM-DP+), ES9+ functions in the ASN.1 binding (SGP.22 RemoteProfileProvisioningRequest/Response):

    InitiateAuthentication (BF39)   -> serverSigned1 signed with DPauth
    AuthenticateClient (BF3B)       -> eUICC chain + euiccSignature1 checked; smdpSigned2 (DPpb)
    GetBoundProfilePackage (BF3A)   -> euiccSignature2 checked; BPP bound to the eUICC otPK
    HandleNotification (BF3D)       -> ProfileInstallationResult signature checked, recorded
    CancelSession (BF41)            -> euiccCancelSessionSignature checked; order released

Sans-I/O: every method takes DER and returns DER (server.py does HTTPS). Orders and notification
records are in SQLite (":memory:" by default); running sessions are in memory.

The BPP's profile elements are dummies (random bytes of a configurable size), SCP03t-protected as
in host_tools.euicc_sim.scp03t. The new profile's network identity (IMSI, APN) travels in
StoreMetadata as a vendor extension under a private test OID, because the eUICC simulator does
not decrypt profile elements.
"""

import json
import os
import sqlite3
import threading

from cryptography import x509

from host_tools import pki as _pki
from host_tools import sgp32_oracle as oracle
from host_tools.euicc_sim import scp03t, tlv
from host_tools.euicc_sim.download import NETWORK_IDENTITY_OID
from host_tools.euicc_sim.state import iccid_to_bytes, mccmnc_to_bytes

SMDP_OID = (2, 999, 32, 1)
HOST_ID = b"TEST-SMDP+"
DEFAULT_PROFILE_SIZE = 64 * 1024


class SmdpError(Exception):
    """An ES9+ function failed; `code` is the function's error INTEGER where it has one."""

    def __init__(self, function, code, message):
        super().__init__("%s: %s (code %s)" % (function, message, code))
        self.function = function
        self.code = code


_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    matching_id TEXT PRIMARY KEY, iccid TEXT NOT NULL, mcc TEXT, mnc TEXT, imsi TEXT, apn TEXT,
    name TEXT, sp TEXT, size INTEGER, eid TEXT, state TEXT NOT NULL DEFAULT 'released');
CREATE TABLE IF NOT EXISTS notifications (
    seq INTEGER, eid TEXT, iccid TEXT, txid TEXT, kind TEXT, result TEXT, der BLOB);
"""


class SmDp:
    def __init__(self, pki, address="127.0.0.1", db_path=":memory:",
                 profile_size=DEFAULT_PROFILE_SIZE):
        self.pki = pki
        self.address = address
        self.profile_size = profile_size
        self._db = sqlite3.connect(db_path, check_same_thread=False)
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self.sessions = {}

    # ------------------------------------------------------------------ orders
    def add_order(self, matching_id, iccid="8900103000000000033", mcc="001", mnc="03",
                  imsi=None, apn="internet.op3", name="Operator Three IoT", sp="Operator Three",
                  size=None, eid=None):
        """Make a profile available for download under `matching_id` ("" = default order)."""
        imsi = imsi or (mcc + mnc + iccid[-(15 - len(mcc + mnc)):])
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO orders VALUES "
                             "(?,?,?,?,?,?,?,?,?,?, 'released')",
                             (matching_id, iccid, mcc, mnc, imsi, apn, name, sp,
                              size if size is not None else self.profile_size, eid))

    def order_state(self, matching_id):
        row = self._db.execute("SELECT state FROM orders WHERE matching_id=?",
                               (matching_id,)).fetchone()
        return row[0] if row else None

    def notifications(self):
        return [dict(zip(("seq", "eid", "iccid", "txid", "kind", "result"), r))
                for r in self._db.execute(
                    "SELECT seq, eid, iccid, txid, kind, result FROM notifications")]

    def _set_order(self, matching_id, state):
        with self._db:
            self._db.execute("UPDATE orders SET state=? WHERE matching_id=?", (state, matching_id))

    def _pick_order(self, matching_id, eid):
        rows = self._db.execute(
            "SELECT matching_id, iccid, mcc, mnc, imsi, apn, name, sp, size, eid FROM orders "
            "WHERE state='released'").fetchall()
        for r in rows:
            if (matching_id is None or r[0] == matching_id) and (r[9] in (None, eid)):
                keys = ("matching_id", "iccid", "mcc", "mnc", "imsi", "apn", "name", "sp", "size")
                return dict(zip(keys, r))
        return None

    # ------------------------------------------------------------------ dispatch
    def handle(self, der):
        """RemoteProfileProvisioningRequest ([2] CHOICE, or a bare BF39/BF3B/... function) ->
        RemoteProfileProvisioningResponse DER, or b"" for HandleNotification."""
        der = bytes(der)
        tag, vs, ve = tlv.header(der)
        if tag == 0xA2:
            der = der[vs:ve]
            tag = tlv.header(der)[0]
        fn = {0xBF39: self.initiate_authentication, 0xBF3B: self.authenticate_client,
              0xBF3A: self.get_bound_profile_package, 0xBF3D: self.handle_notification,
              0xBF41: self.cancel_session}.get(tag)
        if fn is None:
            raise SmdpError("ES9+", None, "unknown function tag %X" % tag)
        out = fn(der)
        return tlv.encode(0xA2, out) if out else b""

    # ------------------------------------------------------------------ BF39
    def initiate_authentication(self, der):
        req = oracle.decode("InitiateAuthenticationRequest", der)
        ci = self.pki.ci_ski
        if ci not in req["euiccInfo1"]["euiccCiPKIdListForVerification"] or \
                ci not in req["euiccInfo1"]["euiccCiPKIdListForSigning"]:
            raise SmdpError("InitiateAuthentication", None, "no CI in common (ciPKUnknown)")
        txid = os.urandom(16)
        signed1 = {"transactionId": txid, "euiccChallenge": req["euiccChallenge"],
                   "serverAddress": self.address, "serverChallenge": os.urandom(16)}
        sig1 = self.pki.dpauth.sign(oracle.encode("ServerSigned1", signed1))
        self.sessions[txid] = {"server_challenge": signed1["serverChallenge"], "state": "auth"}
        return oracle.encode("InitiateAuthenticationResponse", ("initiateAuthenticationOk", {
            "transactionId": txid, "serverSigned1": signed1, "serverSignature1": sig1,
            "euiccCiPKIdToBeUsed": ci,
            "serverCertificate": oracle.decode("Certificate", self.pki.dpauth.cert_der)}))

    # ------------------------------------------------------------------ BF3B
    def authenticate_client(self, der):
        req = oracle.decode("AuthenticateClientRequest", der)
        txid = req["transactionId"]

        def error(code):
            return oracle.encode("AuthenticateClientResponseEs9", ("authenticateClientError", code))

        sess = self.sessions.get(txid)
        if sess is None or sess["state"] != "auth":
            return error(10)
        kind, asr = req["authenticateServerResponse"]
        if kind != "authenticateResponseOk":
            self.sessions.pop(txid, None)
            return error(127)
        asr_raw = tlv.child(der, 0xBF38)
        ok_raw = tlv.child(asr_raw, 0xA0)
        signed1_raw = tlv.child(ok_raw, 0x30)
        eum = x509.load_der_x509_certificate(oracle.encode("Certificate", asr["eumCertificate"]))
        euicc = x509.load_der_x509_certificate(oracle.encode("Certificate",
                                                             asr["euiccCertificate"]))
        if not _pki.cert_verifies(eum, self.pki.ci.cert):
            return error(1)
        if not _pki.cert_verifies(euicc, eum):
            return error(3)
        if not _pki.verify_raw(euicc.public_key(), signed1_raw, asr["euiccSignature1"]):
            return error(5)
        s1 = asr["euiccSigned1"]
        if s1["transactionId"] != txid or s1["serverChallenge"] != sess["server_challenge"]:
            return error(10)
        eid = euicc.subject.get_attributes_for_oid(x509.NameOID.SERIAL_NUMBER)[0].value
        ctx = s1["ctxParams1"][1]
        matching_id = ctx.get("matchingId")
        order = self._pick_order(matching_id if matching_id else None, eid)
        if order is None:
            return error(6 if matching_id else 8)
        self._set_order(order["matching_id"], "linked")
        sess.update(state="linked", eid=eid, euicc_key=euicc.public_key(), order=order,
                    euicc_signature1=asr["euiccSignature1"])
        signed2 = {"transactionId": txid, "ccRequiredFlag": False}
        sig2 = self.pki.dppb.sign(oracle.encode("SmdpSigned2", signed2)
                                  + tlv.encode(0x5F37, asr["euiccSignature1"]))
        sess["smdp_signature2"] = sig2
        return oracle.encode("AuthenticateClientResponseEs9", ("authenticateClientOk", {
            "transactionId": txid, "profileMetaData": self._metadata(order),
            "smdpSigned2": signed2, "smdpSignature2": sig2,
            "smdpCertificate": oracle.decode("Certificate", self.pki.dppb.cert_der)}))

    def _metadata(self, order):
        ident = json.dumps({"imsi": order["imsi"], "apn": order["apn"]}, sort_keys=True)
        return {"iccid": iccid_to_bytes(order["iccid"]), "serviceProviderName": order["sp"],
                "profileName": order["name"], "profileClass": 2,
                "notificationConfigurationInfo": [{"profileManagementOperation": (0b1111, 4),
                                                   "notificationAddress": self.address}],
                "profileOwner": {"mccMnc": mccmnc_to_bytes(order["mcc"], order["mnc"])},
                "serviceSpecificDataStoredInEuicc": [{"vendorOid": NETWORK_IDENTITY_OID,
                                                      "vendorSpecificData": ("UTF8String", ident)}]}

    # ------------------------------------------------------------------ BF3A
    def get_bound_profile_package(self, der):
        req = oracle.decode("GetBoundProfilePackageRequest", der)
        txid = req["transactionId"]

        def error(code):
            return oracle.encode("GetBoundProfilePackageResponse",
                                 ("getBoundProfilePackageError", code))

        sess = self.sessions.get(txid)
        if sess is None or sess["state"] != "linked":
            return error(95)
        kind, pdr = req["prepareDownloadResponse"]
        if kind != "downloadResponseOk":
            self._release(txid)
            return error(127)
        ok_raw = tlv.child(tlv.child(der, 0xBF21), 0xA0)
        signed2_raw = tlv.child(ok_raw, 0x30)
        if not _pki.verify_raw(sess["euicc_key"], signed2_raw
                               + tlv.encode(0x5F37, sess["smdp_signature2"]),
                               pdr["euiccSignature2"]):
            return error(1)
        if pdr["euiccSigned2"]["transactionId"] != txid:
            return error(95)
        bpp = self.build_bpp(txid, sess, pdr["euiccSigned2"]["euiccOtpk"])
        sess["state"] = "bpp"
        self._set_order(sess["order"]["matching_id"], "downloaded")
        return oracle.encode("GetBoundProfilePackageResponse", ("getBoundProfilePackageOk", {
            "transactionId": txid, "boundProfilePackage": bpp}))

    def build_bpp(self, txid, sess, euicc_otpk):
        """BoundProfilePackage value: ISC signed with DPpb, SCP03t-protected segments."""
        otsk, otpk = scp03t.new_otk()
        crt = {"keyType": scp03t.KEY_TYPE_AES, "keyLen": scp03t.KEY_LEN_16, "hostId": HOST_ID}
        isc = {"remoteOpId": 1, "transactionId": txid, "controlRefTemplate": crt,
               "smdpOtpk": otpk, "smdpSign": b"\x00" * 64}
        draft = oracle.encode("InitialiseSecureChannelRequest", isc)
        _, vs, ve = tlv.header(draft)
        signed = b"".join(raw for t, raw, _ in tlv.children(draft, vs, ve) if t != 0x5F37)
        isc["smdpSign"] = self.pki.dppb.sign(signed + tlv.encode(0x5F49, euicc_otpk))
        keys = scp03t.derive(scp03t.shared_secret(otsk, euicc_otpk), crt["keyType"],
                             crt["keyLen"], HOST_ID, bytes.fromhex(sess["eid"]))
        scp = scp03t.Session(*keys)
        configure = oracle.encode("ConfigureISDPRequest", {"dpProprietaryData":
                                                           {"dpOid": SMDP_OID}})
        first87 = [_value(scp.wrap(0x87, configure, True))]
        meta = oracle.encode("StoreMetadataRequest", self._metadata(sess["order"]))
        step = scp03t.PLAIN_MAX_MAC_ONLY
        seq88 = [_value(scp.wrap(0x88, meta[i:i + step], False))
                 for i in range(0, len(meta), step)]
        plain = os.urandom(sess["order"]["size"])
        step = scp03t.PLAIN_MAX_ENCRYPTED
        seq86 = [_value(scp.wrap(0x86, plain[i:i + step], True))
                 for i in range(0, len(plain), step)] or [_value(scp.wrap(0x86, b"", True))]
        return {"initialiseSecureChannelRequest": isc, "firstSequenceOf87": first87,
                "sequenceOf88": seq88, "sequenceOf86": seq86}

    # ------------------------------------------------------------------ BF3D
    def handle_notification(self, der):
        note = oracle.decode("HandleNotification", der)
        kind, val = note["pendingNotification"]
        if kind == "profileInstallationResult":
            data = val["profileInstallationResultData"]
            txid = data["transactionId"]
            sess = self.sessions.get(txid)
            raw = tlv.child(tlv.child(tlv.child(der, 0xA0), 0xBF37), 0xBF27)
            verified = sess is not None and _pki.verify_raw(sess["euicc_key"], raw,
                                                            val["euiccSignPIR"])
            result = data["finalResult"][0] if verified else "signatureInvalid"
            meta = data["notificationMetadata"]
            self._record(meta["seqNumber"], sess.get("eid") if sess else None,
                         meta.get("iccid"), txid, kind, result, der)
            if sess is not None:
                if result != "successResult":
                    self._set_order(sess["order"]["matching_id"], "released")
                self.sessions.pop(txid, None)
        else:
            meta = val["tbsOtherNotification"]
            self._record(meta["seqNumber"], None, meta.get("iccid"), None, kind, "received", der)
        return b""

    def _record(self, seq, eid, iccid_raw, txid, kind, result, der):
        from host_tools.euicc_sim.state import iccid_from_bytes
        with self._lock, self._db:
            self._db.execute("INSERT INTO notifications VALUES (?,?,?,?,?,?,?)",
                             (seq, eid, iccid_from_bytes(iccid_raw) if iccid_raw else None,
                              txid.hex() if txid else None, kind, result, der))

    # ------------------------------------------------------------------ BF41
    def cancel_session(self, der):
        req = oracle.decode("CancelSessionRequestEs9", der)
        txid = req["transactionId"]
        sess = self.sessions.get(txid)
        if sess is None:
            return oracle.encode("CancelSessionResponseEs9", ("cancelSessionError", 1))
        kind, val = req["cancelSessionResponse"]
        if kind == "cancelSessionResponseOk" and "euicc_key" in sess:
            # cancelSessionResponse is [1] EXPLICIT around the eUICC's BF41
            inner = tlv.child(tlv.child(tlv.child(der, 0xA1), 0xBF41), 0xA0)
            if not _pki.verify_raw(sess["euicc_key"], tlv.child(inner, 0x30),
                                   val["euiccCancelSessionSignature"]):
                return oracle.encode("CancelSessionResponseEs9", ("cancelSessionError", 2))
        self._release(txid)
        return oracle.encode("CancelSessionResponseEs9", ("cancelSessionOk", {}))

    def _release(self, txid):
        sess = self.sessions.pop(txid, None)
        if sess and "order" in sess:
            self._set_order(sess["order"]["matching_id"], "released")


def _value(raw_tlv):
    _, vs, ve = tlv.header(raw_tlv)
    return raw_tlv[vs:ve]
