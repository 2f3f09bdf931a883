"""Indirect profile download driven by the IPAd (SGP.32 v1.2 §3.2.3: ProfileDownloadTrigger from
the eIM, InitiateAuthentication / AuthenticateClient / GetBoundProfilePackage relayed over ESipa,
the BPP streamed into the eUICC as SGP.22 §5.7.6 segments, the result back to the eIM). The eIM
is a fake that relays ESipa to the test SM-DP+ (host_tools/smdp) as ES9+, the eUICC is the
simulator; the BPP reaches the IPAd in 1 KB chunks and is never held whole by it."""

import pytest

from host_tools import sgp32_oracle as oracle
from host_tools.euicc_sim import tlv
from host_tools.euicc_sim.client import bpp_segments
from host_tools.euicc_sim.pytest_fixtures import card, test_pki  # noqa: F401
from host_tools.euicc_sim.state import iccid_to_bytes
from host_tools.smdp.core import SmDp
from ipa import procedures
from ipa.state import IpaState

import ipa_testkit as kit

NEW_ICCID = "8900103000000000033"
EIM_TXID = bytes(range(0x40, 0x50))


@pytest.fixture
def dl(card, test_pki, tmp_path):  # noqa: F811
    smdp = SmDp(test_pki, address="127.0.0.1", db_path=str(tmp_path / "smdp.sqlite"))
    smdp.add_order("MATCH-1")
    eim = kit.RelayEim(smdp)
    link = kit.CardLink(card)
    rig = kit.Rig(link, eim, chunk=1024)
    st = IpaState(str(tmp_path / "ipa.json"))
    ipa = procedures.Ipa(st, channel=link.channel, tac=b"\x35\x29\x06\x11")
    eim.packages.append(("profileDownloadTriggerRequest", {
        "profileDownloadData": ("activationCode", "1$127.0.0.1$MATCH-1"),
        "eimTransactionId": EIM_TXID}))

    class D:
        pass
    d = D()
    d.card, d.smdp, d.eim, d.link, d.rig, d.st, d.ipa, d.tmp = \
        card, smdp, eim, link, rig, st, ipa, tmp_path
    return d


def _trigger_result(eim):
    res = eim.results[-1]["eimPackageResult"]
    assert res[0] == "profileDownloadTriggerResult", res[0]
    return res[1]


def test_indirect_download_streams_bpp_and_reports_result(dl):
    r = dl.rig.run(dl.ipa.poll())
    h = r["handled"][0]
    assert h["installed"] is True and h["iccid"] == iccid_to_bytes(NEW_ICCID)
    new = dl.card.state.profile_by_iccid(NEW_ICCID)
    assert new["state"] == "disabled"
    assert dl.eim.log[:4] == ["getEimPackageRequest", "initiateAuthenticationRequestEsipa",
                              "authenticateClientRequestEsipa",
                              "getBoundProfilePackageRequestEsipa"]
    # The eIM gets the eUICC-signed PIR with its own transaction id, acknowledges its seqNumber,
    # and the IPAd removes that notification from the eUICC.
    res = _trigger_result(dl.eim)
    assert res["eimTransactionId"] == EIM_TXID
    pir = res["profileDownloadTriggerResultData"]
    assert pir[0] == "profileInstallationResult"
    assert pir[1]["profileInstallationResultData"]["finalResult"][0] == "successResult"
    seq = pir[1]["profileInstallationResultData"]["notificationMetadata"]["seqNumber"]
    assert h["acks"] == [seq]
    assert seq not in [n["seq"] for n in dl.card.state.data["notifications"]]
    assert dl.st.pending() == [] and dl.st["phase"] is None
    # STORE DATA never exceeded one block; the 64 KB of '86' went as many segments.
    assert max(len(a) for a in dl.link.apdus) <= 5 + 255 + 1
    assert h["segments"] > 10


def test_initiate_authentication_includes_eim_transaction_id(dl):
    seen = []
    fwd = dl.eim.handlers["initiateAuthenticationRequestEsipa"]
    dl.eim.handlers["initiateAuthenticationRequestEsipa"] = \
        lambda v: (seen.append(v), fwd(v))[1]
    dl.rig.run(dl.ipa.poll())
    assert seen[0]["eimTransactionId"] == EIM_TXID
    assert seen[0]["smdpAddress"] == "127.0.0.1"
    assert "euiccInfo1" in seen[0]


def test_tampered_bpp_gives_error_result_to_eim(dl):
    def tamper(out):
        if out[:2] != b"\xbf\x3a":
            return out
        bpp = tlv.child(tlv.child(out, 0xA0), 0xBF36)
        first86 = next(seg for seg in bpp_segments(bpp) if seg[0] == 0x86)
        # one ciphertext byte of the first '86', found by content: a byte pattern such as the
        # A3 header could also occur by chance in the signatures before it
        pos = out.find(first86) + 10
        return out[:pos] + bytes([out[pos] ^ 0xFF]) + out[pos + 1:]
    dl.eim.tamper = tamper
    r = dl.rig.run(dl.ipa.poll())
    assert r["handled"][0]["installed"] is False
    pir = _trigger_result(dl.eim)["profileDownloadTriggerResultData"]
    assert pir[1]["profileInstallationResultData"]["finalResult"] == \
        ("errorResult", {"bppCommandId": 5, "errorReason": 8})
    assert dl.card.state.profile_by_iccid(NEW_ICCID) is None


def test_unknown_matching_id_cancels_session_and_reports_error(dl):
    dl.eim.packages[0] = ("profileDownloadTriggerRequest", {
        "profileDownloadData": ("activationCode", "1$127.0.0.1$NO-SUCH-ORDER"),
        "eimTransactionId": EIM_TXID})
    r = dl.rig.run(dl.ipa.poll())
    assert r["handled"][0]["installed"] is False
    assert "cancelSessionRequestEsipa" in dl.eim.log
    cancel = [c for c, _ in dl.rig.es10b if c[:2] == b"\xbf\x41"]
    assert len(cancel) == 1
    res = _trigger_result(dl.eim)
    assert res["profileDownloadTriggerResultData"][0] == "profileDownloadError"
    assert dl.card.state.profile_by_iccid(NEW_ICCID) is None


def test_initiate_authentication_error_reported_without_euicc_session(dl):
    dl.eim.handlers["initiateAuthenticationRequestEsipa"] = lambda v: oracle.encode(
        "EsipaMessageFromEimToIpa", ("initiateAuthenticationResponseEsipa",
                                     ("initiateAuthenticationErrorEsipa", 3)))
    dl.rig.run(dl.ipa.poll())
    res = _trigger_result(dl.eim)
    err = res["profileDownloadTriggerResultData"]
    assert err[0] == "profileDownloadError" and err[1]["profileDownloadErrorReason"] == 127
    assert err[1]["errorResponse"] == bytes.fromhex("bf3903810103")


def test_reset_while_streaming_bpp_resumes_with_error_result(dl):
    count = {"n": 0}

    def fail(kind, payload):
        if kind == "apdu":
            count["n"] += 1
            if count["n"] == 40:
                return kit.PowerLoss()
        return None
    dl.rig.fail_on = fail
    with pytest.raises(kit.PowerLoss):
        dl.rig.run(dl.ipa.poll())
    assert dl.st["phase"]["step"] == "bpp"
    dl.rig.fail_on = None
    dl.link = kit.CardLink(dl.card)
    dl.rig.link = dl.link
    st = IpaState(dl.st.path)
    ipa = procedures.Ipa(st, channel=dl.link.channel)
    dl.rig.run(ipa.startup())
    assert st["phase"] is None and len(st.pending()) == 1
    dl.rig.run(ipa.poll())
    res = _trigger_result(dl.eim)
    assert res["eimTransactionId"] == EIM_TXID
    assert res["profileDownloadTriggerResultData"][0] == "profileDownloadError"
    assert st.pending() == []
    assert dl.card.state.profile_by_iccid(NEW_ICCID) is None


def test_eim_lost_during_bpp_download_cancels_and_keeps_result_pending(dl):
    def fail(kind, payload):
        if kind == "more" and len(dl.link.apdus) > 30:
            return procedures.EimUnreachable("link dropped mid-BPP")
        return None
    dl.rig.fail_on = fail
    r = dl.rig.run(dl.ipa.poll())
    assert r["unreachable"] is True and r["retry_ms"] > 0
    # The eUICC session was cancelled and the error result waits for the eIM.
    assert [c for c, _ in dl.rig.es10b if c[:2] == b"\xbf\x41"]
    assert [p["kind"] for p in dl.st.pending()] == ["pdtr"]
    dl.rig.fail_on = None
    dl.rig.run(dl.ipa.poll())
    res = _trigger_result(dl.eim)
    assert res["profileDownloadTriggerResultData"][0] == "profileDownloadError"
    assert dl.st.pending() == []


def test_immediate_enable_after_download_then_state_change_reported(dl):
    dl.card.state.data["immediate_enable"]["flag"] = True
    dl.card.state.save()
    ipa = procedures.Ipa(dl.st, channel=dl.link.channel, immediate_enable=True)
    seen = []
    dl.eim.handlers["getEimPackageRequest"] = lambda v: (seen.append(v), oracle.encode(
        "EsipaMessageFromEimToIpa", ("getEimPackageResponse", dl.eim.packages.pop(0)
                                     if dl.eim.packages else ("eimPackageError", 1))))[1]
    r = dl.rig.run(ipa.poll())
    assert r["handled"][0]["immediateEnable"] == 0
    assert dl.card.enabled_profile()["iccid"] == NEW_ICCID
    # The next GetEimPackage tells the eIM about the change it did not order, once.
    dl.rig.run(ipa.poll())
    dl.rig.run(ipa.poll())
    assert "notifyStateChange" not in seen[0]
    assert seen[-2]["notifyStateChange"] == 0 and seen[-2]["stateChangeCause"] == 5
    assert "notifyStateChange" not in seen[-1]


def test_immediate_enable_not_configured_leaves_profile_disabled(dl):
    ipa = procedures.Ipa(dl.st, channel=dl.link.channel, immediate_enable=True)
    r = dl.rig.run(ipa.poll())
    assert r["handled"][0]["installed"] is True and r["handled"][0]["immediateEnable"] == 1
    assert dl.card.state.profile_by_iccid(NEW_ICCID)["state"] == "disabled"
    assert dl.st["state_change"] is None
