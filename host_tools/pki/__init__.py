"""SGP.26-shaped test PKI (NIST P-256 only): CI root, EUM, eUICC (EID in subject serialNumber),
SM-DP+ DPauth/DPpb, eIM signing, and TLS server certs for the eIM and SM-DP+ on loopback.

The RSP certificates mark certificatePolicies critical (SGP.22 4.5.2). The HTTPS side is issued
by its own root (`tls_ca`, no policies) with the role policy NON-critical on the leaves: mbedTLS
2.28 (the device's TLS in MicroPython 1.25) refuses to parse any certificate whose critical
certificatePolicies name something other than anyPolicy, so a CI-rooted chain cannot be a
device's trust anchor. The TLS leaves also name 127.0.0.1 as a DNS SAN because mbedTLS 2.28
matches the host name against DNS names only.

Files are PEM in one directory, each written once: running `make` again keeps what exists, so the
PKI is stable across runs and test sessions. NOT a production PKI: keys are unencrypted on disk.

    python -m host_tools.pki make DIR [--eid EID]
"""

import datetime
import ipaddress
import os
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                             encode_dss_signature)
from cryptography.x509.oid import NameOID

# A valid EID (ITU-T E.118 style check digits: the 32-digit number mod 97 == 1).
DEFAULT_EID = "89049032123451234512345678901041"

# SGP.22 certificate policies (id-rspRole arc, 2.23.146.1.2.1.x)
_OID_ROLE = "2.23.146.1.2.1."
ROLE_CI, ROLE_EUICC, ROLE_EUM, ROLE_DP_TLS, ROLE_DP_AUTH, ROLE_DP_PB = (
    _OID_ROLE + str(n) for n in range(6))
# no GSMA-registered role for the eIM in SGP.26 v1; a private arc marks it as test-only
ROLE_EIM_TEST = "1.3.6.1.4.1.99999.32.1"
# OID of the test SM-DP+ (2.999 is the ITU-T/ISO "example" arc)
SMDP_OID = "2.999.32.1"

_VALID_FROM = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
_VALID_TO = datetime.datetime(2054, 1, 1, tzinfo=datetime.timezone.utc)


def eid_valid(eid):
    return len(eid) == 32 and eid.isdigit() and int(eid) % 97 == 1


def _write_once(path, data, replace=False):
    if replace or not os.path.exists(path):
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)


def _key(directory, name):
    path = os.path.join(directory, name + ".key")
    if not os.path.exists(path):
        key = ec.generate_private_key(ec.SECP256R1())
        _write_once(path, key.private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), None)


def _name(cn, org="Test RSP", serial=None):
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "XX"),
             x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
             x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if serial:
        attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
    return x509.Name(attrs)


def _issued_by(path, issuer_cert):
    """The certificate at `path` exists and was signed by `issuer_cert`."""
    if issuer_cert is None or not os.path.exists(path):
        return False
    with open(path, "rb") as f:
        return cert_verifies(x509.load_pem_x509_certificate(f.read()), issuer_cert)


def _issue(directory, name, subject, key, issuer_cert, issuer_key, policy, ca=False,
           path_len=None, usage="sign", san=None, serial=None, policy_critical=True,
           replaces=None):
    """`replaces`: an issuer whose earlier certificate under this name is re-issued (a PKI made
    before the TLS root existed holds TLS leaves signed by the CI); a certificate another tool
    wrote over the name (a test's own TLS identity) is left alone."""
    path = os.path.join(directory, name + ".pem")
    stale = _issued_by(path, replaces)
    if stale or not os.path.exists(path):
        pub = key.public_key()
        issuer = issuer_cert.subject if issuer_cert is not None else subject
        aki_key = issuer_key.public_key()
        b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
             .public_key(pub).serial_number(serial or x509.random_serial_number())
             .not_valid_before(_VALID_FROM).not_valid_after(_VALID_TO)
             .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(aki_key), False))
        if policy is not None:
            b = b.add_extension(x509.CertificatePolicies(
                [x509.PolicyInformation(x509.ObjectIdentifier(policy), None)]), policy_critical)
        if ca:
            b = b.add_extension(x509.BasicConstraints(True, path_len), True)
            b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                              False, False), True)
        elif usage == "tls":
            b = b.add_extension(x509.KeyUsage(True, False, False, False, True, False, False,
                                              False, False), True)
            b = b.add_extension(x509.ExtendedKeyUsage(
                [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False)
        else:
            b = b.add_extension(x509.KeyUsage(True, False, False, False, False, False, False,
                                              False, False), True)
        if san:
            b = b.add_extension(x509.SubjectAlternativeName(san), False)
        cert = b.sign(issuer_key, hashes.SHA256())
        _write_once(path, cert.public_bytes(serialization.Encoding.PEM), replace=stale)
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


class Entity:
    """A key with its certificate."""

    def __init__(self, key, cert, directory, name):
        self.key = key
        self.cert = cert
        self.cert_der = cert.public_bytes(serialization.Encoding.DER)
        self.key_path = os.path.join(directory, name + ".key")
        self.cert_path = os.path.join(directory, name + ".pem")

    @property
    def ski(self):
        return self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest

    def sign(self, data):
        return sign_raw(self.key, data)

    def verify(self, data, signature):
        return verify_raw(self.key.public_key(), data, signature)


def sign_raw(private_key, data):
    """ECDSA-SHA256 in the plain r||s form (BSI TR-03111) that SGP.22/32 signatures use."""
    r, s = decode_dss_signature(private_key.sign(bytes(data), ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify_raw(public_key, data, signature):
    """True when `signature` (r||s, 64 bytes) is a valid ECDSA-SHA256 over `data`."""
    from cryptography.exceptions import InvalidSignature
    if len(signature) != 64:
        return False
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"),
                               int.from_bytes(signature[32:], "big"))
    try:
        public_key.verify(der, bytes(data), ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


def cert_verifies(cert, issuer_cert):
    """True when `cert` is signed by `issuer_cert`'s key (chain step check)."""
    try:
        cert.verify_directly_issued_by(issuer_cert)
        return True
    except Exception:
        return False


class Pki:
    """All test PKI entities, loaded from (and created in) `directory`."""

    def __init__(self, directory, eid=DEFAULT_EID):
        os.makedirs(directory, exist_ok=True)
        self.directory = directory
        d = directory
        ci_key = _key(d, "ci")
        ci_cert = _issue(d, "ci", _name("Test CI"), ci_key, None, ci_key, ROLE_CI, ca=True)
        self.ci = Entity(ci_key, ci_cert, d, "ci")
        self.eum = self._leaf("eum", _name("Test EUM", "Test EUM"), ROLE_EUM, self.ci, ca=True,
                              path_len=0)
        # SM-DP+ certificates name the server's OID in a registeredID SAN (SGP.22 4.5.2.1)
        smdp_oid = [x509.RegisteredID(x509.ObjectIdentifier(SMDP_OID))]
        self.dpauth = self._leaf("dpauth", _name("TEST SM-DP+", "Test SM-DP+"), ROLE_DP_AUTH,
                                 self.ci, san=smdp_oid)
        self.dppb = self._leaf("dppb", _name("TEST SM-DP+", "Test SM-DP+"), ROLE_DP_PB, self.ci,
                               san=smdp_oid)
        self.eim = self._leaf("eim", _name("Test eIM", "Test eIM"), ROLE_EIM_TEST, self.ci)
        tls_key = _key(d, "tls_ca")
        tls_cert = _issue(d, "tls_ca", _name("Test TLS root", "Test TLS"), tls_key, None, tls_key,
                          None, ca=True)
        self.tls_ca = Entity(tls_key, tls_cert, d, "tls_ca")
        _write_once(os.path.join(d, "tls_ca.der"), self.tls_ca.cert_der)
        loopback = [x509.DNSName("localhost"), x509.DNSName("127.0.0.1"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1"))]
        tls = {"usage": "tls", "san": loopback, "policy_critical": False, "replaces": ci_cert}
        self.eim_tls = self._leaf("eim_tls", _name("127.0.0.1", "Test eIM"), ROLE_EIM_TEST,
                                  self.tls_ca, **tls)
        self.smdp_tls = self._leaf("smdp_tls", _name("127.0.0.1", "Test SM-DP+"), ROLE_DP_TLS,
                                   self.tls_ca, **tls)
        self.euicc = self.euicc_for(eid)

    def _leaf(self, name, subject, policy, issuer, **kw):
        key = _key(self.directory, name)
        cert = _issue(self.directory, name, subject, key, issuer.cert, issuer.key, policy, **kw)
        return Entity(key, cert, self.directory, name)

    def euicc_for(self, eid):
        """The eUICC key/cert for one EID (issued by the EUM on first use)."""
        if not eid_valid(eid):
            raise ValueError("EID %r: need 32 digits with valid check digits" % eid)
        name = "euicc_" + eid
        return self._leaf(name, _name("Test eUICC", "Test EUM", serial=eid), ROLE_EUICC,
                          self.eum, serial=int(eid[-16:]) or 1)

    @property
    def ci_ski(self):
        return self.ci.ski

    @property
    def tls_ca_path(self):
        """PEM file a TLS client trusts to accept the eIM/SM-DP+ servers (the TLS root)."""
        return self.tls_ca.cert_path

    @property
    def tls_ca_der(self):
        """The TLS root as DER: the device's `cadata` (also written as tls_ca.der)."""
        return self.tls_ca.cert_der


def default_dir():
    return os.path.join(tempfile.gettempdir(), "sgp32-test-pki-%d" % os.getuid())


def make(directory=None, eid=DEFAULT_EID):
    """Create (or load) the PKI in `directory` (default: a per-user temp dir)."""
    return Pki(directory or default_dir(), eid)
