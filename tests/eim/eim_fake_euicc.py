"""Test doubles for the eIM tests: a minimal eUICC (ES10b LoadEuiccPackage semantics: verifies the
eIM signature, enforces counterValue, signs its result) and key/certificate helpers.

Deliberately separate from host_tools/eim: it parses the eIM's output by raw TLV and checks the
signature with `cryptography` directly, so it does not share the code under test."""

import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                              encode_dss_signature)
from cryptography.x509.oid import NameOID

from host_tools.eim import codec

REPLAY_ERROR = 4


def make_key_and_cert(common_name):
    """(private key, DER certificate) self-signed, P-256."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert.public_bytes(serialization.Encoding.DER)


def raw_sign(key, data):
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def raw_verify(public_key, data, sig):
    try:
        public_key.verify(encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                               int.from_bytes(sig[32:], "big")),
                          data, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


def tlv(buf, off=0):
    """(tag, value_offset, value_len, end) of the TLV at off — a second, tiny TLV reader."""
    t0 = off
    off += 1
    if buf[t0] & 0x1F == 0x1F:
        while buf[off] & 0x80:
            off += 1
        off += 1
    tag = bytes(buf[t0:off])
    ln = buf[off]
    off += 1
    if ln & 0x80:
        n = ln & 0x7F
        ln = int.from_bytes(buf[off:off + n], "big")
        off += n
    return tag, off, ln, off + ln


def children(buf, off, end):
    out = []
    while off < end:
        t, voff, vlen, nxt = tlv(buf, off)
        out.append((t, off, voff, vlen, nxt))
        off = nxt
    return out


def split_package_request(req):
    """(euiccPackageSigned TLV bytes, eimSignature value) of a BF51 EuiccPackageRequest."""
    tag, voff, vlen, end = tlv(req)
    assert tag == b"\xbf\x51", tag.hex()
    kids = children(req, voff, end)
    assert kids[0][0] == b"\x30" and kids[1][0] == b"\x5f\x37"
    signed = bytes(req[kids[0][1]:kids[0][4]])
    sig = bytes(req[kids[1][2]:kids[1][4]])
    return signed, sig


class FakeEuicc:
    """Enough of an IoT eUICC to answer EuiccPackageRequests like ES10b.LoadEuiccPackage."""

    def __init__(self, eid, eim_id, eim_public_key, counter=0, association_token=None):
        self.eid = eid
        self.eim_id = eim_id
        self.eim_public_key = eim_public_key
        self.counter = counter
        self.association_token = association_token
        self.key, self.cert_der = make_key_and_cert("eUICC " + eid)
        self.seq = 0
        self.enabled = None

    def _token_do(self):
        v = self.association_token or 0
        content = v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big", signed=True)
        return b"\x84" + bytes([len(content)]) + content

    def load_package(self, request_der):
        signed, sig = split_package_request(request_der)
        if not raw_verify(self.eim_public_key, signed + self._token_do(), sig):
            raise AssertionError("eIM signature invalid")
        value = codec.decode("EuiccPackageSigned", signed)
        assert value["eimId"] == self.eim_id
        if value["counterValue"] <= self.counter:
            data = {"eimId": value["eimId"], "counterValue": value["counterValue"],
                    "eimTransactionId": value["eimTransactionId"],
                    "euiccPackageErrorCode": REPLAY_ERROR}
            data_der = codec.encode("EuiccPackageErrorDataSigned", data)
            return codec.encode("EuiccPackageResult", ("euiccPackageErrorSigned", {
                "euiccPackageErrorDataSigned": data,
                "euiccSignEPE": raw_sign(self.key, data_der + self._token_do())}))
        self.counter = value["counterValue"]
        results = []
        kind, ops = value["euiccPackage"]
        for op, body in ops:
            if op == "enable":
                self.enabled = body["iccid"]
                results.append(("enableResult", 0))
            elif op == "disable":
                results.append(("disableResult", 0))
            elif op == "delete":
                results.append(("deleteResult", 1))
            elif op == "listEim":
                results.append(("listEimResult", ("eimIdList", [{"eimId": self.eim_id}])))
            else:
                results.append(("processingTerminated", 2))
        self.seq += 1
        data = {"eimId": value["eimId"], "counterValue": value["counterValue"],
                "eimTransactionId": value["eimTransactionId"], "seqNumber": self.seq,
                "euiccResult": results}
        data_der = codec.encode("EuiccPackageResultDataSigned", data)
        return codec.encode("EuiccPackageResult", ("euiccPackageResultSigned", {
            "euiccPackageResultDataSigned": data,
            "euiccSignEPR": raw_sign(self.key, data_der + self._token_do())}))


def ipa_reaction(card, eid, eim_message):
    """What a minimal IPA does with one EsipaMessageFromEimToIpa: (acknowledged seqNumbers,
    (alternative, value) of its EsipaMessageFromIpaToEim answer or None). A package goes to
    `card` (FakeEuicc); the answer is a TransferEimPackageResponse for a pushed package and a
    ProvideEimPackageResult for a retrieved one."""
    alt, (kind, value) = codec.decode("EsipaMessageFromEimToIpa", eim_message)
    if kind == "eimAcknowledgements":
        return list(value), None
    if kind != "euiccPackageRequest":
        return [], None
    result = codec.decode("EuiccPackageResult",
                          card.load_package(codec.encode("EuiccPackageRequest", value)))
    if alt == "transferEimPackageRequest":
        return [], ("transferEimPackageResponse", ("euiccPackageResult", result))
    return [], ("provideEimPackageResult", {"eidValue": bytes.fromhex(eid),
                                            "eimPackageResult": ("euiccPackageResult", result)})


async def until(predicate, timeout=10.0):
    """Wait (bounded) until predicate() holds."""
    import asyncio

    async def wait():
        while not predicate():
            await asyncio.sleep(0.01)
    await asyncio.wait_for(wait(), timeout)
