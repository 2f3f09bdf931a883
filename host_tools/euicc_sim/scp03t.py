"""SCP03t pieces shared by the test SM-DP+ (wraps) and the eUICC simulator (checks MACs).

Key agreement and derivation follow SGP.22 section 2.6.7 / Annex G in shape: ECKA-EG on P-256
between the one-time keys, X9.63 KDF (SHA-256) with shared info built from the
InitialiseSecureChannel control reference template and the EID, giving the initial MAC chaining
value, S-ENC and S-MAC. Each '86'/'87' segment is AES-CBC encrypted under S-ENC (ICV from a
block counter) and each '86'/'87'/'88' segment carries the first 8 bytes of
AES-CMAC(S-MAC, MCV || tag || length || data); the MCV chains over all segments.

The simulator verifies the MAC chain but never DECRYPTS (ConfigureISDP and profile elements are
accepted as opaque); a ReplaceSessionKeys segment therefore ends MAC checking (its new keys are
inside ciphertext). Interop with production SM-DP+ servers has not been tried.
"""

import hashlib

from cryptography.hazmat.primitives import cmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from host_tools.euicc_sim import tlv

KEY_TYPE_AES = b"\x88"
SEGMENT_MAX = 1020       # bytes per '86'/'87'/'88' TLV, tag and length included (SGP.22 2.5.3)
# plaintext per segment so that a TLV stays within SEGMENT_MAX: 4 header bytes, 8 MAC bytes,
# and for encrypted data at least one padding byte up to a 16-byte boundary
PLAIN_MAX_ENCRYPTED = (SEGMENT_MAX - 4 - 8) // 16 * 16 - 1
PLAIN_MAX_MAC_ONLY = SEGMENT_MAX - 4 - 8
KEY_LEN_16 = b"\x10"
_KEY_USAGE = b"\x5C"


def new_otk():
    """One-time key pair: (private key, uncompressed public point 04||X||Y)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key, public_point(key.public_key())


def public_point(public_key):
    return public_key.public_bytes(serialization.Encoding.X962,
                                   serialization.PublicFormat.UncompressedPoint)


def shared_secret(private_key, peer_point):
    peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bytes(peer_point))
    return private_key.exchange(ec.ECDH(), peer)


def derive(shs, key_type, key_len, host_id, eid_bytes):
    """(initial MCV, S-ENC, S-MAC) from the shared secret."""
    info = (_KEY_USAGE + key_type + key_len + bytes([len(host_id)]) + host_id
            + bytes([len(eid_bytes)]) + eid_bytes)
    out = b""
    counter = 1
    while len(out) < 48:
        out += hashlib.sha256(shs + counter.to_bytes(4, "big") + info).digest()
        counter += 1
    return out[:16], out[16:32], out[32:48]


def _cmac(key, data):
    c = cmac.CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()


class Session:
    """Running SCP03t state for one BPP (either side)."""

    def __init__(self, mcv, s_enc, s_mac):
        self.mcv = mcv
        self.s_enc = s_enc
        self.s_mac = s_mac
        self.block = 0

    def wrap(self, tag, data, encrypt):
        """SM-DP+ side: one '86'/'87'/'88' TLV."""
        # the ICV counter counts every '86'/'87'/'88' TLV, encrypted or not (SGP.22 2.5.4)
        self.block += 1
        if encrypt:
            padded = bytes(data) + b"\x80"
            padded += b"\x00" * (-len(padded) % 16)
            enc_ecb = Cipher(algorithms.AES(self.s_enc), modes.ECB()).encryptor()
            icv = enc_ecb.update(self.block.to_bytes(16, "big")) + enc_ecb.finalize()
            cbc = Cipher(algorithms.AES(self.s_enc), modes.CBC(icv)).encryptor()
            body = cbc.update(padded) + cbc.finalize()
        else:
            body = bytes(data)
        full = _cmac(self.s_mac, self.mcv + bytes([tag]) + tlv.length_octets(len(body) + 8) + body)
        self.mcv = full
        return tlv.encode(tag, body + full[:8])

    def check(self, tag, value):
        """eUICC side: verify one segment's MAC; returns the (still encrypted) body or None."""
        if len(value) < 8:
            return None
        body, mac = bytes(value[:-8]), bytes(value[-8:])
        full = _cmac(self.s_mac, self.mcv + bytes([tag]) + tlv.length_octets(len(value)) + body)
        if full[:8] != mac:
            return None
        self.mcv = full
        return body
