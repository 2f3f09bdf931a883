"""Indirect profile download (SGP.32 v1.2 3.2.3 with the SGP.22 ES9+/ES10b functions): the test
SM-DP+ and the eUICC simulator, with the IPAd and eIM roles played by an in-process relay that
forwards raw bytes."""

import pytest

import harness
from host_tools import pki as _pki
from host_tools import sgp32_oracle as oracle
from host_tools.euicc_sim import package, tlv
from host_tools.euicc_sim.client import SwError, bpp_segments
from host_tools.euicc_sim.state import iccid_to_bytes
from host_tools.smdp import relay
from host_tools.smdp.server import HttpsClient

NEW_ICCID = "8900103000000000033"


def test_indirect_download_installs_disabled_profile_on_third_network(card, isdr, smdp):
    raw, pir = relay.indirect_download(isdr, smdp)
    data = pir["profileInstallationResultData"]
    assert data["finalResult"][0] == "successResult"
    assert data["notificationMetadata"]["iccid"] == iccid_to_bytes(NEW_ICCID)
    # the PIR is signed by the eUICC over profileInstallationResultData as sent
    pir_data_raw = tlv.child(raw, 0xBF27)
    assert _pki.verify_raw(card.isdr.euicc.cert.public_key(), pir_data_raw, pir["euiccSignPIR"])
    new = card.state.profile_by_iccid(NEW_ICCID)
    assert (new["state"], new["mcc"], new["mnc"], new["imsi"], new["apn"]) == \
        ("disabled", "001", "03", "001030000000033", "internet.op3")
    assert smdp.notifications()[0]["result"] == "successResult"
    assert smdp.order_state("") == "downloaded"
    # the install notification waits on the card until removed
    kind, notes = oracle.decode("RetrieveNotificationsListResponse", isdr.es10(oracle.encode(
        "RetrieveNotificationsListRequest", {"searchCriteria": ("profileManagementOperation",
                                                                (0b1000, 4))})))
    assert [n[0] for n in notes] == ["profileInstallationResult"]
    # and the eIM can now switch the device to it
    refreshed = []
    card.on_refresh = lambda: refreshed.append(card.enabled_profile())
    req = package.build_request(card.pki.eim.key, "test-eim", card.state.eid, 1,
                                ("psmoList", [("enable", {"iccid": iccid_to_bytes(NEW_ICCID)})]),
                                association_token=1)
    res = package.verify_result(isdr.es10(req), card.isdr.euicc.cert.public_key(), 1)
    assert res[1]["euiccPackageResultDataSigned"]["euiccResult"] == [("enableResult", 0)]
    assert refreshed == [{"iccid": NEW_ICCID, "imsi": "001030000000033", "mcc": "001",
                          "mnc": "03", "apn": "internet.op3"}]


def test_bpp_64KB_segmented_per_sgp22_2_5_5(card, isdr, smdp):
    """The 64 KB BPP as the SM-DP+ sends it, and the STORE DATA segments it becomes."""
    responses = []
    real = smdp.handle

    def spy(der):
        out = real(der)
        if out:
            responses.append(oracle.decode("RemoteProfileProvisioningResponse", out))
        return out

    smdp.handle = spy
    relay.indirect_download(isdr, smdp)
    gbpp = [v for kind, v in responses if kind == "getBoundProfilePackageResponse"]
    assert len(gbpp) == 1 and gbpp[0][0] == "getBoundProfilePackageOk"
    bpp = gbpp[0][1]["boundProfilePackage"]
    assert 64 * 1024 <= sum(len(x) for x in bpp["sequenceOf86"]) < 66 * 1024
    segs = bpp_segments(oracle.encode("BoundProfilePackage", bpp))
    # BF36 header + ISC; A0 header + '87'; A1 header alone; '88's; A3 header alone; '86's
    assert segs[0][:2] == b"\xBF\x36" and b"\xBF\x23" in segs[0][:8]
    assert segs[1][0] == 0xA0 and tlv.child(segs[1], 0x87) is not None
    assert tlv.header(segs[2] + b"\x00" * 0x10000)[0] == 0xA1 and len(segs[2]) <= 4
    n88 = len(bpp["sequenceOf88"])
    assert [s[0] for s in segs[3:3 + n88]] == [0x88] * n88
    assert segs[3 + n88][0] == 0xA3 and len(segs[3 + n88]) <= 5
    assert [s[0] for s in segs[4 + n88:]] == [0x86] * len(bpp["sequenceOf86"])
    # SGP.22 2.5.3: no '86'/'88' TLV longer than 1020 bytes
    assert max(len(s) for s in segs[3:] if s[0] in (0x86, 0x88)) <= 1020


def test_tampered_profile_element_mac_fails_install(card, isdr, smdp):
    real = smdp.handle

    def tamper(der):
        out = real(der)
        _, vs, _ = tlv.header(der)
        if tlv.header(der, vs)[0] != 0xBF3A:
            return out  # only GetBoundProfilePackage carries the profile elements
        bpp = tlv.child(tlv.child(tlv.child(out, 0xBF3A), 0xA0), 0xBF36)
        first86 = next(seg for seg in bpp_segments(bpp) if seg[0] == 0x86)
        # flip one ciphertext byte of the first '86' (found by its content, not a byte pattern
        # that random signatures elsewhere in the response could also contain)
        pos = out.find(first86) + 10
        return out[:pos] + bytes([out[pos] ^ 0xFF]) + out[pos + 1:]

    smdp.handle = tamper
    _, pir = relay.indirect_download(isdr, smdp)
    final = pir["profileInstallationResultData"]["finalResult"]
    assert final == ("errorResult", {"bppCommandId": 5, "errorReason": 8})
    assert card.state.profile_by_iccid(NEW_ICCID) is None
    assert smdp.notifications()[0]["result"] == "errorResult"
    assert smdp.order_state("") == "released"


def test_server_signature1_tampered_authenticate_server_error(card, isdr, smdp):
    real = smdp.handle

    def tamper(der):
        out = real(der)
        pos = out.find(b"\x5F\x37\x40")
        if b"\xBF\x39" in out[:6] and pos > 0:
            out = out[:pos + 3] + bytes([out[pos + 3] ^ 1]) + out[pos + 4:]
        return out

    smdp.handle = tamper
    with pytest.raises(relay.RelayError):
        relay.indirect_download(isdr, smdp)
    # the eUICC answered authenticateResponseError invalidSignature(2): visible in its log
    last = bytes.fromhex(card.log[-1][1])
    kind, err = oracle.decode("AuthenticateServerResponse", last[:-2])
    assert kind == "authenticateResponseError" and err["authenticateErrorCode"] == 2
    assert card.state.profile_by_iccid(NEW_ICCID) is None


def test_unknown_matching_id_refused(isdr, smdp):
    with pytest.raises(relay.RelayError):
        relay.indirect_download(isdr, smdp, matching_id="NO-SUCH-ORDER")
    assert smdp.order_state("") == "released"


def test_cancel_session_after_authenticate_client(card, isdr, smdp):
    euicc_rsp, es9 = relay.indirect_download(isdr, smdp, cancel_reason=1)
    kind, val = oracle.decode("CancelSessionResponse", euicc_rsp)
    assert kind == "cancelSessionResponseOk" and val["euiccCancelSessionSigned"]["reason"] == 1
    assert oracle.decode("CancelSessionResponseEs9", es9) == ("cancelSessionOk", {})
    assert smdp.order_state("") == "released"
    # no session left on the card: a BPP is refused
    with pytest.raises(SwError):
        isdr.es10(bytes.fromhex("BF3600"))


def test_indirect_download_over_https(card, isdr, test_pki, processes):
    proc = harness.start_python("host_tools.smdp", ["serve", "--port", "0", "--pki",
                                                    test_pki.directory, "--profile-size", "4096"],
                                name="smdp")
    processes.append(proc)
    m = proc.expect(r"SMDP listening on ([\d.]+):(\d+)", timeout=30)
    client = HttpsClient(m.group(1), int(m.group(2)), test_pki.tls_ca_path)
    try:
        _, pir = relay.indirect_download(isdr, client, smdp_address="%s:%s" % m.groups())
    finally:
        client.close()
    assert pir["profileInstallationResultData"]["finalResult"][0] == "successResult"
    assert card.state.profile_by_iccid(NEW_ICCID)["state"] == "disabled"


def test_immediate_enable_after_download(card, isdr, smdp):
    """SGP.32 5.9.15: with immediate enable configured, the IPAd enables the just-installed
    profile without an eIM package; the card refreshes onto the new network."""
    rsp = oracle.decode("ConfigureImmediateProfileEnablingResponse", isdr.es10(oracle.encode(
        "ConfigureImmediateProfileEnablingRequest", {"immediateEnableFlag": 0})))
    assert rsp == {"configImmediateEnableResult": 0}
    relay.indirect_download(isdr, smdp)
    refreshed = []
    card.on_refresh = lambda: refreshed.append(card.enabled_profile()["mnc"])
    rsp = oracle.decode("ImmediateEnableResponse", isdr.es10(oracle.encode(
        "ImmediateEnableRequest", {"refreshFlag": True})))
    assert rsp == {"immediateEnableResult": 0}
    assert refreshed == ["03"]
    # only once per installed profile
    rsp = oracle.decode("ImmediateEnableResponse", isdr.es10(oracle.encode(
        "ImmediateEnableRequest", {"refreshFlag": True})))
    assert rsp == {"immediateEnableResult": 1}
