"""ISD-R application logic: ES10b functions of SGP.32 v1.2 (plus the SGP.22 functions it reuses).

`Isdr.handle(command_der) -> response_der` takes one complete STORE DATA payload (after chaining)
and returns the response data. Encoding and decoding go through asn1play's pycrate modules
(host_tools.sgp32_oracle); signatures are checked over the received bytes located with `tlv`.
Function tags are the ones in the v1.2 ASN.1 module (e.g. AddInitialEim is BF57, GetCerts BF56,
EuiccMemoryReset BF64, ProfileRollback BF58, ImmediateEnable BF5A).
"""

import os

from host_tools import sgp32_oracle as oracle
from host_tools.euicc_sim import download, package, state as st, tlv
from host_tools.euicc_sim.errors import Es10Error

# v1.2 ASN.1 type names by request tag: (request type, handler name)
_FUNCTIONS = {
    0xBF3E: ("GetEuiccDataRequest", "_get_euicc_data"),
    0xBF20: ("GetEuiccInfo1Request", "_get_euicc_info1"),
    0xBF22: ("GetEuiccInfo2Request", "_get_euicc_info2"),
    0xBF2E: ("GetEuiccChallengeRequest", "_get_euicc_challenge"),
    0xBF2D: ("ProfileInfoListRequest", "_profile_info_list"),
    0xBF2B: ("RetrieveNotificationsListRequest", "_retrieve_notifications"),
    0xBF30: ("NotificationSentRequest", "_remove_notification"),
    0xBF3C: ("EuiccConfiguredAddressesRequest", "_configured_addresses"),
    0xBF52: ("IpaEuiccDataRequest", "_ipa_euicc_data"),
    0xBF55: ("GetEimConfigurationDataRequest", "_get_eim_configuration"),
    0xBF56: ("GetCertsRequest", "_get_certs"),
    0xBF57: ("AddInitialEimRequest", "_add_initial_eim"),
    0xBF58: ("ProfileRollbackRequest", "_profile_rollback"),
    0xBF59: ("ConfigureImmediateProfileEnablingRequest", "_configure_immediate_enable"),
    0xBF5A: ("ImmediateEnableRequest", "_immediate_enable"),
    0xBF64: ("EuiccMemoryResetRequest", "_memory_reset"),
    0xBF65: ("SetDefaultDpAddressRequest", "_set_default_dp_address"),
    0xBF51: (None, "_load_euicc_package"),
    0xBF38: (None, "_authenticate_server"),
    0xBF21: (None, "_prepare_download"),
    0xBF41: ("CancelSessionRequest", "_cancel_session"),
}

_BPP_SEGMENT_TAGS = (0xA0, 0xA1, 0xA2, 0xA3, 0x86, 0x87, 0x88)
SVN = b"\x02\x05\x00"            # SGP.22 version the RSP functions follow
IOT_VERSION = b"\x01\x02\x00"    # SGP.32 v1.2
_EVENT_BITS = 4


def _event_bitstring(event):
    return (1 << (_EVENT_BITS - 1 - event), _EVENT_BITS)


def _events_in(bits):
    value, nbits = bits
    return {i for i in range(nbits) if value >> (nbits - 1 - i) & 1}


class Isdr:
    def __init__(self, state, pki):
        self.state = state
        self.pki = pki
        self.euicc = pki.euicc_for(state.eid)
        self.refresh_pending = False
        self.challenge = None
        self.download = download.Download(self)
        self.last_installed_iccid = None

    # ------------------------------------------------------------------ dispatch
    def handle(self, data):
        tag = download.peek_tag(data)
        if tag == 0xBF36 or (self.download.in_bpp() and tag in _BPP_SEGMENT_TAGS):
            # BPP segments are parts of one large TLV: no complete-TLV check here
            if tag == 0xBF36:
                self.download.bpp = None
            return self.download.load_bpp_segment(bytes(data))
        self.download.bpp = None  # any other function ends an unfinished BPP
        try:
            tag, _, end = tlv.header(data, 0)
        except tlv.TlvError as exc:
            raise Es10Error(0x6A80, "bad TLV: %s" % exc) from None
        if end != len(data):
            raise Es10Error(0x6A80, "%d bytes after the command TLV %X" % (len(data) - end, tag))
        if tag not in _FUNCTIONS:
            raise Es10Error(0x6A88, "ES10 function tag %X not supported" % tag)
        type_name, handler = _FUNCTIONS[tag]
        try:
            if type_name is None:
                return getattr(self, handler)(bytes(data))
            request = oracle.decode(type_name, bytes(data))
            return getattr(self, handler)(request)
        except (oracle.OracleError, tlv.TlvError) as exc:
            raise Es10Error(0x6A80, str(exc)) from None
        except (KeyError, TypeError, IndexError) as exc:
            # pycrate's BER decoder lets a mandatory component be absent; we do not
            raise Es10Error(0x6A80, "%X: missing or malformed field %s" % (tag, exc)) from None

    # ------------------------------------------------------------------ identity / info
    def _get_euicc_data(self, req):
        if req["tagList"] != b"\x5A":
            raise Es10Error(0x6A80, "GetEuiccData tagList %s: only 5A (EID) supported"
                            % req["tagList"].hex())
        return oracle.encode("GetEuiccDataResponse", {"eidValue": bytes.fromhex(self.state.eid)})

    def euicc_info1(self):
        ski = self.pki.ci_ski
        return {"svn": SVN, "euiccCiPKIdListForVerification": [ski],
                "euiccCiPKIdListForSigning": [ski]}

    def _get_euicc_info1(self, _req):
        return oracle.encode("EUICCInfo1", self.euicc_info1())

    def euicc_info2(self):
        ski = self.pki.ci_ski
        free = max(0, 512 * 1024 - sum(p.get("size", 20000) for p in self.state.data["profiles"]))
        # extCardResource: 81 installed-apps count, 82 free NVM, 83 free RAM (SGP.22 4.3)
        ext = (tlv.encode(0x81, bytes([len(self.state.data["profiles"])]))
               + tlv.encode(0x82, free.to_bytes(4, "big")) + tlv.encode(0x83, b"\x00\x00\x40\x00"))
        return {
            "profileVersion": b"\x02\x03\x01", "svn": SVN, "euiccFirmwareVer": b"\x01\x00\x00",
            "extCardResource": ext, "uiccCapability": (0b0100100000000000000000001, 25),
            "rspCapability": (0b000100, 6), "euiccCiPKIdListForVerification": [ski],
            "euiccCiPKIdListForSigning": [ski], "euiccCategory": 1, "ppVersion": b"\x01\x00\x00",
            "sasAcreditationNumber": "TEST-SAS-0000", "ipaMode": 0,
            "iotSpecificInfo": {"iotVersion": [IOT_VERSION], "fallbackSupported": 0},
        }

    def _get_euicc_info2(self, _req):
        return oracle.encode("EUICCInfo2", self.euicc_info2())

    def _get_euicc_challenge(self, _req):
        self.challenge = os.urandom(16)
        return oracle.encode("GetEuiccChallengeResponse", {"euiccChallenge": self.challenge})

    def _get_certs(self, req):
        if req["euiccCiPKId"] != self.pki.ci_ski:
            return oracle.encode("GetCertsResponse", ("getCertsError", 1))
        return oracle.encode("GetCertsResponse", ("certs", {
            "eumCertificate": oracle.decode("Certificate", self.pki.eum.cert_der),
            "euiccCertificate": oracle.decode("Certificate", self.euicc.cert_der)}))

    def _configured_addresses(self, _req):
        d = self.state.data
        value = {"rootDsAddress": d["root_ds_address"]}
        if d["default_dp_address"]:
            value["defaultDpAddress"] = d["default_dp_address"]
        return oracle.encode("EuiccConfiguredAddressesResponse", value)

    def _set_default_dp_address(self, req):
        self.state.data["default_dp_address"] = req["defaultDpAddress"]
        self.state.save()
        return oracle.encode("SetDefaultDpAddressResponse", {"setDefaultDpAddressResult": 0})

    # ------------------------------------------------------------------ profiles
    def profile_info(self, p, tags=None):
        info = {
            "iccid": st.iccid_to_bytes(p["iccid"]), "isdpAid": bytes.fromhex(p["isdp_aid"]),
            "profileState": 1 if p["state"] == "enabled" else 0,
            "profileNickname": p["nickname"], "serviceProviderName": p["service_provider"],
            "profileName": p["name"], "profileClass": p["class"],
            "profileOwner": {"mccMnc": st.mccmnc_to_bytes(p["mcc"], p["mnc"])},
            "fallbackAttribute": bool(p["fallback"]),
        }
        if tags is None:
            return info
        # tagList selects ProfileInfo fields by their tag (SGP.22 5.7.15)
        by_tag = {0x5A: "iccid", 0x4F: "isdpAid", 0x9F70: "profileState", 0x90: "profileNickname",
                  0x91: "serviceProviderName", 0x92: "profileName", 0x95: "profileClass",
                  0xB7: "profileOwner", 0x9F26: "fallbackAttribute"}
        keep = {by_tag[t] for t in tags if t in by_tag}
        return {k: v for k, v in info.items() if k in keep}

    def _profile_info_list(self, req):
        profiles = self.state.data["profiles"]
        crit = req.get("searchCriteria")
        if crit is not None:
            kind, val = crit
            if kind == "isdpAid":
                profiles = [p for p in profiles if bytes.fromhex(p["isdp_aid"]) == val]
            elif kind == "iccid":
                profiles = [p for p in profiles if st.iccid_to_bytes(p["iccid"]) == val]
            else:
                profiles = [p for p in profiles if p["class"] == val]
        tags = None
        if "tagList" in req:
            try:
                tags = [t for t, _, _ in _tag_list(req["tagList"])]
            except tlv.TlvError:
                return oracle.encode("ProfileInfoListResponse", ("profileInfoListError", 1))
        return oracle.encode("ProfileInfoListResponse",
                             ("profileInfoListOk", [self.profile_info(p, tags) for p in profiles]))

    def enable(self, iccid, rollback=False, eim_id=None):
        """Returns EnableProfileResult code."""
        p = self.state.profile_by_iccid(iccid)
        if p is None:
            return 1
        if p["state"] != "disabled":
            return 2
        old = self.state.enabled_profile()
        if old is not None:
            old["state"] = "disabled"
            self._notify(st.EVENT_DISABLE, old)
        p["state"] = "enabled"
        self._notify(st.EVENT_ENABLE, p)
        self.state.data["rollback"] = ({"iccid": old["iccid"] if old else None, "eim_id": eim_id}
                                       if rollback else None)
        self.refresh_pending = True
        return 0

    def disable(self, iccid):
        p = self.state.profile_by_iccid(iccid)
        if p is None:
            return 1
        if p["state"] != "enabled":
            return 2
        p["state"] = "disabled"
        self._notify(st.EVENT_DISABLE, p)
        self.refresh_pending = True
        return 0

    def delete(self, iccid):
        p = self.state.profile_by_iccid(iccid)
        if p is None:
            return 1
        if p["state"] != "disabled":
            return 2
        self.state.data["profiles"].remove(p)
        self._notify(st.EVENT_DELETE, p)
        return 0

    def _profile_rollback(self, req):
        rb = self.state.data.get("rollback")
        if not rb:
            return oracle.encode("ProfileRollbackResponse", {"cmdResult": 1})
        current = self.state.enabled_profile()
        if current is not None:
            current["state"] = "disabled"
            self._notify(st.EVENT_DISABLE, current)
        if rb["iccid"]:
            prev = self.state.profile_by_iccid(rb["iccid"])
            if prev is not None:
                prev["state"] = "enabled"
                self._notify(st.EVENT_ENABLE, prev)
        self.state.data["rollback"] = None
        if req["refreshFlag"]:
            self.refresh_pending = True
        value = {"cmdResult": 0}
        eim = self.state.eim(rb["eim_id"]) if rb.get("eim_id") else None
        if eim is not None:
            value["eUICCPackageResult"] = package.signed_result(self, eim, eim["counter"], None,
                                                                [("rollbackResult", 0)])
        self.state.save()
        return oracle.encode("ProfileRollbackResponse", value)

    def _configure_immediate_enable(self, req):
        self.state.data["immediate_enable"] = {
            "flag": "immediateEnableFlag" in req,
            "smdp_oid": list(req["defaultSmdpOid"]) if "defaultSmdpOid" in req else None,
            "smdp_address": req.get("defaultSmdpAddress")}
        self.state.save()
        return oracle.encode("ConfigureImmediateProfileEnablingResponse",
                             {"configImmediateEnableResult": 0})

    def _immediate_enable(self, req):
        ie = self.state.data["immediate_enable"]
        iccid = self.last_installed_iccid
        if not ie["flag"] or iccid is None or self.state.profile_by_iccid(iccid) is None:
            return oracle.encode("ImmediateEnableResponse", {"immediateEnableResult": 1})
        code = self.enable(iccid)
        if not req["refreshFlag"]:
            self.refresh_pending = False
        self.last_installed_iccid = None
        self.state.save()
        return oracle.encode("ImmediateEnableResponse", {"immediateEnableResult": 0 if code == 0
                                                          else 127})

    def _memory_reset(self, req):
        opts = _events_in(req["resetOptions"])
        d = self.state.data
        deleted = False
        classes = set()
        if 0 in opts:
            classes.add(st.CLASS_OPERATIONAL)
        if 1 in opts or 3 in opts:
            classes.add(st.CLASS_TEST)
        if 4 in opts:
            classes.add(st.CLASS_PROVISIONING)
        for p in list(d["profiles"]):
            if p["class"] in classes:
                if p["state"] == "enabled":
                    self.refresh_pending = True
                d["profiles"].remove(p)
                deleted = True
        if 2 in opts:
            deleted = deleted or bool(d["default_dp_address"])
            d["default_dp_address"] = ""
        value = {"resetResult": 0 if deleted or opts & {5, 6} else 1}
        if 5 in opts:
            value["resetEimResult"] = 0 if d["eims"] else 1
            d["eims"] = []
        if 6 in opts:
            d["immediate_enable"] = {"flag": False, "smdp_oid": None, "smdp_address": None}
            value["resetImmediateEnableConfigResult"] = 0
        self.state.save()
        return oracle.encode("EuiccMemoryResetResponse", value)

    # ------------------------------------------------------------------ notifications
    def _notify(self, event, profile):
        """Queue an OtherSignedNotification for a local profile state change."""
        seq = self.state.take_seq()
        meta = {"seqNumber": seq, "profileManagementOperation": _event_bitstring(event),
                "notificationAddress": profile.get("notification_address")
                or st.DEFAULT_NOTIFICATION_ADDRESS,
                "iccid": st.iccid_to_bytes(profile["iccid"])}
        meta_der = oracle.encode("NotificationMetadata", meta)
        value = ("otherSignedNotification", {
            "tbsOtherNotification": meta,
            "euiccNotificationSignature": self.euicc.sign(meta_der),
            "euiccCertificate": oracle.decode("Certificate", self.euicc.cert_der),
            "eumCertificate": oracle.decode("Certificate", self.pki.eum.cert_der)})
        self.add_notification(seq, event, profile["iccid"], value)

    def add_notification(self, seq, event, iccid, pending_value):
        der = oracle.encode("PendingNotification", pending_value)
        self.state.data["notifications"].append(
            {"seq": seq, "event": event, "iccid": iccid, "der": der.hex()})

    def _pending(self, event_filter=None, seq=None):
        out = []
        for n in self.state.data["notifications"]:
            if event_filter is not None and n["event"] not in event_filter:
                continue
            if seq is not None and n["seq"] != seq:
                continue
            out.append(oracle.decode("PendingNotification", bytes.fromhex(n["der"])))
        return out

    def _package_results(self, seq=None):
        return [oracle.decode("EuiccPackageResult", bytes.fromhex(r["der"]))
                for r in self.state.data["package_results"] if seq is None or r["seq"] == seq]

    def _retrieve_notifications(self, req):
        crit = req.get("searchCriteria")
        if crit is not None and crit[0] == "euiccPackageResults":
            return oracle.encode("RetrieveNotificationsListResponse",
                                 ("euiccPackageResultList", self._package_results()))
        if crit is None:
            found = self._pending()
        elif crit[0] == "seqNumber":
            found = self._pending(seq=crit[1])
        else:
            found = self._pending(event_filter=_events_in(crit[1]))
        return oracle.encode("RetrieveNotificationsListResponse", ("notificationList", found))

    def _remove_notification(self, req):
        seq = req["seqNumber"]
        d = self.state.data
        for key in ("notifications", "package_results"):
            for n in d[key]:
                if n["seq"] == seq:
                    d[key].remove(n)
                    self.state.save()
                    return oracle.encode("NotificationSentResponse",
                                         {"deleteNotificationStatus": 0})
        return oracle.encode("NotificationSentResponse", {"deleteNotificationStatus": 1})

    # ------------------------------------------------------------------ eIM configuration
    def eim_configuration(self, e, full=False):
        value = {"eimId": e["eim_id"]}
        if e.get("fqdn"):
            value["eimFqdn"] = e["fqdn"]
        if e.get("id_type"):
            value["eimIdType"] = e["id_type"]
        if full:
            value["counterValue"] = e["counter"]
            if e.get("association_token") is not None:
                value["associationToken"] = e["association_token"]
        if e.get("protocols") is not None:
            bits = 0
            for b in e["protocols"]:
                bits |= 1 << (4 - b)
            value["eimSupportedProtocol"] = (bits, 5)
        if e.get("ci_pkid"):
            value["euiccCiPKId"] = bytes.fromhex(e["ci_pkid"])
        if e.get("indirect_download"):
            value["indirectProfileDownload"] = 0
        return value

    def _get_eim_configuration(self, req):
        eims = self.state.data["eims"]
        crit = req.get("searchCriteria")
        if crit is not None:
            eims = [e for e in eims if e["eim_id"] == crit[1]]
        return oracle.encode("GetEimConfigurationDataResponse", {
            "eimConfigurationDataList": [self.eim_configuration(e) for e in eims]})

    def _add_initial_eim(self, req):
        if self.state.data["eims"]:
            return oracle.encode("AddInitialEimResponse", ("addInitialEimError", 2))
        results, new = [], []
        for conf in req["eimConfigurationDataList"]:
            entry, code = package.eim_entry_from_config(self, conf, None)
            if code:
                return oracle.encode("AddInitialEimResponse", ("addInitialEimError", code))
            new.append(entry)
            if "associationToken" in conf:
                results.append(("associationToken", entry["association_token"]))
            else:
                results.append(("addOk", 0))
        self.state.data["eims"].extend(new)
        self.state.save()
        return oracle.encode("AddInitialEimResponse", ("addInitialEimOk", results))

    # ------------------------------------------------------------------ IpaEuiccData
    def _ipa_euicc_data(self, req):
        try:
            tags = [t for t, _, _ in _tag_list(req["tagList"])]
        except tlv.TlvError:
            tags = None
        if not tags:
            return self._ipa_data_error(req, 1)
        data = {}
        d = self.state.data
        for t in tags:
            num = t & 0x1F if t < 0x100 else t & 0xFF
            if num == 0:
                crit = req.get("searchCriteriaNotification")
                if crit is None:
                    data["notificationsList"] = self._pending()
                elif crit[0] == "seqNumber":
                    data["notificationsList"] = self._pending(seq=crit[1])
                else:
                    data["notificationsList"] = self._pending(event_filter=_events_in(crit[1]))
            elif num == 1:
                if d["default_dp_address"]:
                    data["defaultSmdpAddress"] = d["default_dp_address"]
            elif num == 2:
                crit = req.get("searchCriteriaEuiccPackageResult")
                data["euiccPackageResultList"] = self._package_results(
                    seq=crit[1] if crit else None)
            elif num == 0x20:
                data["euiccInfo1"] = self.euicc_info1()
            elif num == 0x22:
                data["euiccInfo2"] = self.euicc_info2()
            elif num == 3:
                data["rootSmdsAddress"] = d["root_ds_address"]
            elif num == 4:
                tokens = [e["association_token"] for e in d["eims"]
                          if e.get("association_token") is not None]
                if tokens:
                    data["associationToken"] = tokens[0]
            elif num == 5:
                data["eumCertificate"] = oracle.decode("Certificate", self.pki.eum.cert_der)
            elif num == 6:
                data["euiccCertificate"] = oracle.decode("Certificate", self.euicc.cert_der)
            elif num in (8, 9):
                continue  # IPA capabilities / device info are the IPA's to add, not the eUICC's
            else:
                return self._ipa_data_error(req, 1)
        if "eimTransactionId" in req:
            data["eimTransactionId"] = req["eimTransactionId"]
        return oracle.encode("IpaEuiccDataResponse", ("ipaEuiccData", data))

    def _ipa_data_error(self, req, code):
        err = {"ipaEuiccDataErrorCode": code}
        if "eimTransactionId" in req:
            err["eimTransactionId"] = req["eimTransactionId"]
        return oracle.encode("IpaEuiccDataResponse", ("ipaEuiccDataResponseError", err))

    # ------------------------------------------------------------------ delegated
    def _load_euicc_package(self, der):
        return package.load_euicc_package(self, der)

    def _authenticate_server(self, der):
        return self.download.authenticate_server(der)

    def _prepare_download(self, der):
        return self.download.prepare_download(der)

    def _cancel_session(self, req):
        return self.download.cancel_session(req)


def _tag_list(raw):
    """Parse a tagList (concatenated tag identifiers) -> [(tag, 0, 0)]."""
    out, pos = [], 0
    raw = bytes(raw)
    while pos < len(raw):
        start = pos
        pos += 1
        if raw[start] & 0x1F == 0x1F:
            while pos < len(raw) and raw[pos] & 0x80:
                pos += 1
            pos += 1
            if pos > len(raw):
                raise tlv.TlvError("truncated tag in tagList")
        out.append((int.from_bytes(raw[start:pos], "big"), 0, 0))
    return out
