"""SGP.32 v1.2 3.2.3 indirect profile download through the eIM: ProfileDownloadTrigger, then the
IPAd's ESipa InitiateAuthentication / AuthenticateClient / GetBoundProfilePackage relayed by
EimCore over ES9+' to the project's test SM-DP+, the BPP loaded into the eUICC simulator, and the
ProfileInstallationResult returned in ProvideEimPackageResult (forwarded to the SM-DP+ and
acknowledged). The test plays the IPAd with raw TLVs, so every signature crosses untouched."""

import binascii

import pytest

from host_tools.eim import codec, core, packages
from host_tools.eim.smdp_adapter import Es9PlusAdapter
from host_tools.euicc_sim.client import bpp_segments
from host_tools.euicc_sim.state import DEFAULT_EIM_ID
from host_tools.smdp.core import SmDp

NEW_ICCID = "8900103000000000033"
tlv = codec.tlv_encode


@pytest.fixture
def rig(card, isdr, test_pki):
    smdp = SmDp(test_pki, address="127.0.0.1")
    smdp.add_order("")
    eim = core.EimCore(DEFAULT_EIM_ID, test_pki.eim.key, smdp=Es9PlusAdapter(smdp))
    eid = card.state.eid
    eim.register_euicc(eid, euicc_cert=test_pki.euicc_for(eid).cert_der, association_token=1)
    return eim, card, isdr, smdp, eid


def ok_children(answer, tag):
    """Children (tag -> list of raw TLVs) of the [0] ok alternative of an ESipa answer."""
    t, voff, vlen = codec.tlv_header(answer)
    assert t == tag, answer[:4].hex()
    alt = codec.tlv_children(answer, voff, voff + vlen)[0]
    assert alt[0] == b"\xa0", "not ok: %s" % answer.hex()
    out = {}
    for ct, start, v, n in codec.tlv_children(answer, alt[2], alt[2] + alt[3]):
        out.setdefault(ct, []).append(bytes(answer[start:v + n]))
    return out


def test_indirect_download_relayed_by_eim_installs_profile(rig):
    eim, card, client, smdp, eid = rig
    pid = eim.queue(eid, packages.PROFILE_DOWNLOAD_TRIGGER, {"activationCode": "1$127.0.0.1$"})
    answer = eim.handle_ipa_message(None, codec.encode("EsipaMessageFromIpaToEim", (
        "getEimPackageRequest", {"eidValue": binascii.unhexlify(eid)})))
    _, (kind, trigger) = codec.decode("EsipaMessageFromEimToIpa", answer)
    assert kind == "profileDownloadTriggerRequest"
    eim_txid = trigger["eimTransactionId"]

    challenge = client.es10(bytes.fromhex("BF2E00"))
    challenge = codec.tlv_value(codec.tlv_find(challenge, b"\x80", 3))
    info1 = client.es10(bytes.fromhex("BF2000"))
    init = tlv(b"\xbf\x39", tlv(b"\x81", challenge) + tlv(b"\x83", b"127.0.0.1") + info1
               + tlv(b"\x82", eim_txid))
    ok = ok_children(eim.handle_ipa_message(None, init), b"\xbf\x39")
    txid = ok[b"\x80"][0]
    ctx = codec.encode("RSPDefinitions.CtxParams1", ("ctxParamsForCommonAuthentication", {
        "matchingId": "", "deviceInfo": {"tac": b"\x35\x29\x06\x11", "deviceCapabilities": {}}}))
    auth = client.es10(tlv(b"\xbf\x38", ok[b"\x30"][0] + ok[b"\x5f\x37"][0] + ok[b"\x04"][0]
                           + ok[b"\x30"][1] + ctx))

    ok = ok_children(eim.handle_ipa_message(None, tlv(b"\xbf\x3b", txid + auth)), b"\xbf\x3b")
    prepared = client.es10(tlv(b"\xbf\x21", ok[b"\x30"][0] + ok[b"\x5f\x37"][0] + ok[b"\x30"][1]))

    ok = ok_children(eim.handle_ipa_message(None, tlv(b"\xbf\x3a", txid + prepared)), b"\xbf\x3a")
    result = b""
    for segment in bpp_segments(ok[b"\xbf\x36"][0]):
        result = client.es10(segment)
        if result:
            break
    assert result[:2] == b"\xbf\x37"

    provide = tlv(b"\xbf\x50", tlv(b"\x5a", binascii.unhexlify(eid))
                  + tlv(b"\xbf\x54", tlv(b"\x82", eim_txid) + result))
    alt, response = codec.decode("EsipaMessageFromEimToIpa", eim.handle_ipa_message(None, provide))
    assert response[0] == "eimAcknowledgements" and len(response[1]) == 1

    assert any(p["iccid"] == NEW_ICCID for p in card.state.data["profiles"])
    pkg = eim.package_list(eid)[0]
    assert pkg["id"] == pid and pkg["state"] == "acknowledged"
    assert pkg["result"].startswith("profile installed")
    assert [n["result"] for n in smdp.notifications()] == ["successResult"]
    relayed = [a["detail"] for a in eim.audit_log(eid) if a["event"] == "relay"]
    assert relayed == ["initiate_authentication -> initiateAuthenticationOkEsipa",
                       "authenticate_client -> authenticateClientOkDPEsipa",
                       "get_bound_profile_package -> getBoundProfilePackageOkEsipa",
                       "handle_notification"]
