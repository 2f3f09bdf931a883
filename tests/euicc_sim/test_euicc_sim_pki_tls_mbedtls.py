"""The test PKI's HTTPS certificates (eIM, SM-DP+) are accepted by the device's TLS stack:
MicroPython 1.25's `tls` (mbedTLS 2.28) completes a verified handshake (CERT_REQUIRED, host
name checked) with a CPython ssl server presenting them, trusting the PKI's TLS root as DER.
The RSP CI, whose certificatePolicies are critical (SGP.22 4.5.2), stays refused by mbedTLS:
that is why the HTTPS chain has its own root."""

import os
import socket
import ssl
import threading

import pytest

import harness
from host_tools import pki as _pki

_PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "euicc_sim_tls_probe.py")


class _OneShotTlsServer:
    """Accepts one TLS connection on loopback, echoes one line back with a prefix."""

    def __init__(self, entity):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(entity.cert_path, entity.key_path)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.sock.settimeout(20)
        self.port = self.sock.getsockname()[1]
        self.error = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            raw, _ = self.sock.accept()
            raw.settimeout(20)
            with self.ctx.wrap_socket(raw, server_side=True) as conn:
                line = conn.makefile("rb").readline()
                conn.sendall(b"pong " + line)
        except (OSError, ssl.SSLError) as exc:  # the client refused us: reported by the probe
            self.error = exc

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes an accept() the client never reached
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)


def _probe(processes, port, ca_der_path, hostname):
    proc = harness.start_micropython(_PROBE, (port, ca_der_path, hostname), module=False,
                                     name="tls-probe")
    processes.append(proc)
    return proc.expect(r"TLS (OK|ERROR) (.*)", timeout=30)


def _der_file(tmp_path, name, entity):
    path = str(tmp_path / name)
    with open(path, "wb") as f:
        f.write(entity.cert_der)
    return path


@pytest.mark.parametrize("role", ["eim_tls", "smdp_tls"])
@pytest.mark.parametrize("hostname", ["127.0.0.1", "localhost"])
def test_tls_server_cert_verified_by_mbedtls_2_28(test_pki, processes, role, hostname):
    server = _OneShotTlsServer(getattr(test_pki, role))
    try:
        ca = os.path.join(test_pki.directory, "tls_ca.der")
        m = _probe(processes, server.port, ca, hostname)
        assert m.group(1) == "OK" and m.group(2) == "pong ping", m.group(0)
    finally:
        server.close()
    with open(ca, "rb") as f:
        assert f.read() == test_pki.tls_ca_der


def test_tls_server_cert_wrong_host_name_refused(test_pki, processes, tmp_path):
    server = _OneShotTlsServer(test_pki.eim_tls)
    try:
        m = _probe(processes, server.port, _der_file(tmp_path, "tls_ca.der", test_pki.tls_ca),
                   "eim.example")
        assert m.group(1) == "ERROR" and m.group(2).startswith("handshake"), m.group(0)
    finally:
        server.close()


def test_rsp_ci_with_critical_policies_is_not_an_mbedtls_anchor(test_pki, processes, tmp_path):
    # the CI keeps SGP.22's critical certificatePolicies for the eUICC; mbedTLS cannot use it
    pols = test_pki.ci.cert.extensions.get_extension_for_class(_pki.x509.CertificatePolicies)
    assert pols.critical
    server = _OneShotTlsServer(test_pki.eim_tls)
    try:
        m = _probe(processes, server.port, _der_file(tmp_path, "ci.der", test_pki.ci), "127.0.0.1")
        assert m.group(1) == "ERROR" and m.group(2).startswith("ca"), m.group(0)
    finally:
        server.close()


def test_tls_leaves_carry_role_policy_non_critical_rsp_certs_keep_critical(test_pki):
    for ent in (test_pki.eim_tls, test_pki.smdp_tls):
        assert _pki.cert_verifies(ent.cert, test_pki.tls_ca.cert)
        pols = ent.cert.extensions.get_extension_for_class(_pki.x509.CertificatePolicies)
        assert not pols.critical
    assert test_pki.smdp_tls.cert.extensions.get_extension_for_class(
        _pki.x509.CertificatePolicies).value[0].policy_identifier.dotted_string == _pki.ROLE_DP_TLS
    for ent in (test_pki.ci, test_pki.eum, test_pki.dpauth, test_pki.dppb, test_pki.euicc):
        assert ent.cert.extensions.get_extension_for_class(_pki.x509.CertificatePolicies).critical


def test_old_pki_directory_tls_leaf_reissued_under_tls_root(tmp_path):
    # a directory made when the TLS leaves hung under the CI: loading it re-issues them, keeps keys
    d = str(tmp_path / "old")
    first = _pki.make(d)
    ci_signed = _pki._issue(d, "eim_tls_old", _pki._name("127.0.0.1"), first.eim_tls.key,
                            first.ci.cert, first.ci.key, _pki.ROLE_EIM_TEST, usage="tls")
    os.replace(os.path.join(d, "eim_tls_old.pem"), os.path.join(d, "eim_tls.pem"))
    assert _pki.cert_verifies(ci_signed, first.ci.cert)
    again = _pki.make(d)
    assert _pki.cert_verifies(again.eim_tls.cert, again.tls_ca.cert)
    assert again.eim_tls.key.private_numbers() == first.eim_tls.key.private_numbers()
    assert again.ci.cert_der == first.ci.cert_der


def test_tls_identity_written_over_by_a_test_is_kept(tmp_path):
    # ipa_io/control-plane tests put their own eIM TLS pair over eim_tls.pem/.key: loading the
    # PKI again must not re-issue it (only CI-signed leaves of an old directory are replaced)
    d = str(tmp_path / "own")
    first = _pki.make(d)
    own_key = _pki.ec.generate_private_key(_pki.ec.SECP256R1())
    own = _pki._issue(d, "own_tls", _pki._name("127.0.0.1"), own_key, None, own_key, None, ca=True)
    os.replace(os.path.join(d, "own_tls.pem"), os.path.join(d, "eim_tls.pem"))
    again = _pki.make(d)
    assert again.eim_tls.cert == own and again.smdp_tls.cert == first.smdp_tls.cert
