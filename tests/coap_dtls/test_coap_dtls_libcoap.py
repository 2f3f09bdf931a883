"""CoAP over DTLS 1.2 with certificates (RFC 7252 §9.1.3.3): the firmware Endpoint on
coap.transport_dtls (MicroPython, mbedTLS) as the client of Debian's libcoap 4.3 coap-server,
OpenSSL and GnuTLS builds, started with -c/-j/-C so the client must present its certificate."""

import re

import pytest

from coap_dtls_fixtures import CoapServer, Device, make_pki, pattern_sha

BODY = 16384


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("dtls-pki"))


@pytest.fixture
def server(pki):
    srv = CoapServer(pki).start()
    yield srv
    srv.stop()


@pytest.mark.parametrize("flavour", ["openssl", "gnutls"])
def test_dtls_cert_mutual_auth_get_put_blockwise_1024_16k(processes, pki, flavour):
    srv = CoapServer(pki, flavour).start()
    try:
        dev = Device(processes, pki, srv.dtls_port)
        assert dev.run("connect").startswith("connected TLS-ECDHE-ECDSA-")
        assert re.match(r"get /time -> 2\.05 \d+ bytes", dev.run("get /time"))
        assert dev.run("put /dtls-blob %d 1024" % BODY) == "put /dtls-blob %d -> 2.01" % BODY
        got = dev.run("get /dtls-blob 1024")
        assert got == "get /dtls-blob -> 2.05 %d bytes sha %s" % (BODY, pattern_sha(BODY))
        # 16 Block1 + 16 Block2 exchanges + /time, all over the one session.
        st = dev.stats()
        assert st["handshakes"] == 1 and st["sessions_lost"] == 0
        assert st["tx"] >= 33 and st["rx"] >= 33
    finally:
        srv.stop()


@pytest.mark.parametrize("flavour", ["openssl", "gnutls"])
def test_dtls_rfc7925_mandatory_suite_aes_128_ccm_8(processes, pki, flavour):
    """RFC 7925 §4.4 (and LwM2M 1.1 on top of it): certificate mode must support
    TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8; offered alone, both server stacks accept it."""
    srv = CoapServer(pki, flavour).start()
    try:
        dev = Device(processes, pki, srv.dtls_port, "--ciphers", "TLS-ECDHE-ECDSA-WITH-AES-128-CCM-8")
        assert dev.run("connect") == "connected TLS-ECDHE-ECDSA-WITH-AES-128-CCM-8"
        assert dev.run("put /ccm8 2048 512") == "put /ccm8 2048 -> 2.01"
    finally:
        srv.stop()


def test_dtls_over_ipv6_loopback(processes, pki):
    srv = CoapServer(pki, host="::1").start()
    try:
        dev = Device(processes, pki, srv.dtls_port, host="::1")
        assert dev.run("connect").startswith("connected TLS-ECDHE-ECDSA-")
        assert dev.run("put /v6 3000 1024") == "put /v6 3000 -> 2.01"
        assert dev.run("get /v6 1024") == "get /v6 -> 2.05 3000 bytes sha %s" % pattern_sha(3000)
    finally:
        srv.stop()


def test_dtls_first_request_sets_up_the_session(processes, pki, server):
    dev = Device(processes, pki, server.dtls_port)
    assert dev.run("put /lazy 100") == "put /lazy 100 -> 2.01"
    assert dev.stats()["handshakes"] == 1


def test_dtls_wrong_ca_fails_handshake_with_verify_error(processes, pki, server):
    dev = Device(processes, pki, server.dtls_port, "--ca", "rogue_ca.der")
    err = dev.run("connect")
    assert err.startswith("error DtlsError:"), err
    assert "DTLS verify failed with 127.0.0.1:%d" % server.dtls_port in err
    assert "not correctly signed by the trusted CA" in err
    assert "(mbedTLS -0x2700)" in err  # MBEDTLS_ERR_X509_CERT_VERIFY_FAILED
    # A certificate problem is not retried within the cycle.
    assert dev.stats()["handshake_failures"] == 1


@pytest.mark.parametrize("name", ["other.example", "127.0.0.1"])
def test_dtls_server_name_checked_against_certificate(processes, pki, server, name):
    """RFC 7925 §4.4.1 / RFC 6125: the server certificate must name the server. The test
    certificate names localhost (CN and DNS SAN) and 127.0.0.1/::1 (IP SANs); mbedTLS 2.28
    matches DNS names only, so an IP address as server name fails too."""
    dev = Device(processes, pki, server.dtls_port, "--server-name", name, "--hs-attempts", 1)
    err = dev.run("connect")
    assert err.startswith("error DtlsError: ") and "DTLS verify failed" in err, err
    assert "Common Name (CN) does not match" in err, err


@pytest.mark.parametrize("ca,pin,error", [
    ("-", "server.der", None),           # usage 3: domain-issued certificate, no chain
    ("ca.der", "server.der", None),      # usage 1: service certificate constraint
    ("-", "client.der", "is not the pinned one"),    # some other certificate pinned
    ("ca.der", "client.der", "is not the pinned one"),  # chain fine, other certificate pinned
    ("rogue_ca.der", "server.der", "not correctly signed by the trusted CA"),  # pin fine, CA not
], ids=["usage3", "usage1", "usage3-mismatch", "usage1-mismatch", "usage1-wrong-ca"])
def test_dtls_lwm2m_certificate_usage_pinning(processes, pki, server, ca, pin, error):
    """LwM2M 1.1 Security object Certificate Usage (/0/x/15), RFC 6698 semantics: the server
    certificate pinned, with and without a CA constraint."""
    dev = Device(processes, pki, server.dtls_port, "--ca", ca, "--pin", pin, "--hs-attempts", 1)
    got = dev.run("connect")
    if error is None:
        assert got.startswith("connected "), got
        assert dev.run("put /pinned 10") == "put /pinned 10 -> 2.01"
    else:
        assert got.startswith("error DtlsError: ") and "DTLS verify failed" in got, got
        assert error in got, got


def test_dtls_server_requiring_client_cert_rejects_device_without_one(processes, pki, server):
    dev = Device(processes, pki, server.dtls_port, "--no-client-cert", "--hs-attempts", 1)
    err = dev.run("connect")
    assert err.startswith("error DtlsError:"), err
    assert "DTLS handshake failed" in err and "fatal alert" in err, err


def test_dtls_unreachable_server_fails_after_bounded_attempts(processes, pki):
    port = CoapServer(pki).dtls_port  # chosen free, nothing started
    dev = Device(processes, pki, port, "--hs-attempts", 2, "--hs-timeout-ms", 2000)
    err = dev.run("connect", timeout=30)
    assert err.startswith("error DtlsError:") and "DTLS handshake failed" in err, err
    assert "ECONNREFUSED" in err or "no complete handshake" in err, err
    attempts = [ln for ln in dev.proc.lines if ln.startswith("dtls: handshake attempt")]
    assert [a.split(":")[1].split()[-1] for a in attempts] == ["1/2", "2/2"], attempts


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_dtls_session_reestablished_after_server_restart(processes, pki, how):
    """SIGTERM: libcoap ends the session with close_notify. SIGKILL: the new server silently
    drops records of the old session, so the device notices by the unanswered CON."""
    srv = CoapServer(pki).start()
    try:
        dev = Device(processes, pki, srv.dtls_port, "--stale-ms", 1000)
        assert dev.run("put /before 64") == "put /before 64 -> 2.01"
        srv.stop(15 if how == "sigterm" else 9)
        srv.start()
        got = dev.run("get /time", timeout=60)
        assert re.match(r"get /time -> 2\.05 \d+ bytes", got), got
        st = dev.stats()
        assert st["handshakes"] == 2 and st["sessions_lost"] == 1, st
        lost = [ln for ln in dev.proc.lines if " lost: " in ln]
        reason = "close_notify" if how == "sigterm" else "nothing received for"
        assert len(lost) == 1 and reason in lost[0], lost
        # The restarted server has no /before: the request really reached the new one.
        assert dev.run("get /before").startswith("get /before -> 4.04")
    finally:
        srv.stop()
