"""A TLS server identity for the eIM that the device's mbedTLS 2.28 (MicroPython 1.25) accepts.

The SGP.32 test PKI marks certificatePolicies critical (SGP.22 4.5.2); mbedTLS 2.28 rejects any
certificate with a critical extension it does not evaluate. So the eIM's HTTPS endpoint gets
its own small chain: a P-256 root (basicConstraints only) and a leaf for 127.0.0.1."""

import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _issue(cn, public_key, issuer_name, signer, is_ca, alt_names=None):
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "control plane"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = x509.CertificateBuilder(
        subject_name=name, issuer_name=issuer_name or name, public_key=public_key,
        serial_number=x509.random_serial_number(), not_valid_before=start,
        not_valid_after=start + datetime.timedelta(days=3650))
    builder = builder.add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), True)
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), False)
    return builder.sign(signer, hashes.SHA256())


def make(directory):
    """Writes tls_root.der (the device's --ca) and eim_tls.pem/.key (the eIM's identity)."""
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _issue("control plane TLS root", root_key.public_key(), None, root_key, True)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    # mbedTLS 2.28 matches the host name against DNS names only, so the IP goes in as one too.
    alt = [x509.DNSName("127.0.0.1"), x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    leaf = _issue("127.0.0.1", leaf_key.public_key(), root.subject, root_key, False, alt)
    files = {
        "tls_root.der": root.public_bytes(serialization.Encoding.DER),
        "eim_tls.pem": leaf.public_bytes(serialization.Encoding.PEM),
        "eim_tls.key": leaf_key.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()),
    }
    for name, data in files.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)
    return files["tls_root.der"]
