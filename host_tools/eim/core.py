"""EimCore: the transport-neutral eIM (GSMA SGP.32 v1.2).

`handle_ipa_message(eid_or_none, der) -> der | None` serves every ESipa binding the same way: the
HTTPS ASN.1 binding (http_server.py) and the LwM2M object 3443 relay (lwm2m_relay.py). `None` means
"no response body" (HandleNotification; an inject-mode answer with nothing to acknowledge).

Life of a package (audit events in brackets): queued [queued] -> signed and handed to the IPA
[delivered] -> the IPA's result, verified [result] -> its seqNumber acknowledged [acknowledged];
anything failing ends in [error]. counterValue is assigned at delivery, so it grows in the order
the eUICC sees packages."""

import binascii
import json
import os
import time

from . import codec, crypto, packages, store as store_mod
from .codec import DecodeError

# Outer tags of EsipaMessageFromIpaToEim alternatives (SGP.32 6.3.1)
TAG_INITIATE_AUTH = b"\xbf\x39"
TAG_GET_BPP = b"\xbf\x3a"
TAG_AUTH_CLIENT = b"\xbf\x3b"
TAG_HANDLE_NOTIFICATION = b"\xbf\x3d"
TAG_CANCEL_SESSION = b"\xbf\x41"
TAG_TRANSFER_RESPONSE = b"\xbf\x4e"
TAG_GET_PACKAGE = b"\xbf\x4f"
TAG_PROVIDE_RESULT = b"\xbf\x50"
_TAG_EUICC_PACKAGE_RESULT = b"\xbf\x51"
_TAG_EID = b"\x5a"
_TAG_ASSOCIATION_TOKEN = b"\x84"
_TAG_PROFILE_INSTALLATION_RESULT = b"\xbf\x37"

UNDEFINED_ERROR = 127
# GetEimPackageResponse.eimPackageError / ProvideEimPackageResultResponse error values
NO_EIM_PACKAGE_AVAILABLE = 1
EID_NOT_FOUND = 2
INVALID_EID = 3
MISSING_EID = 4
INVALID_EIM_TRANSACTION_ID = 52  # InitiateAuthenticationResponseEsipa

_TRANSACTION_ID_LEN = 16

# Relayed ES9+' operations: request tag -> (SmdpApi method, response alternative, the name of
# that CHOICE's error alternative)
_RELAY = {
    TAG_INITIATE_AUTH: ("initiate_authentication", "initiateAuthenticationResponseEsipa",
                        "initiateAuthenticationErrorEsipa"),
    TAG_AUTH_CLIENT: ("authenticate_client", "authenticateClientResponseEsipa",
                      "authenticateClientErrorEsipa"),
    TAG_GET_BPP: ("get_bound_profile_package", "getBoundProfilePackageResponseEsipa",
                  "getBoundProfilePackageErrorEsipa"),
    TAG_CANCEL_SESSION: ("cancel_session", "cancelSessionResponseEsipa", "cancelSessionError"),
}
# package kind -> (GetEimPackageResponse / TransferEimPackageRequest alternative, its type)
_ALTERNATIVES = {
    packages.EUICC_PACKAGE: ("euiccPackageRequest", "EuiccPackageRequest"),
    packages.IPA_EUICC_DATA: ("ipaEuiccDataRequest", "IpaEuiccDataRequest"),
    packages.PROFILE_DOWNLOAD_TRIGGER: ("profileDownloadTriggerRequest",
                                        "ProfileDownloadTriggerRequest"),
}
_KNOWN_TAGS = (TAG_GET_PACKAGE, TAG_PROVIDE_RESULT) + tuple(_RELAY)


class MalformedMessage(ValueError):
    """An IPA message the eIM cannot even classify (no response type to carry an error)."""


def _hex(b):
    return binascii.hexlify(bytes(b)).decode() if b is not None else None


def _named(type_obj, value):
    """'name(value)' for an INTEGER with named numbers, else the number."""
    names = getattr(type_obj, "_cont", None)
    if hasattr(names, "items"):
        for k, v in names.items():
            if v == value:
                return "%s(%d)" % (k, value)
    return str(value)


def _result_summary(euicc_result):
    """Short text for EuiccPackageResultDataSigned.euiccResult, e.g. 'enableResult=ok(0)'."""
    choice = codec.asn1_type("EuiccResultData")
    parts = []
    for name, val in euicc_result:
        if isinstance(val, int):
            parts.append("%s=%s" % (name, _named(choice._cont[name], val)))
        elif isinstance(val, tuple):
            parts.append("%s=%s" % (name, val[0]))
        else:
            parts.append("%s=%d item(s)" % (name, len(val)) if isinstance(val, list) else name)
    return ", ".join(parts)


def _notification_seq(notification):
    """seqNumber of a PendingNotification value, or None."""
    kind, body = notification
    if kind == "profileInstallationResult":
        return body["profileInstallationResultData"]["notificationMetadata"]["seqNumber"]
    if kind == "compactProfileInstallationResult":
        return body["compactProfileInstallationResultData"]["seqNumber"]
    if kind in ("otherSignedNotification", "compactOtherSignedNotification"):
        return body["tbsOtherNotification"]["seqNumber"]
    return None


def _find_tlvs(buf, tag, off=0, end=None, depth=0):
    """Raw TLVs with `tag` anywhere in the constructed tree of buf[off:end] (not inside one)."""
    found = []
    if depth > 12:
        return found
    for t, start, voff, vlen in codec.tlv_children(buf, off, end):
        if t == tag:
            found.append(bytes(buf[start:voff + vlen]))
        elif t[0] & 0x20:
            found.extend(_find_tlvs(buf, tag, voff, voff + vlen, depth + 1))
    return found


class EimCore:
    """One eIM identity (eimId + signing key) serving any number of eUICCs."""

    def __init__(self, eim_id, signing_key, store=None, smdp=None, initial_counter=0,
                 redeliver_after_s=None):
        self.eim_id = eim_id
        self.signing_key = signing_key
        self.store = store if store is not None else store_mod.Store(":memory:")
        self.smdp = smdp
        self.initial_counter = initial_counter
        # None: a delivered package waits for its result forever; else it is offered again
        self.redeliver_after_s = redeliver_after_s
        self._queue_listeners = []

    def add_queue_listener(self, callback):
        """callback(eid, package_id) after each queue(); e.g. an inject-mode binding pushing."""
        self._queue_listeners.append(callback)

    # ------------------------------------------------------------------ control plane

    def register_euicc(self, eid, euicc_cert=None, eum_cert=None, counter=None,
                       association_token=None):
        """Make `eid` known; optionally its certificates (DER/PEM bytes) and association state."""
        packages.eid_bytes(eid)
        self.store.ensure_euicc(eid)
        if euicc_cert is not None:
            euicc_cert = crypto.certificate_der(crypto.load_certificate(euicc_cert))
        if eum_cert is not None:
            eum_cert = crypto.certificate_der(crypto.load_certificate(eum_cert))
        self.store.set_certificates(eid, euicc_cert, eum_cert)
        if self.store.association(eid, self.eim_id) is None and counter is None:
            counter = self.initial_counter
        self.store.set_association(eid, self.eim_id, counter, association_token)
        self.store.audit(eid, "registered", "counter=%s token=%s cert=%s" % (
            counter, association_token, "yes" if euicc_cert else "no"))

    def queue(self, eid, kind, spec):
        """Queue a package; returns its id. Raises packages.SpecError naming a bad field."""
        packages.eid_bytes(eid)
        packages.validate(kind, spec)
        if self.store.euicc(eid) is None:
            self.register_euicc(eid)
        txid = os.urandom(_TRANSACTION_ID_LEN)
        pid = self.store.add_package(eid, kind, spec, txid)
        self.store.audit(eid, store_mod.QUEUED, "%s %s txid=%s" % (
            kind, json.dumps(spec, sort_keys=True), _hex(txid)), pid)
        for callback in self._queue_listeners:
            callback(eid, pid)
        return pid

    def queue_body(self, eid, body):
        """Queue from a REST/CLI body ({"psmo": [...]}, {"download": {...}}, ...)."""
        kind, spec = packages.kind_of(body)
        return self.queue(eid, kind, spec)

    def cancel(self, package_id):
        row = self.store.package(package_id)
        if row is None or row["state"] != store_mod.QUEUED:
            return False
        self.store.update_package(package_id, state=store_mod.CANCELLED)
        self.store.audit(row["eid"], store_mod.CANCELLED, "", package_id)
        return True

    def package_list(self, eid):
        out = []
        for r in self.store.packages(eid):
            out.append({"id": r["id"], "kind": r["kind"], "spec": json.loads(r["spec"]),
                        "state": r["state"], "counterValue": r["counter"],
                        "eimTransactionId": _hex(r["eim_transaction_id"]),
                        "seqNumber": r["seq_number"], "result": r["result_summary"]})
        return out

    def audit_log(self, eid=None):
        return self.store.audit_log(eid)

    # ------------------------------------------------------------------ ESipa entry

    def handle_ipa_message(self, eid_or_none, der):
        """Answer one EsipaMessageFromIpaToEim (DER). Returns the EsipaMessageFromEimToIpa DER,
        or None when the message has no response. Raises MalformedMessage only when the outer
        tag is not an ESipa IPA->eIM message at all."""
        der = bytes(der)
        try:
            tag, voff, vlen = codec.tlv_header(der)
        except DecodeError as exc:
            self.store.audit(eid_or_none, "ipa-error", "unparsable message: %s" % exc)
            if der[:2] in _KNOWN_TAGS:  # truncated, but we know what it wanted to be
                return self._malformed_response(der[:2], eid_or_none)
            raise MalformedMessage("not a BER-TLV: %s" % exc) from None
        try:
            if voff + vlen != len(der):
                raise DecodeError("TLV", "trailing bytes after %s" % tag.hex())
            codec.check_structure(der)
        except DecodeError as exc:
            self._ipa_error(eid_or_none, "malformed %s: %s" % (tag.hex(), exc))
            return self._malformed_response(tag, eid_or_none)
        try:
            return self._dispatch(eid_or_none, tag, der, voff, vlen)
        except (DecodeError, KeyError, IndexError, TypeError, ValueError, OverflowError) as exc:
            if isinstance(exc, MalformedMessage):
                raise
            # a well-formed TLV tree with contents this eIM cannot use (e.g. an unknown
            # extension alternative where a known one is needed)
            self._ipa_error(eid_or_none, "unusable %s: %r" % (tag.hex(), exc))
            return self._malformed_response(tag, eid_or_none)

    def _dispatch(self, eid_or_none, tag, der, voff, vlen):
        if tag == TAG_GET_PACKAGE:
            return self._get_eim_package(der, voff, vlen)
        if tag == TAG_PROVIDE_RESULT:
            return self._provide_result(eid_or_none, der, voff, vlen, respond=True)
        if tag == TAG_HANDLE_NOTIFICATION:
            return self._handle_notification(eid_or_none, der)
        if tag == TAG_TRANSFER_RESPONSE:
            return self._transfer_response(eid_or_none, der)
        if tag in _RELAY:
            return self._relay(eid_or_none, tag, der)
        self.store.audit(eid_or_none, "ipa-error", "unknown message tag %s" % tag.hex())
        raise MalformedMessage("tag %s is no EsipaMessageFromIpaToEim" % tag.hex())

    def next_push_message(self, eid):
        """Inject mode (LwM2M write, SGP.32 eimInject*): the next TransferEimPackageRequest for
        `eid` — pending acknowledgements first, else the next queued package — or None."""
        acks = self._take_acks(eid)
        if acks:
            return codec.encode("EsipaMessageFromEimToIpa",
                                ("transferEimPackageRequest", ("eimAcknowledgements", acks)))
        built = self._deliver_next(eid)
        if built is None:
            return None
        return codec.encode("EsipaMessageFromEimToIpa", ("transferEimPackageRequest", built))

    # ------------------------------------------------------------------ helpers

    def _ipa_error(self, eid, detail, package_id=None):
        self.store.audit(eid, "ipa-error", detail, package_id)

    def _respond(self, alternative, value):
        return codec.encode("EsipaMessageFromEimToIpa", (alternative, value))

    def _malformed_response(self, tag, eid):
        """The type-appropriate undefinedError for a known but unparsable request."""
        if tag == TAG_GET_PACKAGE:
            return self._respond("getEimPackageResponse", ("eimPackageError", UNDEFINED_ERROR))
        if tag == TAG_PROVIDE_RESULT:
            return self._respond("provideEimPackageResultResponse",
                                 ("provideEimPackageResultError", UNDEFINED_ERROR))
        if tag in _RELAY:
            _, alt, err = _RELAY[tag]
            return self._respond(alt, (err, UNDEFINED_ERROR))
        raise MalformedMessage("malformed %s" % tag.hex())

    def _check_eid(self, eid_value):
        """(eid_text, None) or (None, error code) for a raw eidValue."""
        if eid_value is None:
            return None, MISSING_EID
        if len(eid_value) != 16:
            return None, INVALID_EID
        eid = binascii.hexlify(eid_value).decode()
        if self.store.euicc(eid) is None:
            return None, EID_NOT_FOUND
        return eid, None

    def _raw_eid(self, der, voff, vlen):
        tlv = codec.tlv_find(der, _TAG_EID, voff, voff + vlen)
        return None if tlv is None else codec.tlv_value(tlv)

    # ------------------------------------------------------------------ GetEimPackage

    def _eid_and_request(self, what, der, voff, vlen, fallback_eid=None):
        """(eid, decoded request, None), or (None, None, error code) for a request whose EID
        comes from its eidValue (or, when that is absent, from the transport)."""
        try:
            eid_value = self._raw_eid(der, voff, vlen)
        except DecodeError as exc:
            self._ipa_error(fallback_eid, "%s: %s" % (what, exc))
            return None, None, UNDEFINED_ERROR
        if eid_value is None and fallback_eid is not None:
            eid_value = packages.eid_bytes(fallback_eid)
        eid, code = self._check_eid(eid_value)
        if code is not None:
            self._ipa_error(_hex(eid_value), "%s: eid error %d" % (what, code))
            return None, None, code
        try:
            _, req = codec.decode("EsipaMessageFromIpaToEim", der)
        except DecodeError as exc:
            self._ipa_error(eid, "%s: %s" % (what, exc))
            return None, None, UNDEFINED_ERROR
        return eid, req, None

    def _get_eim_package(self, der, voff, vlen):
        eid, req, code = self._eid_and_request("GetEimPackageRequest", der, voff, vlen)
        if code is None:
            if "notifyStateChange" in req or "stateChangeCause" in req:
                self.store.audit(eid, "state-change", "cause=%s rPLMN=%s" % (
                    req.get("stateChangeCause"), _hex(req.get("rPLMN"))))
            built = self._deliver_next(eid)
            if built is not None:
                return self._respond("getEimPackageResponse", built)
            code = NO_EIM_PACKAGE_AVAILABLE
        return self._respond("getEimPackageResponse", ("eimPackageError", code))

    def _deliver_next(self, eid):
        """(alternative, value) of the next package for eid, now marked delivered: a stale
        delivered one again (when redelivery is on), else the oldest queued one."""
        stale = self._stale_delivery(eid)
        if stale is not None:
            return stale
        while True:
            row = self.store.next_queued(eid)
            if row is None:
                return None
            try:
                built, fields = self._build(row)
            except (packages.SpecError, DecodeError, ValueError) as exc:
                self.store.update_package(row["id"], state=store_mod.ERROR,
                                          result_summary="build failed: %s" % exc)
                self.store.audit(eid, store_mod.ERROR, "build failed: %s" % exc, row["id"])
                continue
            self.store.update_package(row["id"], state=store_mod.DELIVERED, **fields)
            self.store.audit(eid, store_mod.DELIVERED, "%s counterValue=%s" % (
                row["kind"], fields.get("counter")), row["id"])
            return built

    def _stale_delivery(self, eid):
        """The same signed bytes again for a package delivered more than redeliver_after_s ago
        with no answer (its response to the IPA may have been lost). Same counterValue: an eUICC
        that did run it answers replayError, which does not undo a result already recorded."""
        if self.redeliver_after_s is None:
            return None
        now = time.time()
        for row in self.store.packages(eid):
            if row["state"] == store_mod.DELIVERED and row["der"] is not None \
                    and now - row["updated"] >= self.redeliver_after_s:
                alternative, type_name = _ALTERNATIVES[row["kind"]]
                value = codec.decode(type_name, bytes(row["der"]))
                self.store.update_package(row["id"], state=store_mod.DELIVERED)
                self.store.audit(eid, "redelivered", "%s counterValue=%s" % (
                    row["kind"], row["counter"]), row["id"])
                return alternative, value
        return None

    def _build(self, row):
        spec = json.loads(row["spec"])
        txid = bytes(row["eim_transaction_id"])
        kind = row["kind"]
        if kind == packages.IPA_EUICC_DATA:
            value = packages.ipa_euicc_data_request_value(spec, txid)
            return ("ipaEuiccDataRequest", value), {
                "der": codec.encode("IpaEuiccDataRequest", value)}
        if kind == packages.PROFILE_DOWNLOAD_TRIGGER:
            value = packages.profile_download_trigger_value(spec, txid)
            return ("profileDownloadTriggerRequest", value), {
                "der": codec.encode("ProfileDownloadTriggerRequest", value)}
        eid = row["eid"]
        package = packages.euicc_package_value(spec)
        counter = self.store.next_counter(eid, self.eim_id)
        signed = {"eimId": self.eim_id, "eidValue": packages.eid_bytes(eid),
                  "counterValue": counter, "eimTransactionId": txid, "euiccPackage": package}
        signature = self.sign_package(eid, codec.encode("EuiccPackageSigned", signed))
        request = {"euiccPackageSigned": signed, "eimSignature": signature}
        der = codec.encode("EuiccPackageRequest", request)
        return ("euiccPackageRequest", request), {"counter": counter, "der": der,
                                                  "eim_signature": signature}

    def sign_package(self, eid, signed_der):
        """eimSignature over euiccPackageSigned || associationToken DO ('84 01 00' when the
        association has no token) — SGP.32 2.11.1.1."""
        return crypto.sign_plain(self.signing_key, bytes(signed_der) + self._association_token_do(eid))

    def _association_token_do(self, eid):
        assoc = self.store.association(eid, self.eim_id)
        token = assoc["association_token"] if assoc is not None else None
        return codec.tlv_encode(_TAG_ASSOCIATION_TOKEN, codec.der_integer(token or 0))

    # ------------------------------------------------------------------ results

    def _provide_result(self, eid_or_none, der, voff, vlen, respond):
        eid, req, code = self._eid_and_request("ProvideEimPackageResult", der, voff, vlen,
                                               eid_or_none)
        if code is not None:
            if not respond:
                return None
            return self._respond("provideEimPackageResultResponse",
                                 ("provideEimPackageResultError", code))
        self._process_package_result(eid, der, req["eimPackageResult"])
        if not respond:
            return None
        acks = self._take_acks(eid)
        if acks:
            return self._respond("provideEimPackageResultResponse", ("eimAcknowledgements", acks))
        return self._respond("provideEimPackageResultResponse", ("emptyResponse", {}))

    def _process_package_result(self, eid, der, result):
        kind, body = result
        # EuiccPackageResults are verified from their exact received bytes, wherever they sit
        for tlv in _find_tlvs(der, _TAG_EUICC_PACKAGE_RESULT):
            self._euicc_package_result(eid, tlv)
        if kind == "ePRAndNotifications":
            for n in body.get("notificationList", ()):
                self._notification(eid, n, None)
        elif kind == "ipaEuiccDataResponse":
            self._ipa_euicc_data_response(eid, der, body)
        elif kind == "profileDownloadTriggerResult":
            self._download_result(eid, body)
            # ES9+' HandleNotification: the SM-DP+ gets the eUICC-signed result as received
            for pir in _find_tlvs(der, _TAG_PROFILE_INSTALLATION_RESULT):
                self._forward_notification(eid, pir)
        elif kind == "eimPackageResultResponseError":
            row = self._package_for(eid, body.get("eimTransactionId"))
            code = _named(codec.asn1_type("EimPackageResultErrorCode"),
                          body["eimPackageResultErrorCode"])
            self._fail(eid, row, "eimPackageResultResponseError %s" % code)

    def _package_for(self, eid, txid):
        """The package a result refers to: by eimTransactionId, else the last delivered one."""
        if txid is not None:
            return self.store.package_by_transaction(eid, txid)
        rows = [r for r in self.store.packages(eid) if r["state"] == store_mod.DELIVERED]
        return rows[-1] if rows else None

    def _fail(self, eid, row, detail):
        pid = row["id"] if row is not None else None
        if row is not None and row["state"] in (store_mod.RESULT, store_mod.ACKNOWLEDGED):
            # the first conclusive answer stands (e.g. replayError for a redelivered package)
            self.store.audit(eid, "late-error", detail, pid)
            return
        if row is not None:
            self.store.update_package(pid, state=store_mod.ERROR, result_summary=detail)
        self.store.audit(eid, store_mod.ERROR, detail, pid)

    def _euicc_public_key(self, eid):
        row = self.store.euicc(eid)
        if row is None or row["euicc_cert"] is None:
            return None
        return crypto.load_certificate(bytes(row["euicc_cert"])).public_key()

    def _verify_euicc_signature(self, eid, data_tlv, signature):
        """'verified' / 'unverified: …' / 'invalid' for euiccSignEPR/EPE: signed over the data
        object || the association's associationToken DO, as the eIM signature is (SGP.32 v1.2
        2.11.2.1; v1.0 used the eimSignature instead)."""
        key = self._euicc_public_key(eid)
        if key is None:
            return "unverified: no eUICC certificate"
        signed = data_tlv + self._association_token_do(eid)
        return "verified" if crypto.verify_plain(key, signed, signature) else "invalid"

    def _euicc_package_result(self, eid, tlv):
        try:
            kind, body = codec.decode("EuiccPackageResult", tlv)
            _, voff, vlen = codec.tlv_header(tlv)
            alt = codec.tlv_children(tlv, voff, voff + vlen)[0]  # the [0]/[1]/[2] alternative
            first = codec.tlv_children(tlv, alt[2], alt[2] + alt[3])[0]  # its signed data
            data_tlv = bytes(tlv[first[1]:first[2] + first[3]])
        except (DecodeError, IndexError) as exc:
            self._ipa_error(eid, "EuiccPackageResult: %s" % exc)
            return
        if kind.startswith("_ext"):  # an alternative v1.2 does not define
            self._ipa_error(eid, "EuiccPackageResult: unknown alternative %s" % kind)
            return
        if kind == "euiccPackageErrorUnsigned":
            row = self._package_for(eid, body.get("eimTransactionId"))
            self._fail(eid, row, "euiccPackageErrorUnsigned eimId=%s" % body["eimId"])
            return
        signed_name = ("euiccPackageResultDataSigned" if kind == "euiccPackageResultSigned"
                       else "euiccPackageErrorDataSigned")
        sig_name = "euiccSignEPR" if kind == "euiccPackageResultSigned" else "euiccSignEPE"
        data = body[signed_name]
        if data["eimId"] != self.eim_id:
            self._ipa_error(eid, "%s for another eIM %r" % (kind, data["eimId"]))
            return
        txid = data.get("eimTransactionId")
        row = (self.store.package_by_transaction(eid, txid) if txid is not None
               else self.store.package_by_counter(eid, data["counterValue"]))
        if row is not None and row["counter"] != data["counterValue"]:
            self._fail(eid, row, "counterValue mismatch: sent %s, result %s" % (
                row["counter"], data["counterValue"]))
            return
        check = self._verify_euicc_signature(eid, data_tlv, body[sig_name])
        if check == "invalid":
            self._fail(eid, row, "%s signature invalid" % sig_name)
            return
        pid = row["id"] if row is not None else None
        if kind == "euiccPackageErrorSigned":
            code = _named(codec.asn1_type("EuiccPackageErrorCode"), data["euiccPackageErrorCode"])
            self._fail(eid, row, "euiccPackageErrorSigned %s (%s)" % (code, check))
            return
        summary = "%s (%s, seqNumber=%d)" % (_result_summary(data["euiccResult"]), check,
                                             data["seqNumber"])
        if row is not None:
            self.store.update_package(pid, state=store_mod.RESULT, result=tlv,
                                      seq_number=data["seqNumber"], result_summary=summary)
        self.store.audit(eid, store_mod.RESULT, summary, pid)
        self._learn_association_tokens(eid, data["euiccResult"])
        self.store.add_pending_ack(eid, data["seqNumber"], "euiccPackageResult")

    def _learn_association_tokens(self, eid, euicc_result):
        for name, val in euicc_result:
            if name == "addEimResult" and val[0] == "associationToken":
                self.store.audit(eid, "association-token", "addEim returned token %d" % val[1])

    def _notification(self, eid, notification, raw):
        seq = _notification_seq(notification)
        if raw is None:
            raw = codec.encode("PendingNotification", notification)
        self.store.add_notification(eid, seq, raw)
        self.store.audit(eid, "notification", "%s seqNumber=%s" % (notification[0], seq))
        if seq is not None:
            self.store.add_pending_ack(eid, seq, "notification")
        if notification[0] == "profileInstallationResult":
            self._forward_notification(eid, raw)

    def _forward_notification(self, eid, raw):
        if self.smdp is None:
            return
        try:
            self.smdp.handle_notification(raw)
            self.store.audit(eid, "relay", "handle_notification")
        except Exception as exc:  # a failing SM-DP+ must not lose the eIM's own record
            self.store.audit(eid, "relay-error", "handle_notification: %r" % exc)

    def _ipa_euicc_data_response(self, eid, der, body):
        kind, data = body
        if kind == "ipaEuiccDataResponseError":
            row = self._package_for(eid, data.get("eimTransactionId"))
            code = _named(codec.asn1_type("IpaEuiccDataErrorCode"), data["ipaEuiccDataErrorCode"])
            self._fail(eid, row, "ipaEuiccDataResponseError %s" % code)
            return
        self._store_certificates(eid, der)
        if "associationToken" in data:
            self.store.set_association(eid, self.eim_id, association_token=data["associationToken"])
        for n in data.get("notificationsList", ()):
            self._notification(eid, n, None)
        row = self._package_for(eid, data.get("eimTransactionId"))
        fields = sorted(k for k in data if k != "eimTransactionId")
        summary = "ipaEuiccData: %s" % ", ".join(fields)
        if row is not None:
            self.store.update_package(row["id"], state=store_mod.RESULT, result_summary=summary)
        self.store.audit(eid, store_mod.RESULT, summary, row["id"] if row is not None else None)

    def _store_certificates(self, eid, der):
        """Keep the eUICC/EUM certificates the IPA returned (tags A6/A5 inside IpaEuiccData)."""
        for tag, column in ((b"\xa6", "euicc_cert"), (b"\xa5", "eum_cert")):
            found = _find_tlvs(der, tag)
            if not found:
                continue
            cert_der = b"\x30" + found[0][1:]  # [n] IMPLICIT Certificate -> plain SEQUENCE
            try:
                crypto.load_certificate(cert_der)
            except ValueError as exc:
                self._ipa_error(eid, "%s not a certificate: %s" % (column, exc))
                continue
            self.store.set_certificates(eid, **{column: cert_der})

    def _download_result(self, eid, body):
        row = self._package_for(eid, body.get("eimTransactionId"))
        kind, data = body["profileDownloadTriggerResultData"]
        if kind == "profileDownloadError":
            self._fail(eid, row, "profileDownloadError %s" % data["profileDownloadErrorReason"])
            return
        pir = data["profileInstallationResultData"]
        seq = pir["notificationMetadata"]["seqNumber"]
        final_kind, final = pir["finalResult"]
        if final_kind == "successResult":
            summary = "profile installed aid=%s seqNumber=%d" % (_hex(final["aid"]), seq)
            state = store_mod.RESULT
        else:
            summary = "installation failed bppCommandId=%s errorReason=%s" % (
                final["bppCommandId"], final["errorReason"])
            state = store_mod.ERROR
        if row is not None:
            self.store.update_package(row["id"], state=state, result_summary=summary,
                                      seq_number=seq)
        self.store.audit(eid, state, summary, row["id"] if row is not None else None)
        self.store.add_pending_ack(eid, seq, "profileInstallationResult")

    def _take_acks(self, eid):
        acks = self.store.take_pending_acks(eid)
        for seq, what in acks:
            row = self.store.package_by_seq(eid, seq)
            if row is not None and row["state"] == store_mod.RESULT:
                self.store.update_package(row["id"], state=store_mod.ACKNOWLEDGED)
            self.store.audit(eid, store_mod.ACKNOWLEDGED, "%s seqNumber=%d" % (what, seq),
                             row["id"] if row is not None else None)
        return [seq for seq, _ in acks]

    # ------------------------------------------------------------------ notifications, inject

    def _handle_notification(self, eid_or_none, der):
        try:
            _, (kind, body) = codec.decode("EsipaMessageFromIpaToEim", der)
        except DecodeError as exc:
            self._ipa_error(eid_or_none, "HandleNotificationEsipa: %s" % exc)
            raise MalformedMessage("HandleNotificationEsipa: %s" % exc) from None
        if kind == "provideEimPackageResult":
            _, voff, vlen = codec.tlv_header(der)
            inner = codec.tlv_children(der, voff, voff + vlen)[0]
            return self._provide_result(eid_or_none, der, inner[2], inner[3], respond=False)
        eid = eid_or_none
        if eid is None and body[0] == "compactOtherSignedNotification":
            eid_value = body[1].get("eidValue")
            eid = _hex(eid_value) if eid_value is not None else None
        _, voff, vlen = codec.tlv_header(der)
        inner = codec.tlv_children(der, voff, voff + vlen)[0]
        self._notification(eid, body, bytes(der[inner[1]:inner[2] + inner[3]]))
        return None

    def _transfer_response(self, eid_or_none, der):
        if eid_or_none is None:
            self._ipa_error(None, "TransferEimPackageResponse without a known EID")
            raise MalformedMessage("TransferEimPackageResponse needs the EID from the transport")
        eid = eid_or_none
        try:
            _, (kind, body) = codec.decode("EsipaMessageFromIpaToEim", der)
        except DecodeError as exc:
            self._ipa_error(eid, "TransferEimPackageResponse: %s" % exc)
            raise MalformedMessage("TransferEimPackageResponse: %s" % exc) from None
        if kind == "eimPackageReceived":
            row = self._package_for(eid, None)
            self.store.audit(eid, "received", "IPA took the package",
                             row["id"] if row is not None else None)
        elif kind == "eimPackageError":
            code = _named(codec.asn1_type("EsipaMessageFromIpaToEim")._cont[
                "transferEimPackageResponse"]._cont["eimPackageError"], body)
            self._fail(eid, self._package_for(eid, None), "TransferEimPackageResponse %s" % code)
        else:
            self._process_package_result(eid, der, (kind, body))
        acks = self._take_acks(eid)
        if not acks:
            return None
        return self._respond("transferEimPackageRequest", ("eimAcknowledgements", acks))

    # ------------------------------------------------------------------ ES9+' relay

    def _relay(self, eid_or_none, tag, der):
        method, alternative, err_name = _RELAY[tag]

        def error(code, detail):
            self.store.audit(eid, "relay-error", "%s: %s" % (method, detail))
            return self._respond(alternative, (err_name, code))

        eid = eid_or_none
        try:
            _, req = codec.decode("EsipaMessageFromIpaToEim", der)
        except DecodeError as exc:
            return error(UNDEFINED_ERROR, "malformed request: %s" % exc)
        package_id = None
        if tag == TAG_INITIATE_AUTH and "eimTransactionId" in req:
            row = self.store.package_by_transaction(eid, req["eimTransactionId"])
            if row is None or row["kind"] != packages.PROFILE_DOWNLOAD_TRIGGER:
                return error(INVALID_EIM_TRANSACTION_ID, "unknown eimTransactionId %s" % _hex(
                    req["eimTransactionId"]))
            eid, package_id = row["eid"], row["id"]
        elif "transactionId" in req:
            session = self.store.smdp_session(req["transactionId"])
            if session is not None:
                eid = eid or session["eid"]
                package_id = session["package_id"]
        if self.smdp is None:
            return error(UNDEFINED_ERROR, "no SM-DP+ configured")
        try:
            resp = bytes(getattr(self.smdp, method)(der))
            got, value = codec.decode("EsipaMessageFromEimToIpa", resp)
        except DecodeError as exc:
            return error(UNDEFINED_ERROR, "SM-DP+ answered garbage: %s" % exc)
        except Exception as exc:  # the SM-DP+ adapter's own failure, reported to the IPA
            return error(UNDEFINED_ERROR, "SM-DP+ failed: %r" % exc)
        if got != alternative:
            return error(UNDEFINED_ERROR, "SM-DP+ answered %s" % got)
        ok_kind, ok_body = value
        if isinstance(ok_body, dict) and "transactionId" in ok_body:
            self.store.add_smdp_session(ok_body["transactionId"], eid, package_id)
        self.store.audit(eid, "relay", "%s -> %s" % (method, ok_kind), package_id)
        return resp
