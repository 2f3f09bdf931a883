"""IPAd procedures of SGP.32 v1.2 as sans-I/O state machines.

Each public method returns a generator. It yields one action at a time and is sent the outcome:

  {"es10b": command}      -> send the ES10b response bytes (runner does STORE DATA/GET RESPONSE,
                             see apdu.transact)
  {"esipa": message}      -> send the eIM's response body (b"" when it has none)
  {"esipa_stream": msg}   -> send the first chunk of the eIM's response, then answer every
                             {"more": None} with the next chunk (b"" at the end)
  {"apdu": apdu}          -> send (data, sw) of that raw APDU (BPP segments only)
  {"done": result}        -> finished; result is a dict

Transport failures are thrown into the generator: EimUnreachable when the eIM cannot be
reached (it drives back-off and profile rollback), anything else aborts the procedure. Steps
with side effects on the eUICC are checkpointed in IpaState first, so resume() after a reset
continues from the last one instead of repeating it."""

import binascii

from micropython import const

from ipa import apdu, bpp, es10b, esipa, tlv

_BACKOFF_MIN_MS = const(30000)
_BACKOFF_MAX_MS = const(3600000)
_ROLLBACK_AFTER_FAILS = const(2)
_MAX_PACKAGES_PER_POLL = const(8)

# ProfileDownloadErrorReason.
_PDE_UNDEFINED = const(127)


class EimUnreachable(Exception):
    """Raised into a procedure by the runner when no ESipa exchange with the eIM was possible."""


class ProcedureError(Exception):
    """A procedure could not go on; .step names where."""

    def __init__(self, step, msg):
        self.step = step
        super().__init__("%s: %s" % (step, msg))


def drive(gen, handler):
    """Synchronous runner (tests, host tools): handler(action) returns the outcome or raises."""
    action = next(gen)
    while "done" not in action:
        try:
            outcome = handler(action)
        except Exception as e:  # noqa: BLE001 - every transport error goes back into the procedure
            action = gen.throw(e)
            continue
        action = gen.send(outcome)
    return action["done"]


class Ipa:
    def __init__(self, state, eim_version=esipa.V12, tac=b"\x35\x29\x06\x00", imei=None,
                 eim_configs=None, backoff_min_ms=_BACKOFF_MIN_MS, backoff_max_ms=_BACKOFF_MAX_MS,
                 rollback_after_fails=_ROLLBACK_AFTER_FAILS, channel=0, immediate_enable=False):
        self.st = state
        self.version = eim_version
        self.tac = tac
        self.imei = imei
        self.eim_configs = eim_configs or []
        self.backoff_min_ms = backoff_min_ms
        self.backoff_max_ms = backoff_max_ms
        self.rollback_after_fails = rollback_after_fails
        self.immediate_enable = immediate_enable
        self.sd = apdu.StoreData(channel)

    # --- plumbing ---------------------------------------------------------------------------

    def _es10b(self, cmd):
        resp = yield {"es10b": cmd}
        return resp

    def _esipa(self, msg):
        resp = yield {"esipa": msg}
        return resp

    def _done(self, inner):
        result = yield from inner
        yield {"done": result}

    def _eid(self):
        eid = self.st["eid"]
        if eid is None:
            resp = yield from self._es10b(es10b.get_euicc_data())
            eid = es10b.parse_eid(resp).hex()
            self.st.set("eid", eid)
        return _unhex(eid)

    # --- public procedures ------------------------------------------------------------------

    def startup(self):
        """First-boot AddInitialEim, then resume whatever a reset interrupted."""
        return self._done(self._startup())

    def add_initial_eim(self):
        return self._done(self._add_initial_eim())

    def resume(self):
        return self._done(self._resume())

    def poll(self, state_change_cause=None, rplmn=None):
        """Deliver unacknowledged results, then GetEimPackage and run what the eIM returns until
        it has nothing more (noEimPackageAvailable -> retry_ms grows by back-off). With a
        state_change_cause (esipa.CAUSE_*) the first request carries notifyStateChange, the
        cause (v1.2) and the registered PLMN."""
        return self._done(self._poll(state_change_cause, rplmn))

    def execute_euicc_package(self, package):
        return self._done(self._execute_euicc_package(package))

    def ipa_euicc_data(self, request):
        return self._done(self._ipa_euicc_data(request))

    def profile_download(self, trigger):
        return self._done(self._profile_download(trigger))

    def handle_notifications(self):
        return self._done(self._handle_notifications())

    def cancel_session(self, transaction_id, reason=es10b.REASON_UNDEFINED):
        return self._done(self._cancel_session(transaction_id, reason))

    def transfer(self, message):
        """A TransferEimPackageRequest pushed by the eIM: run it, result {"reply": bytes} holds
        the TransferEimPackageResponse to send back."""
        return self._done(self._transfer(message))

    def eim_unreachable(self):
        """Tell the IPAd the eIM could not be reached (e.g. poll failed at the transport)."""
        return self._done(self._eim_unreachable())

    # --- AddInitialEim --------------------------------------------------------------------------

    def _startup(self):
        out = {}
        if not self.st["initial_eim_done"]:
            out["initial_eim"] = yield from self._add_initial_eim()
        out["resumed"] = yield from self._resume()
        return out

    def _add_initial_eim(self):
        resp = yield from self._es10b(es10b.get_eim_configuration_data())
        existing = es10b.parse_eim_configuration_data(resp)
        if existing or not self.eim_configs:
            self.st.set("initial_eim_done", True)
            return {"added": 0, "existing": [e.get("eimId") for e in existing]}
        resp = yield from self._es10b(es10b.add_initial_eim(self.eim_configs))
        tokens = es10b.parse_add_initial_eim(resp)
        self.st.set("initial_eim_done", True)
        return {"added": len(tokens), "associationTokens": tokens}

    # --- resume after reset -----------------------------------------------------------------------

    def _resume(self):
        ph = self.st["phase"]
        if ph is None:
            return None
        proc, step = ph["proc"], ph["step"]
        if (proc == "euicc_package" and step == "load") or proc == "rollback":
            # The package (or rollback) may or may not have run: the eUICC keeps its result, so
            # collect stored results rather than replaying (a replay would earn replayError).
            resp = yield from self._es10b(es10b.retrieve_notifications_list(
                euicc_package_results=True))
            try:
                _, items, _ = es10b.parse_notifications_list(resp)
            except es10b.Es10Error:
                items = []
            for seq, raw in items:
                self.st.add_pending("epr", raw, seq, save=False)
            if proc == "rollback":
                self.st.d["rollback"] = None
            self.st.clear_phase()
        elif proc == "download" and step != "provide":
            yield from self._resume_download(ph)
        else:
            self.st.clear_phase()
        return {"proc": proc, "step": step, "pending": len(self.st.pending())}

    def _resume_download(self, ph):
        txid = _unhex(ph["txid"]) if ph.get("txid") else None
        eim_txid = _unhex(ph["eimTxid"]) if ph.get("eimTxid") else None
        found = None
        if txid is not None:
            # A reset after the last segment may have left an installed profile: its
            # ProfileInstallationResult waits in the notification list.
            try:
                resp = yield from self._es10b(es10b.retrieve_notifications_list())
                _, items, _ = es10b.parse_notifications_list(resp)
            except (es10b.Es10Error, apdu.ApduError):
                # A STORE DATA chain cut mid-segment can make the first command after it fail.
                items = []
            for seq, raw in items:
                if raw[:2] == b"\xbf\x37":
                    pir = es10b.parse_profile_installation_result(raw)
                    if pir["transactionId"] == txid:
                        found = raw
            if found is None:
                try:
                    yield from self._es10b(es10b.cancel_session(txid, es10b.REASON_UNDEFINED))
                except (apdu.ApduError, tlv.TlvError):
                    pass    # the reset already ended the eUICC's session
        if found is not None:
            result = esipa.profile_download_trigger_result(eim_txid, pir=found)
        else:
            result = esipa.profile_download_trigger_result(eim_txid, error_reason=_PDE_UNDEFINED)
        self.st.add_pending("pdtr", result, save=False)
        self.st.clear_phase()

    # --- eIM package retrieval ---------------------------------------------------------------

    def _poll(self, cause=None, rplmn=None):
        eid = yield from self._eid()
        done = []
        if cause is None and self.st["state_change"] is not None:
            # A profile change the eIM did not order (immediate enable) is reported once.
            cause = self.st["state_change"]
        try:
            if self.st.pending():
                done.append((yield from self._provide_pending()))
            for _ in range(_MAX_PACKAGES_PER_POLL):
                msg = esipa.get_eim_package(eid, cause is not None, cause, rplmn, self.version)
                resp = yield from self._esipa(msg)
                if cause is not None and self.st["state_change"] is not None:
                    self.st.set("state_change", None)
                cause = rplmn = None
                name, d = esipa.decode(resp, self.version)
                if name != "getEimPackage":
                    raise ProcedureError("GetEimPackage", "eIM answered with " + name)
                kind = d["package"]
                if kind == "eimPackageError":
                    if d["error"] != esipa.NO_EIM_PACKAGE_AVAILABLE:
                        raise ProcedureError("GetEimPackage", "eimPackageError %d" % d["error"])
                    # The eIM may have seen our results over the new profile: it is reachable.
                    yield from self._eim_confirmed()
                    b = self.st["backoff_ms"]
                    b = self.backoff_min_ms if b <= 0 else min(b * 2, self.backoff_max_ms)
                    self.st.set("backoff_ms", b)
                    return {"idle": True, "retry_ms": b, "handled": done}
                self.st.set("backoff_ms", 0)
                res = yield from self._dispatch(d)
                done.append(res)
                if res.get("undelivered"):
                    # The eIM went away mid-package; back-off/rollback were already applied.
                    return {"idle": True, "retry_ms": self.st["backoff_ms"], "unreachable": True,
                            "rollback": res.get("rollback"), "handled": done}
            return {"idle": False, "retry_ms": 0, "handled": done}
        except EimUnreachable:
            r = yield from self._eim_unreachable()
            r["handled"] = done
            return r

    def _dispatch(self, d):
        kind = d["package"]
        if kind == "euiccPackageRequest":
            return (yield from self._execute_euicc_package(d["raw"]))
        if kind == "ipaEuiccDataRequest":
            return (yield from self._ipa_euicc_data(d))
        if kind == "profileDownloadTriggerRequest":
            return (yield from self._profile_download(d))
        if kind == "eimAcknowledgements":
            yield from self._apply_acks(d["acks"])
            return {"package": kind, "acks": d["acks"]}
        raise ProcedureError("dispatch", "unexpected package " + kind)

    def _transfer(self, message):
        try:
            name, d = esipa.decode(message, self.version)
        except (tlv.TlvError, esipa.EsipaError):
            return {"reply": esipa.transfer_eim_package_response(
                error=esipa.TEP_INVALID_PACKAGE_FORMAT)}
        if name != "transferEimPackage" or d["package"] == "eimPackageError":
            return {"reply": esipa.transfer_eim_package_response(error=esipa.TEP_UNKNOWN_PACKAGE)}
        if d["package"] == "profileDownloadTriggerRequest":
            # A download takes many exchanges: acknowledge now, report via ProvideEimPackageResult.
            res = yield from self._profile_download(d)
            res["reply"] = esipa.transfer_eim_package_response()
            return res
        if d["package"] == "eimAcknowledgements":
            yield from self._apply_acks(d["acks"])
            return {"reply": esipa.transfer_eim_package_response()}
        res = yield from self._run_for_transfer(d)
        return res

    def _run_for_transfer(self, d):
        if d["package"] == "euiccPackageRequest":
            epr = yield from self._load_package(d["raw"])
            # The reply carries the result; the eIM can still fetch it from the eUICC's stored
            # results (IpaEuiccDataRequest) if the reply is lost, so it is not kept pending.
            self.st.d["pending"] = [p for p in self.st.pending() if p["raw"] != epr["raw"].hex()]
            self.st.clear_phase()
            return {"reply": esipa.transfer_eim_package_response(result=epr["raw"]),
                    "package": "euiccPackageRequest", "result": epr["kind"]}
        data = yield from self._collect_ipa_euicc_data(d)
        return {"reply": esipa.transfer_eim_package_response(result=data),
                "package": "ipaEuiccDataRequest"}

    # --- results to the eIM --------------------------------------------------------------------

    def _provide(self, result, eid):
        msg = esipa.provide_eim_package_result(result, eid=eid, version=self.version)
        resp = yield from self._esipa(msg)
        name, d = esipa.decode(resp, self.version)
        if name != "provideEimPackageResult":
            raise ProcedureError("ProvideEimPackageResult", "eIM answered with " + name)
        if "error" in d:
            raise ProcedureError("ProvideEimPackageResult", "eIM error %d" % d["error"])
        return d["acks"]

    def _provide_pending(self):
        eid = yield from self._eid()
        sent = 0
        for p in list(self.st.pending()):
            raw = _unhex(p["raw"])
            acks = yield from self._provide(raw, eid)
            # Delivered: the eIM holds it now even without an acknowledgement.
            self.st.d["pending"] = [q for q in self.st.pending() if q["raw"] != p["raw"]]
            self.st.save()
            yield from self._apply_acks(acks)
            sent += 1
        return {"package": "pending", "delivered": sent}

    def _apply_acks(self, acks):
        """RemoveNotificationFromList for each sequence number the eIM acknowledged."""
        removed = []
        for seq in acks:
            resp = yield from self._es10b(es10b.notification_sent(seq))
            if es10b.parse_notification_sent(resp) in (0, 1):
                removed.append(seq)
        if acks:
            self.st.drop_pending(seqs=acks)
        return removed

    # --- generic eUICC package ----------------------------------------------------------------

    def _load_package(self, package):
        req = es10b.parse_euicc_package_request(package)
        rollback_enable = False
        for tag, _iccid, flag in req["psmos"]:
            if tag == 0xA3 and flag:
                rollback_enable = True
        prev = None
        if rollback_enable:
            # Remember the profile that last reached the eIM, to roll back to.
            resp = yield from self._es10b(es10b.profile_info_list(tag_list=b"\x5a\x9f\x70"))
            prev = es10b.enabled_iccid(es10b.parse_profile_info_list(resp))
        self.st.checkpoint("euicc_package", "load", eimId=req.get("eimId"),
                           counter=req.get("counterValue"))
        resp = yield from self._es10b(es10b.load_euicc_package(package))
        epr = es10b.parse_euicc_package_result(resp)
        self.st.add_pending("epr", epr["raw"], epr["seqNumber"], save=False)
        if epr["kind"] == "signed":
            self.st.note_counter(epr.get("eimId"), epr["counterValue"], save=False)
            enabled = [v for t, v in epr["results"] if t == 0x83]
            if rollback_enable and enabled and enabled[0] == 0:
                self.st.d["rollback"] = {"iccid": None if prev is None else prev.hex(), "fails": 0}
        self.st.checkpoint("euicc_package", "provide")
        return epr

    def _execute_euicc_package(self, package):
        epr = yield from self._load_package(package)
        out = {"package": "euiccPackageRequest", "result": epr["kind"],
               "errorCode": epr["errorCode"], "seqNumber": epr["seqNumber"],
               "results": [(es10b.RESULT_NAMES.get(t, t), v) for t, v in epr["results"]]}
        resp = yield from self._es10b(es10b.retrieve_notifications_list())
        try:
            _, notes, _ = es10b.parse_notifications_list(resp)
        except es10b.Es10Error:
            notes = []
        eid = yield from self._eid()
        if notes:
            result = esipa.epr_and_notifications(epr["raw"], [raw for _, raw in notes],
                                                 self.version)
        else:
            result = epr["raw"]
        try:
            acks = yield from self._provide(result, eid)
        except EimUnreachable:
            self.st.clear_phase()
            r = yield from self._eim_unreachable()
            out["undelivered"] = True
            out["rollback"] = r.get("rollback")
            return out
        self.st.d["pending"] = [p for p in self.st.pending() if p["raw"] != epr["raw"].hex()]
        self.st.clear_phase()
        out["acks"] = yield from self._apply_acks(acks)
        yield from self._eim_confirmed()
        return out

    # --- rollback ------------------------------------------------------------------------------

    def _eim_confirmed(self):
        """The eIM answered over the current profile: an armed rollback is no longer needed."""
        rb = self.st["rollback"]
        if rb is not None:
            resp = yield from self._es10b(es10b.profile_info_list(tag_list=b"\x5a\x9f\x70"))
            cur = es10b.enabled_iccid(es10b.parse_profile_info_list(resp))
            self.st.d["last_good_iccid"] = None if cur is None else cur.hex()
            self.st.set("rollback", None)

    def _eim_unreachable(self):
        rb = self.st["rollback"]
        b = self.st["backoff_ms"]
        b = self.backoff_min_ms if b <= 0 else min(b * 2, self.backoff_max_ms)
        self.st.set("backoff_ms", b, save=False)
        out = {"idle": True, "retry_ms": b, "unreachable": True, "rollback": None}
        if rb is None:
            self.st.save()
            return out
        rb["fails"] += 1
        if rb["fails"] < self.rollback_after_fails:
            self.st.save()
            return out
        # SGP.32 profile rollback: the enabled profile cannot reach the eIM, go back.
        self.st.checkpoint("rollback", "execute")
        resp = yield from self._es10b(es10b.profile_rollback(refresh=True))
        code, epr = es10b.parse_profile_rollback(resp)
        if epr is not None:
            self.st.add_pending("epr", epr, es10b.parse_euicc_package_result(epr)["seqNumber"],
                                save=False)
        self.st.d["rollback"] = None
        self.st.d["backoff_ms"] = 0
        self.st.clear_phase()
        out["rollback"] = code
        out["retry_ms"] = 0
        return out

    # --- IpaEuiccDataRequest ----------------------------------------------------------------

    def _collect_ipa_euicc_data(self, req):
        fields = {}
        txid = req.get("eimTransactionId")
        for tag in esipa.tag_list(req["tagList"]):
            if tag == 0xA0:
                crit = req.get("searchNotification")
                if crit is not None and crit[0] == "seq":
                    cmd = es10b.retrieve_notifications_list(seq=crit[1])
                else:
                    cmd = es10b.retrieve_notifications_list()
                resp = yield from self._es10b(cmd)
                try:
                    _, items, lst = es10b.parse_notifications_list(resp)
                except es10b.Es10Error:
                    items, lst = [], tlv.encode(0xA0)
                fields[0xA0] = lst
            elif tag == 0xA2:
                resp = yield from self._es10b(es10b.retrieve_notifications_list(
                    euicc_package_results=True))
                try:
                    _, items, lst = es10b.parse_notifications_list(resp)
                except es10b.Es10Error:
                    items, lst = [], tlv.encode(0xA2)
                want = req.get("searchEpr")
                if want is not None:
                    lst = tlv.encode_seq(0xA2, *[raw for s, raw in items if s == want])
                fields[0xA2] = lst
            elif tag == 0xBF20:
                fields[tag] = yield from self._es10b(es10b.get_euicc_info1())
            elif tag == 0xBF22:
                fields[tag] = yield from self._es10b(es10b.get_euicc_info2())
            elif tag == 0x81 or tag == 0x83:
                resp = yield from self._es10b(es10b.euicc_configured_addresses())
                dp, ds = es10b.parse_configured_addresses(resp)
                val = dp if tag == 0x81 else ds
                if val is not None:
                    fields[tag] = tlv.encode(tag, val.encode())
            elif tag == 0xA5 or tag == 0xA6:
                resp = yield from self._es10b(es10b.get_certs(req.get("euiccCiPKId")))
                eum, euicc = es10b.parse_certs(resp)
                val = eum if tag == 0xA5 else euicc
                if val is not None:
                    fields[tag] = val
            elif tag == 0x84:
                resp = yield from self._es10b(es10b.get_eim_configuration_data())
                for e in es10b.parse_eim_configuration_data(resp):
                    if "associationToken" in e:
                        fields[tag] = tlv.encode_uint(0x84, e["associationToken"])
            elif tag == 0xA8:
                fields[tag] = esipa.ipa_capabilities()
            elif tag == 0xA9:
                fields[tag] = self._device_info()
            else:
                return esipa.ipa_euicc_data_error(esipa.IED_INCORRECT_TAG_LIST, txid)
        return esipa.ipa_euicc_data(fields, txid)

    def _device_info(self):
        caps = tlv.encode(0x85, b"\x0f\x00\x00")
        return tlv.encode_seq(0xA9, tlv.encode(0x80, self.tac), tlv.encode(0xA1, caps),
                              None if self.imei is None else tlv.encode(0x82, self.imei))

    def _ipa_euicc_data(self, req):
        try:
            data = yield from self._collect_ipa_euicc_data(req)
        except es10b.Es10Error:
            data = esipa.ipa_euicc_data_error(esipa.IED_UNDEFINED, req.get("eimTransactionId"))
        eid = yield from self._eid()
        acks = yield from self._provide(data, eid)
        yield from self._apply_acks(acks)
        return {"package": "ipaEuiccDataRequest", "acks": acks}

    # --- indirect profile download -------------------------------------------------------------

    def _profile_download(self, trigger):
        eim_txid = trigger.get("eimTransactionId")
        out = {"package": "profileDownloadTriggerRequest", "installed": False}
        try:
            result, info = yield from self._download(trigger, eim_txid)
        except EimUnreachable:
            yield from self._resume_download(self.st["phase"] or {})
            out["undelivered"] = True
            r = yield from self._eim_unreachable()
            out["rollback"] = r.get("rollback")
            return out
        out.update(info)
        self.st.add_pending("pdtr", result, save=False)
        self.st.checkpoint("download", "provide")
        eid = yield from self._eid()
        try:
            acks = yield from self._provide(result, eid)
        except EimUnreachable:
            self.st.clear_phase()
            out["undelivered"] = True
            r = yield from self._eim_unreachable()
            out["rollback"] = r.get("rollback")
            return out
        self.st.d["pending"] = [p for p in self.st.pending() if p["raw"] != result.hex()]
        self.st.clear_phase()
        out["acks"] = yield from self._apply_acks(acks)
        return out

    def _download(self, trigger, eim_txid):
        """Returns (ProfileDownloadTriggerResult bytes, info dict)."""
        txhex = None if eim_txid is None else eim_txid.hex()
        self.st.checkpoint("download", "auth", eimTxid=txhex)
        code = trigger.get("activationCode")
        if code:
            smdp, matching_id = esipa.parse_activation_code(code)
        else:
            resp = yield from self._es10b(es10b.euicc_configured_addresses())
            smdp, matching_id = es10b.parse_configured_addresses(resp)[0], None
        challenge = es10b.parse_euicc_challenge(
            (yield from self._es10b(es10b.get_euicc_challenge())))
        info1 = yield from self._es10b(es10b.get_euicc_info1())
        msg = esipa.initiate_authentication(challenge, smdp, info1, eim_txid, self.version)
        resp = yield from self._esipa(msg)
        name, ia = esipa.decode(resp, self.version)
        if name != "initiateAuthentication" or "error" in ia:
            return self._download_error(eim_txid, resp, "initiateAuthentication")
        txid = ia["transactionId"]
        self.st.checkpoint("download", "authenticate", eimTxid=txhex, txid=txid.hex())
        ctx = ia["ctxParams1"] or es10b.ctx_params1(matching_id, self.tac, imei=self.imei)
        auth = yield from self._es10b(es10b.authenticate_server(
            ia["serverSigned1"], ia["serverSignature1"], ia["euiccCiPKIdToBeUsed"],
            ia["serverCertificate"], ctx))
        resp = yield from self._esipa(esipa.authenticate_client(txid, auth))
        name, ac = esipa.decode(resp, self.version)
        if name != "authenticateClient" or "error" in ac or ac.get("ds"):
            return (yield from self._cancel_and_fail(txid, eim_txid, resp,
                                                     es10b.REASON_UNDEFINED))
        prep = yield from self._es10b(es10b.prepare_download(
            ac["smdpSigned2"], ac["smdpSignature2"], ac["smdpCertificate"], ac["hashCc"]))
        self.st.checkpoint("download", "bpp", eimTxid=txhex, txid=txid.hex())
        splitter = bpp.BppSplitter(self.sd, envelope=True)
        try:
            chunk = yield {"esipa_stream": esipa.get_bound_profile_package(txid, prep)}
            while chunk:
                g = splitter.feed(chunk)
                r = None
                while True:
                    try:
                        a = g.send(r)
                    except StopIteration:
                        break
                    r = yield {"apdu": a}
                if splitter.done:
                    break
                chunk = yield {"more": None}
            if splitter.error is not None:
                return (yield from self._cancel_and_fail(
                    txid, eim_txid, tlv.encode_uint(0x81, splitter.error), es10b.REASON_UNDEFINED,
                    relay=False))
            splitter.finish()
        except (bpp.BppError, apdu.ApduError, tlv.TlvError) as e:
            return (yield from self._cancel_and_fail(txid, eim_txid, str(e).encode()[:64],
                                                     es10b.REASON_LOAD_BPP_ERROR))
        pir = es10b.parse_profile_installation_result(splitter.result)
        info = {"installed": pir["success"], "iccid": pir["iccid"], "seqNumber": pir["seqNumber"],
                "segments": splitter.segments, "errorReason": pir["errorReason"]}
        if pir["success"] and self.immediate_enable:
            # SGP.32 immediate profile enabling: only takes effect if the eUICC was configured
            # for it (ConfigureImmediateProfileEnabling); otherwise immediateEnableNotAvailable.
            code = es10b.parse_immediate_enable(
                (yield from self._es10b(es10b.immediate_enable(refresh=True))))
            info["immediateEnable"] = code
            if code == 0:
                self.st.set("state_change", esipa.CAUSE_IMMEDIATE_ENABLE)
        return esipa.profile_download_trigger_result(eim_txid, pir=pir["raw"]), info

    def _download_error(self, eim_txid, response, step):
        res = esipa.profile_download_trigger_result(eim_txid, error_reason=_PDE_UNDEFINED,
                                                    error_response=response)
        return res, {"installed": False, "failedAt": step}

    def _cancel_and_fail(self, txid, eim_txid, response, reason, relay=True):
        try:
            cs = yield from self._es10b(es10b.cancel_session(txid, reason))
            if relay:
                yield from self._esipa(esipa.cancel_session(txid, cs))
        except (apdu.ApduError, tlv.TlvError, esipa.EsipaError):
            pass    # the download fails either way; the eIM learns it from the result below
        return self._download_error(eim_txid, response, "cancelled")

    def _cancel_session(self, txid, reason):
        cs = yield from self._es10b(es10b.cancel_session(txid, reason))
        resp = yield from self._esipa(esipa.cancel_session(txid, cs))
        name, d = esipa.decode(resp, self.version)
        return {"cancelled": "error" not in d, "error": d.get("error")}

    # --- notifications -------------------------------------------------------------------------

    def _handle_notifications(self):
        resp = yield from self._es10b(es10b.retrieve_notifications_list())
        try:
            _, items, _ = es10b.parse_notifications_list(resp)
        except es10b.Es10Error:
            items = []
        sent = []
        for seq, raw in items:
            try:
                yield from self._esipa(esipa.handle_notification(raw))
            except EimUnreachable:
                break
            r = yield from self._es10b(es10b.notification_sent(seq))
            es10b.parse_notification_sent(r)
            sent.append(seq)
        return {"sent": sent, "left": len(items) - len(sent)}


def _unhex(s):
    return binascii.unhexlify(s)
