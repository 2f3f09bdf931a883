"""In-process relay for the indirect profile download (SGP.32 v1.2 3.2.3 shape): plays the IPAd
and the eIM between an ISD-R client (host_tools.euicc_sim.client.IsdrClient) and an SM-DP+
(`SmDp` object, or anything with .handle(der) -> der such as an HTTPS client).

Messages are relayed as raw bytes (no decode/re-encode), as a real relay must to keep
signatures intact: ES9+ requests are built by wrapping the eUICC's responses.
"""

from host_tools import sgp32_oracle as oracle
from host_tools.euicc_sim import tlv
from host_tools.euicc_sim.client import bpp_segments


class RelayError(Exception):
    pass


def _unwrap_a2(der):
    tag, vs, ve = tlv.header(der)
    return der[vs:ve] if tag == 0xA2 else der


def _choice_ok(der, what):
    """For a [n] CHOICE response: the raw value of its Ok alternative ([0])."""
    _, vs, ve = tlv.header(der)
    tag, inner_vs, inner_ve = tlv.header(der, vs)
    if tag != 0xA0:
        raise RelayError("%s failed: %s" % (what, der.hex()))
    return der[inner_vs:inner_ve]


def indirect_download(isdr, smdp, matching_id="", smdp_address="127.0.0.1",
                      tac=b"\x35\x29\x06\x11", cancel_reason=None):
    """Run the whole download; returns (ProfileInstallationResult DER, decoded value).

    With cancel_reason (CancelSessionReason), the IPAd cancels after AuthenticateClient
    instead: returns (eUICC CancelSessionResponse DER, SM-DP+ CancelSessionResponseEs9 DER)."""
    challenge = oracle.decode("GetEuiccChallengeResponse",
                              isdr.es10(bytes.fromhex("BF2E00")))["euiccChallenge"]
    info1_raw = isdr.es10(bytes.fromhex("BF2000"))
    # eIM -> SM-DP+: InitiateAuthentication
    init_req = tlv.encode(0xBF39, tlv.encode(0x81, challenge) + tlv.encode(0x83,
                                                                          smdp_address.encode())
                          + info1_raw)
    init_rsp = _unwrap_a2(smdp.handle(tlv.encode(0xA2, init_req)))
    ok = _choice_ok(init_rsp, "InitiateAuthentication")
    parts = {t: raw for t, raw, _ in tlv.children(ok)}
    txid_raw = parts[0x80]
    certs = [raw for t, raw, _ in tlv.children(ok) if t == 0x30]
    # IPAd -> eUICC: AuthenticateServer (serverSigned1, signature, CI PKID, cert, ctxParams1)
    ctx = oracle.encode("CtxParams1", ("ctxParamsForCommonAuthentication", {
        "matchingId": matching_id, "deviceInfo": {"tac": tac, "deviceCapabilities": {}}}))
    auth_req = tlv.encode(0xBF38, certs[0] + parts[0x5F37] + parts[0x04] + certs[1] + ctx)
    auth_rsp = isdr.es10(auth_req)
    # eIM -> SM-DP+: AuthenticateClient
    ac_rsp = _unwrap_a2(smdp.handle(tlv.encode(0xA2, tlv.encode(0xBF3B, txid_raw + auth_rsp))))
    ok = _choice_ok(ac_rsp, "AuthenticateClient")
    kids = [(t, raw) for t, raw, _ in tlv.children(ok)]
    seq30 = [raw for t, raw in kids if t == 0x30]
    sig2 = [raw for t, raw in kids if t == 0x5F37][0]
    if cancel_reason is not None:
        _, vs, ve = tlv.header(txid_raw)
        euicc_rsp = isdr.es10(oracle.encode("CancelSessionRequest", {
            "transactionId": txid_raw[vs:ve], "reason": cancel_reason}))
        es9 = tlv.encode(0xBF41, txid_raw + tlv.encode(0xA1, euicc_rsp))
        return euicc_rsp, _unwrap_a2(smdp.handle(tlv.encode(0xA2, es9)))
    # IPAd -> eUICC: PrepareDownload (smdpSigned2, smdpSignature2, smdpCertificate)
    pd_rsp = isdr.es10(tlv.encode(0xBF21, seq30[0] + sig2 + seq30[1]))
    # eIM -> SM-DP+: GetBoundProfilePackage
    gb_rsp = _unwrap_a2(smdp.handle(tlv.encode(0xA2, tlv.encode(0xBF3A, txid_raw + pd_rsp))))
    ok = _choice_ok(gb_rsp, "GetBoundProfilePackage")
    bpp = [raw for t, raw, _ in tlv.children(ok) if t == 0xBF36][0]
    result = b""
    for seg in bpp_segments(bpp):
        result = isdr.es10(seg)
        if result:
            break   # an error result ends the download early
    # eIM -> SM-DP+: HandleNotification with the ProfileInstallationResult
    smdp.handle(tlv.encode(0xA2, tlv.encode(0xBF3D, tlv.encode(0xA0, result))))
    return result, oracle.decode("ProfileInstallationResult", result)
