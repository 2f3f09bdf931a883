"""TLS material for the ESipa HTTPS tests that MicroPython 1.25's mbedTLS 2.28 accepts.

The SGP.32 test PKI (host_tools.pki) marks certificatePolicies critical, as SGP.22 4.5.2 asks
for RSP certificates; mbedTLS 2.28 refuses any certificate with a critical extension it cannot
evaluate, so the device cannot load that CI as a trust anchor nor parse the eIM's TLS leaf. The
eIM's TLS server identity here is therefore a plain P-256 web-PKI-shaped pair: a root and a
leaf for 127.0.0.1 (CN and SAN), written over eim_tls.pem/.key of a PKI directory so that
`python -m host_tools.eim serve --pki DIR` presents it."""

import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ipa_io test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject, key, issuer, issuer_key, ca, san=None):
    now = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=365 * 30))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if san:
        b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def make(directory):
    """Write tls_root.der/.pem and eim_tls.pem/.key into `directory`; returns the root DER."""
    os.makedirs(directory, exist_ok=True)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _cert(_name("ipa_io TLS root"), root_key, _name("ipa_io TLS root"), root_key, True)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    san = [x509.DNSName("127.0.0.1"), x509.DNSName("localhost"),
           x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    leaf = _cert(_name("127.0.0.1"), leaf_key, root.subject, root_key, False, san)
    der = root.public_bytes(serialization.Encoding.DER)
    with open(os.path.join(directory, "tls_root.der"), "wb") as f:
        f.write(der)
    with open(os.path.join(directory, "tls_root.pem"), "wb") as f:
        f.write(root.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(directory, "eim_tls.pem"), "wb") as f:
        f.write(leaf.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(directory, "eim_tls.key"), "wb") as f:
        f.write(leaf_key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return der
