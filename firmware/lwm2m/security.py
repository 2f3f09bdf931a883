"""The DTLS parameters of one Security (/0) instance, for coap.transport_dtls (LwM2M 1.1
Transport §5.2.8, RFC 7925 §4.4). Pure logic: reads the registry, does no I/O, so a bad
configuration is refused with the resource that makes it bad before any socket is opened.

Certificate mode (/0/x/2 = 2) is the one MicroPython's `tls` can do (no PSK or raw public key
API in 1.25/1.26):
    /0/x/3  the device's own certificate (DER)
    /0/x/5  its private key (DER)
    /0/x/4  the server side's certificate (DER), read per Certificate Usage /0/x/15:
            0 CA constraint, 2 trust anchor assertion -> the CA the server's chain must verify to
            3 domain-issued certificate (the default)  -> the server's own certificate, pinned
            1 service certificate constraint needs a second trust anchor the object has no
              place for, so it is refused
    /0/x/14 SNI, sent instead of the host from the URI when set
    /0/x/16 cipher suites (IANA values); without it the RFC 7925 suite for certificates."""

from micropython import const

from objects.obj_security import MODE_CERT, MODE_NOSEC

_OID_SEC = const(0)
_RES_MODE = const(2)
_RES_OWN_CERT = const(3)
_RES_SERVER_CERT = const(4)
_RES_SECRET_KEY = const(5)
_RES_SNI = const(14)
_RES_CERT_USAGE = const(15)
_RES_CIPHERSUITE = const(16)

_USAGE_CA = const(0)
_USAGE_SERVICE = const(1)
_USAGE_ANCHOR = const(2)
_USAGE_DOMAIN = const(3)

# IANA TLS cipher suite value -> mbedTLS name, for the suites LwM2M certificate mode uses.
_SUITES = (
    (0xC0AE, "TLS-ECDHE-ECDSA-WITH-AES-128-CCM-8"),
    (0xC0AC, "TLS-ECDHE-ECDSA-WITH-AES-128-CCM"),
    (0xC02B, "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256"),
    (0xC023, "TLS-ECDHE-ECDSA-WITH-AES-128-CBC-SHA256"),
)
_MODE_NAMES = ("pre-shared key", "raw public key", "certificate", "no security",
               "certificate with EST")


class SecurityConfigError(ValueError):
    """A Security instance the DTLS transport cannot use; `path` names the resource."""

    def __init__(self, path, why):
        super().__init__("%s: %s" % (path, why))
        self.path = path


def _path(iid, rid):
    return "/0/%d/%d" % (iid, rid)


def dtls_params(registry, iid):
    """keyword arguments for DtlsClientTransport(host, port, **params), or SecurityConfigError."""
    get = registry.get
    mode = get((_OID_SEC, iid, _RES_MODE), MODE_NOSEC)
    if mode != MODE_CERT:
        name = _MODE_NAMES[mode] if 0 <= mode < len(_MODE_NAMES) else str(mode)
        raise SecurityConfigError(_path(iid, _RES_MODE), "security mode %d (%s) not supported "
                                  "over coaps; only 2 (certificate)" % (mode, name))
    params = {}
    for rid, key in ((_RES_OWN_CERT, "cert"), (_RES_SECRET_KEY, "key")):
        v = get((_OID_SEC, iid, rid), b"")
        if not v:
            raise SecurityConfigError(_path(iid, rid), "empty; certificate mode needs it")
        params[key] = bytes(v)
    server = get((_OID_SEC, iid, _RES_SERVER_CERT), b"")
    if not server:
        raise SecurityConfigError(_path(iid, _RES_SERVER_CERT), "empty; no way to authenticate the server")
    usage = get((_OID_SEC, iid, _RES_CERT_USAGE), _USAGE_DOMAIN)
    if usage in (_USAGE_CA, _USAGE_ANCHOR):
        params["cadata"] = bytes(server)
    elif usage == _USAGE_DOMAIN:
        params["pinned"] = bytes(server)
    else:
        raise SecurityConfigError(_path(iid, _RES_CERT_USAGE), "certificate usage %d (service "
                                  "certificate constraint) needs a trust anchor /0 cannot hold" % usage)
    sni = get((_OID_SEC, iid, _RES_SNI))
    if sni:
        params["server_hostname"] = sni
    suites = get((_OID_SEC, iid, _RES_CIPHERSUITE))
    if suites:
        values = list(suites.values()) if isinstance(suites, dict) else list(suites)
        names = [name for code, name in _SUITES if code in values]
        if not names:
            raise SecurityConfigError(_path(iid, _RES_CIPHERSUITE), "none of the cipher suites %s "
                                      "is supported" % ",".join("0x%04X" % v for v in values))
        params["ciphers"] = names
    else:
        params["ciphers"] = [_SUITES[0][1]]
    return params
