"""ECDSA P-256 as SGP.22/SGP.32 use it: SHA-256, signature as the plain r||s concatenation
(BSI TR-03111 format, 64 bytes), not the X9.62 DER SEQUENCE that most libraries produce."""

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                              encode_dss_signature)

_HALF = 32  # bytes of r (and of s) on P-256


def generate_key():
    return ec.generate_private_key(ec.SECP256R1())


def sign_plain(private_key, data):
    """r||s over SHA-256(data)."""
    r, s = decode_dss_signature(private_key.sign(bytes(data), ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(_HALF, "big") + s.to_bytes(_HALF, "big")


def verify_plain(public_key, data, signature):
    """True when `signature` (r||s) is valid for `data`; malformed signatures are just invalid."""
    signature = bytes(signature)
    if len(signature) != 2 * _HALF:
        return False
    r = int.from_bytes(signature[:_HALF], "big")
    s = int.from_bytes(signature[_HALF:], "big")
    if r == 0 or s == 0:
        return False
    try:
        public_key.verify(encode_dss_signature(r, s), bytes(data), ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


def load_private_key(path):
    with open(path, "rb") as f:
        data = f.read()
    if b"-----BEGIN" in data:
        return serialization.load_pem_private_key(data, password=None)
    return serialization.load_der_private_key(data, password=None)


def load_certificate(data_or_path):
    """An x509.Certificate from DER/PEM bytes or a file path."""
    data = data_or_path
    if isinstance(data_or_path, str):
        with open(data_or_path, "rb") as f:
            data = f.read()
    data = bytes(data)
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def certificate_der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def public_key_info_der(public_key):
    """SubjectPublicKeyInfo DER (what EimConfigurationData.eimPublicKey carries)."""
    return public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)
