"""Test PKI for CoAP over DTLS in certificate mode: one CA, a server certificate for loopback,
a client certificate for the device, and an unrelated "rogue" CA a device can be misconfigured
with. P-256 keys, SHA-256 signatures, no critical extensions beyond basicConstraints/keyUsage
(MicroPython's mbedTLS 2.28 rejected a CA carrying a critical certificatePolicies extension).

Files in DIR (PEM for libcoap/OpenSSL, DER for the device):
    ca.pem ca.der  server.pem server.der server.key  client.pem client.der client.key client.key.der
    rogue_ca.pem rogue_ca.der"""

import datetime
import ipaddress
import os
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CLIENT_CN = "urn:dev:ops:dtls-test-client"
_FROM = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
_TO = datetime.datetime(2045, 1, 1, tzinfo=datetime.timezone.utc)


def _write(path, data):
    # Written through a temp file and rename so parallel test workers never see half a file.
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test DTLS"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject, key, issuer_name, issuer_key, ca=False, eku=None, san=None):
    pub = key.public_key()
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
         .public_key(pub).serial_number(x509.random_serial_number())
         .not_valid_before(_FROM).not_valid_after(_TO)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                        False))
    if ca:
        b = b.add_extension(x509.BasicConstraints(True, 0), True)
        b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                          False, False), True)
    else:
        b = b.add_extension(x509.BasicConstraints(False, None), True)
        b = b.add_extension(x509.KeyUsage(True, False, False, False, True, False, False,
                                          False, False), True)
        b = b.add_extension(x509.ExtendedKeyUsage([eku]), False)
    if san:
        b = b.add_extension(x509.SubjectAlternativeName(san), False)
    return b.sign(issuer_key, hashes.SHA256())


class DtlsPki:
    """Paths of the files in `directory` plus the DER blobs a device configuration needs."""

    def __init__(self, directory):
        self.directory = directory

    def path(self, name):
        return os.path.join(self.directory, name)

    def read(self, name):
        with open(self.path(name), "rb") as f:
            return f.read()


def make(directory):
    """Create the PKI in `directory` unless it is already complete; return a DtlsPki."""
    os.makedirs(directory, exist_ok=True)
    p = DtlsPki(directory)
    if os.path.exists(p.path("rogue_ca.der")):
        return p
    pem = serialization.Encoding.PEM
    der = serialization.Encoding.DER

    def key_bytes(key, enc):
        return key.private_bytes(enc, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert(_name("Test DTLS CA"), ca_key, _name("Test DTLS CA"), ca_key, ca=True)
    srv_key = ec.generate_private_key(ec.SECP256R1())
    loopback = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("::1"))]
    srv = _cert(_name("localhost"), srv_key, ca.subject, ca_key,
                eku=ExtendedKeyUsageOID.SERVER_AUTH, san=loopback)
    cli_key = ec.generate_private_key(ec.SECP256R1())
    cli = _cert(_name(CLIENT_CN), cli_key, ca.subject, ca_key, eku=ExtendedKeyUsageOID.CLIENT_AUTH)
    rogue_key = ec.generate_private_key(ec.SECP256R1())
    rogue = _cert(_name("Test DTLS CA"), rogue_key, _name("Test DTLS CA"), rogue_key, ca=True)
    files = [("ca.pem", ca.public_bytes(pem)), ("ca.der", ca.public_bytes(der)),
             ("server.pem", srv.public_bytes(pem)), ("server.der", srv.public_bytes(der)),
             ("server.key", key_bytes(srv_key, pem)),
             ("client.pem", cli.public_bytes(pem)), ("client.der", cli.public_bytes(der)),
             ("client.key", key_bytes(cli_key, pem)), ("client.key.der", key_bytes(cli_key, der)),
             ("rogue_ca.pem", rogue.public_bytes(pem))]
    for name, data in files:
        _write(p.path(name), data)
    _write(p.path("rogue_ca.der"), rogue.public_bytes(der))  # last: marks the set complete
    return p
