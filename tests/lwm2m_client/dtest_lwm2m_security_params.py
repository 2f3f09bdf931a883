# lwm2m.security on MicroPython: a Security (/0) instance becomes the DTLS transport's parameters
# (LwM2M 1.1 Transport §5.2.8; Certificate Usage /0/x/15 as in RFC 6698 §2.1.1), and a
# configuration the transport cannot use is refused with the resource that makes it so.
from lwm2m import model as M
from lwm2m.security import SecurityConfigError, dtls_params
from objects import obj_security

CERT = b"0\x82\x01\x00device-cert"
KEY = b"0w\x02\x01\x01device-key"
SERVER = b"0\x82\x01\x00server-or-ca"


def _reg(mode=obj_security.MODE_CERT, cert=CERT, key=KEY, server=SERVER, **extra):
    reg = M.Registry()
    obj_security.create(reg)
    obj_security.add_account(reg, 4, "coaps://lwm2m.example:5684", mode=mode, ssid=1,
                             identity=cert, secret=key, server_key=server)
    for rid, value in extra.items():
        reg.set((0, 4, int(rid[1:])), value)
    return reg


def _refused(reg, path):
    try:
        dtls_params(reg, 4)
    except SecurityConfigError as e:
        assert e.path == path and path in str(e), str(e)
        return str(e)
    raise AssertionError("accepted")


def test_certificate_usage_3_default_pins_the_server_certificate():
    p = dtls_params(_reg(), 4)
    assert p == {"cert": CERT, "key": KEY, "pinned": SERVER,
                 "ciphers": ["TLS-ECDHE-ECDSA-WITH-AES-128-CCM-8"]}, p


def test_certificate_usage_0_and_2_take_server_key_as_ca():
    for usage in (0, 2):
        p = dtls_params(_reg(r15=usage), 4)
        assert p["cadata"] == SERVER and "pinned" not in p, (usage, p)


def test_certificate_usage_1_is_refused_naming_0_x_15():
    assert "service certificate constraint" in _refused(_reg(r15=1), "/0/4/15")


def test_psk_rpk_and_nosec_modes_are_refused_over_coaps():
    for mode, name in ((0, "pre-shared key"), (1, "raw public key"), (3, "no security")):
        assert name in _refused(_reg(mode=mode), "/0/4/2")


def test_missing_credentials_name_the_empty_resource():
    _refused(_reg(cert=b""), "/0/4/3")
    _refused(_reg(key=b""), "/0/4/5")
    _refused(_reg(server=b""), "/0/4/4")


def test_sni_and_cipher_suites_from_0_x_14_and_0_x_16():
    p = dtls_params(_reg(r14="lwm2m.operator.example", r16={0: 0xC02B, 1: 0xC0AE, 2: 0x1301}), 4)
    assert p["server_hostname"] == "lwm2m.operator.example"
    assert p["ciphers"] == ["TLS-ECDHE-ECDSA-WITH-AES-128-CCM-8",
                            "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256"], p["ciphers"]


def test_only_unknown_cipher_suites_are_refused_naming_0_x_16():
    assert "0x1301" in _refused(_reg(r16={0: 0x1301}), "/0/4/16")
