# Configuration side of the ESipa HTTPS binding on MicroPython: eIM URLs and bare eimFqdn values
# (EimConfigurationData), the trust anchor in PEM or DER, and refusal of https without one.
# mpy-heapsize: 128K
from ipa import http
from ipa.esipa_https import EsipaHttps, EsipaHttpsError, parse_url, pem_to_der

# Any DER SEQUENCE will do for the conversion check (no certificate parsing here).
DER = bytes((0x30, 0x06, 0x02, 0x01, 0x05, 0x04, 0x01, 0xAA))
PEM = b"-----BEGIN CERTIFICATE-----\nMAYCAQUEAao=\n-----END CERTIFICATE-----\n"


def test_parse_url_forms():
    assert parse_url("https://eim.example") == (True, "eim.example", 443, http.ESIPA_PATH)
    assert parse_url("https://127.0.0.1:8443") == (True, "127.0.0.1", 8443, http.ESIPA_PATH)
    assert parse_url("https://127.0.0.1:8443/") == (True, "127.0.0.1", 8443, http.ESIPA_PATH)
    assert parse_url("http://h:80/other/path") == (False, "h", 80, "/other/path")
    assert parse_url("https://[::1]:9443") == (True, "::1", 9443, http.ESIPA_PATH)
    # eimFqdn as stored in EimConfigurationData: no scheme, https implied
    assert parse_url("eim.example:7443") == (True, "eim.example", 7443, http.ESIPA_PATH)


def test_parse_url_refusals():
    for bad in ("ftp://x", "https://:443", "https://h:0", "https://h:70000", "https://[::1"):
        try:
            parse_url(bad)
            raise AssertionError("accepted %r" % bad)
        except ValueError:
            pass


def test_trust_anchor_pem_and_der():
    assert pem_to_der(DER) == DER
    assert pem_to_der(PEM) == DER
    try:
        pem_to_der(b"not a certificate")
        raise AssertionError("accepted garbage")
    except ValueError:
        pass


def test_https_needs_a_trust_anchor_http_does_not():
    try:
        EsipaHttps("https://127.0.0.1:8443")
        raise AssertionError("https without trust anchor")
    except ValueError:
        pass
    e = EsipaHttps("http://127.0.0.1:8080")
    assert (e.tls, e.host, e.port) == (False, "127.0.0.1", 8080)


def test_error_carries_kind_and_status():
    e = EsipaHttpsError("http", "Bad Request", 400)
    assert isinstance(e, OSError) and e.kind == "http" and e.status == 400
    assert "ESipa HTTPS http 400: Bad Request" in str(e)
