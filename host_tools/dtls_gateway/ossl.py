"""The part of OpenSSL's libssl a DTLS 1.2 server needs, reached through ctypes: a server context
in certificate mode and one connection object per client whose records move through memory
BIOs (the gateway owns the sockets).

Why ctypes: the venv has no pyOpenSSL, and Debian's python3-openssl belongs to the system
interpreter and its older cryptography; libssl itself is on every Debian machine.

Only this module touches pointers. Every call that can fail clears the thread's error queue
first and reports OpenSSL's reason text (`ERR_reason_error_string`), plus the X.509 verify
result when the peer's certificate was refused."""

import ctypes
import ctypes.util
import hashlib
import hmac
import os
import time

# ssl.h / bio.h / prov_ssl.h / obj_mac.h (OpenSSL 3.0)
_DTLS1_2_VERSION = 0xFEFD
_SSL_FILETYPE_PEM = 1
_SSL_VERIFY_PEER = 0x01
_SSL_VERIFY_FAIL_IF_NO_PEER_CERT = 0x02
_SSL_OP_NO_QUERY_MTU = 1 << 12
_SSL_OP_COOKIE_EXCHANGE = 1 << 13
_SSL_OP_NO_TICKET = 1 << 14
_SSL_OP_CIPHER_SERVER_PREFERENCE = 1 << 22
_SSL_OP_NO_RENEGOTIATION = 1 << 30
_SSL_CTRL_SET_MTU = 17
_SSL_CTRL_SET_SESS_CACHE_MODE = 44
_DTLS_CTRL_GET_TIMEOUT = 73
_DTLS_CTRL_HANDLE_TIMEOUT = 74
_SSL_CTRL_SET_MIN_PROTO_VERSION = 123
_SSL_CTRL_SET_MAX_PROTO_VERSION = 124
_BIO_C_SET_BUF_MEM_EOF_RETURN = 130
_SSL_ERROR_WANT_READ = 2
_SSL_ERROR_WANT_WRITE = 3
_SSL_ERROR_SYSCALL = 5
_SSL_ERROR_ZERO_RETURN = 6
_NID_COMMON_NAME = 13

_COOKIE_LEN = 16
_COOKIE_PERIOD_S = 60  # a cookie is good for this period and the one after it
_READ_MAX = 16384 + 2048  # one record's plaintext at most, with room to spare
_NAME_MAX = 512

_P = ctypes.c_void_p
_GEN_COOKIE_CB = ctypes.CFUNCTYPE(ctypes.c_int, _P, ctypes.POINTER(ctypes.c_ubyte),
                                  ctypes.POINTER(ctypes.c_uint))
_VERIFY_COOKIE_CB = ctypes.CFUNCTYPE(ctypes.c_int, _P, ctypes.POINTER(ctypes.c_ubyte),
                                     ctypes.c_uint)


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class DtlsError(Exception):
    """A DTLS setup or session failure; `.reason` is OpenSSL's text (or ours)."""

    def __init__(self, step, reason):
        super().__init__("%s: %s" % (step, reason))
        self.step = step
        self.reason = reason


# (library, name, restype, argtypes)
_SIGNATURES = [
    ("ssl", "DTLS_server_method", _P, []),
    ("ssl", "SSL_CTX_new", _P, [_P]),
    ("ssl", "SSL_CTX_free", None, [_P]),
    ("ssl", "SSL_CTX_ctrl", ctypes.c_long, [_P, ctypes.c_int, ctypes.c_long, _P]),
    ("ssl", "SSL_CTX_set_options", ctypes.c_uint64, [_P, ctypes.c_uint64]),
    ("ssl", "SSL_CTX_use_certificate_chain_file", ctypes.c_int, [_P, ctypes.c_char_p]),
    ("ssl", "SSL_CTX_use_PrivateKey_file", ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_int]),
    ("ssl", "SSL_CTX_check_private_key", ctypes.c_int, [_P]),
    ("ssl", "SSL_CTX_load_verify_locations", ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_char_p]),
    ("ssl", "SSL_load_client_CA_file", _P, [ctypes.c_char_p]),
    ("ssl", "SSL_CTX_set_client_CA_list", None, [_P, _P]),
    ("ssl", "SSL_CTX_set_verify", None, [_P, ctypes.c_int, _P]),
    ("ssl", "SSL_CTX_set_cipher_list", ctypes.c_int, [_P, ctypes.c_char_p]),
    ("ssl", "SSL_CTX_set_cookie_generate_cb", None, [_P, _GEN_COOKIE_CB]),
    ("ssl", "SSL_CTX_set_cookie_verify_cb", None, [_P, _VERIFY_COOKIE_CB]),
    ("ssl", "SSL_new", _P, [_P]),
    ("ssl", "SSL_free", None, [_P]),
    ("ssl", "SSL_ctrl", ctypes.c_long, [_P, ctypes.c_int, ctypes.c_long, _P]),
    ("ssl", "SSL_set_bio", None, [_P, _P, _P]),
    ("ssl", "SSL_set_accept_state", None, [_P]),
    ("ssl", "DTLSv1_listen", ctypes.c_int, [_P, _P]),
    ("ssl", "SSL_do_handshake", ctypes.c_int, [_P]),
    ("ssl", "SSL_read", ctypes.c_int, [_P, _P, ctypes.c_int]),
    ("ssl", "SSL_write", ctypes.c_int, [_P, _P, ctypes.c_int]),
    ("ssl", "SSL_shutdown", ctypes.c_int, [_P]),
    ("ssl", "SSL_get_error", ctypes.c_int, [_P, ctypes.c_int]),
    ("ssl", "SSL_get_verify_result", ctypes.c_long, [_P]),
    ("ssl", "SSL_get_current_cipher", _P, [_P]),
    ("ssl", "SSL_CIPHER_get_name", ctypes.c_char_p, [_P]),
    ("ssl", "SSL_CIPHER_standard_name", ctypes.c_char_p, [_P]),
    ("crypto", "BIO_s_mem", _P, []),
    ("crypto", "BIO_new", _P, [_P]),
    ("crypto", "BIO_ctrl", ctypes.c_long, [_P, ctypes.c_int, ctypes.c_long, _P]),
    ("crypto", "BIO_read", ctypes.c_int, [_P, _P, ctypes.c_int]),
    ("crypto", "BIO_write", ctypes.c_int, [_P, _P, ctypes.c_int]),
    ("crypto", "BIO_ctrl_pending", ctypes.c_size_t, [_P]),
    ("crypto", "BIO_ADDR_new", _P, []),
    ("crypto", "BIO_ADDR_free", None, [_P]),
    ("crypto", "ERR_get_error", ctypes.c_ulong, []),
    ("crypto", "ERR_clear_error", None, []),
    ("crypto", "ERR_reason_error_string", ctypes.c_char_p, [ctypes.c_ulong]),
    ("crypto", "X509_free", None, [_P]),
    ("crypto", "X509_get_subject_name", _P, [_P]),
    ("crypto", "X509_NAME_get_text_by_NID", ctypes.c_int, [_P, ctypes.c_int, ctypes.c_char_p,
                                                           ctypes.c_int]),
    ("crypto", "X509_NAME_oneline", ctypes.c_char_p, [_P, ctypes.c_char_p, ctypes.c_int]),
    ("crypto", "X509_verify_cert_error_string", ctypes.c_char_p, [ctypes.c_long]),
    ("crypto", "OpenSSL_version", ctypes.c_char_p, [ctypes.c_int]),
]


class _Lib:
    """libssl + libcrypto with the signatures above set; loaded once, on first use."""

    def __init__(self):
        libs = {"ssl": self._load("ssl"), "crypto": self._load("crypto")}
        for where, name, restype, argtypes in _SIGNATURES:
            fn = getattr(libs[where], name)
            fn.restype = restype
            fn.argtypes = argtypes
            setattr(self, name, fn)
        ssl = libs["ssl"]
        # SSL_get_peer_certificate became SSL_get1_peer_certificate in 3.0 (same reference rule).
        fn = getattr(ssl, "SSL_get1_peer_certificate", None) or ssl.SSL_get_peer_certificate
        fn.restype, fn.argtypes = _P, [_P]
        self.SSL_get1_peer_certificate = fn

    @staticmethod
    def _load(name):
        for candidate in ("lib%s.so.3" % name, ctypes.util.find_library(name)):
            if candidate:
                try:
                    return ctypes.CDLL(candidate)
                except OSError:
                    continue
        raise DtlsError("setup", "lib%s (OpenSSL 3) not found" % name)


_lib = None


def lib():
    global _lib
    if _lib is None:
        _lib = _Lib()
    return _lib


def openssl_version():
    return lib().OpenSSL_version(0).decode()


def _errors():
    """Drain the thread's error queue into one text (reasons only, oldest first)."""
    L = lib()
    reasons = []
    while True:
        code = L.ERR_get_error()
        if not code:
            break
        text = L.ERR_reason_error_string(code)
        reasons.append(text.decode() if text else "error 0x%x" % code)
    return "; ".join(reasons)


class ServerContext:
    """SSL_CTX for the DTLS 1.2 server: own certificate chain and key, client certificate
    required and verified against `ca`, `ciphers` in server preference order, no session
    cache, tickets or renegotiation, and HelloVerifyRequest cookies derived from the client
    address (HMAC with a per-context random key, rotating every 60 s).

    `peer_of(ssl_pointer)` -> (host, port) is asked by the cookie callbacks; the gateway
    answers from its table, since memory BIOs carry no address."""

    def __init__(self, cert, key, ca, ciphers, peer_of):
        L = lib()
        self._peer_of = peer_of
        self._secret = os.urandom(32)
        self.ctx = L.SSL_CTX_new(L.DTLS_server_method())
        if not self.ctx:
            raise DtlsError("setup", _errors() or "SSL_CTX_new failed")
        try:
            self._configure(cert, key, ca, ciphers)
        except Exception:
            self.free()
            raise

    def _configure(self, cert, key, ca, ciphers):
        L = lib()
        ctx = self.ctx
        L.ERR_clear_error()

        def check(ok, what):
            if ok != 1:
                raise DtlsError("setup", "%s: %s" % (what, _errors() or "failed"))

        check(L.SSL_CTX_ctrl(ctx, _SSL_CTRL_SET_MIN_PROTO_VERSION, _DTLS1_2_VERSION, None),
              "DTLS 1.2 minimum")
        check(L.SSL_CTX_ctrl(ctx, _SSL_CTRL_SET_MAX_PROTO_VERSION, _DTLS1_2_VERSION, None),
              "DTLS 1.2 maximum")
        check(L.SSL_CTX_use_certificate_chain_file(ctx, os.fsencode(cert)),
              "certificate %s" % cert)
        check(L.SSL_CTX_use_PrivateKey_file(ctx, os.fsencode(key), _SSL_FILETYPE_PEM),
              "key %s" % key)
        check(L.SSL_CTX_check_private_key(ctx), "key does not match the certificate")
        check(L.SSL_CTX_load_verify_locations(ctx, os.fsencode(ca), None), "CA %s" % ca)
        names = L.SSL_load_client_CA_file(os.fsencode(ca))
        if names:  # CA names in the CertificateRequest; the context takes ownership
            L.SSL_CTX_set_client_CA_list(ctx, names)
        L.SSL_CTX_set_verify(ctx, _SSL_VERIFY_PEER | _SSL_VERIFY_FAIL_IF_NO_PEER_CERT, None)
        check(L.SSL_CTX_set_cipher_list(ctx, ciphers.encode()), "cipher list %r" % ciphers)
        L.SSL_CTX_set_options(ctx, _SSL_OP_NO_QUERY_MTU | _SSL_OP_COOKIE_EXCHANGE
                              | _SSL_OP_NO_TICKET | _SSL_OP_CIPHER_SERVER_PREFERENCE
                              | _SSL_OP_NO_RENEGOTIATION)
        L.SSL_CTX_ctrl(ctx, _SSL_CTRL_SET_SESS_CACHE_MODE, 0, None)  # SSL_SESS_CACHE_OFF
        # ctypes keeps a callback alive only while a Python reference to it exists.
        self._gen_cb = _GEN_COOKIE_CB(self._gen_cookie)
        self._verify_cb = _VERIFY_COOKIE_CB(self._verify_cookie)
        L.SSL_CTX_set_cookie_generate_cb(ctx, self._gen_cb)
        L.SSL_CTX_set_cookie_verify_cb(ctx, self._verify_cb)

    def cookie(self, peer, period=None):
        if period is None:
            period = int(time.monotonic() // _COOKIE_PERIOD_S)
        msg = ("%s|%d|%d" % (peer[0], peer[1], period)).encode()
        return hmac.new(self._secret, msg, hashlib.sha256).digest()[:_COOKIE_LEN]

    def _gen_cookie(self, ssl, out, out_len):
        peer = self._peer_of(ssl)
        if peer is None:
            return 0
        c = self.cookie(peer)
        ctypes.memmove(out, c, len(c))
        out_len[0] = len(c)
        return 1

    def _verify_cookie(self, ssl, data, length):
        peer = self._peer_of(ssl)
        if peer is None or length != _COOKIE_LEN:
            return 0
        got = ctypes.string_at(data, length)
        now = int(time.monotonic() // _COOKIE_PERIOD_S)
        return int(any(hmac.compare_digest(got, self.cookie(peer, p)) for p in (now, now - 1)))

    def free(self):
        if self.ctx:
            lib().SSL_CTX_free(self.ctx)
            self.ctx = None


class Conn:
    """One SSL object in the accept state with a memory BIO each way.

    feed(datagram) puts received bytes in; output() takes what OpenSSL wrote (whole records,
    possibly several); listen(), handshake(), read(), write(), close() drive it."""

    def __init__(self, context, mtu):
        L = lib()
        self.ssl = L.SSL_new(context.ctx)
        if not self.ssl:
            raise DtlsError("setup", _errors() or "SSL_new failed")
        rbio, wbio = L.BIO_new(L.BIO_s_mem()), L.BIO_new(L.BIO_s_mem())
        for bio in (rbio, wbio):
            # An empty memory BIO means "would block", not end of file.
            L.BIO_ctrl(bio, _BIO_C_SET_BUF_MEM_EOF_RETURN, -1, None)
        L.SSL_set_bio(self.ssl, rbio, wbio)  # the SSL object owns both from here
        self._rbio, self._wbio = rbio, wbio
        L.SSL_set_accept_state(self.ssl)
        if mtu and L.SSL_ctrl(self.ssl, _SSL_CTRL_SET_MTU, mtu, None) <= 0:  # returns the MTU
            raise DtlsError("setup", "MTU %d refused (too small)" % mtu)
        self._buf = ctypes.create_string_buffer(_READ_MAX)

    def feed(self, data):
        lib().BIO_write(self._rbio, data, len(data))

    def output(self):
        L = lib()
        n = L.BIO_ctrl_pending(self._wbio)
        if not n:
            return b""
        buf = ctypes.create_string_buffer(n)
        got = L.BIO_read(self._wbio, buf, n)
        return buf.raw[:got] if got > 0 else b""

    def _drop_input(self):
        L = lib()
        while L.BIO_ctrl_pending(self._rbio):
            L.BIO_read(self._rbio, self._buf, _READ_MAX)

    def listen(self):
        """DTLSv1_listen: True once a ClientHello with a valid cookie was taken (the handshake
        then goes on in this object); False after a HelloVerifyRequest or a dropped datagram.
        Raises DtlsError on an internal failure."""
        L = lib()
        L.ERR_clear_error()
        addr = L.BIO_ADDR_new()
        try:
            r = L.DTLSv1_listen(self.ssl, addr)
        finally:
            L.BIO_ADDR_free(addr)
        if r < 0:
            self._drop_input()
            raise DtlsError("listen", _errors() or "DTLSv1_listen failed")
        return r > 0

    def _fail(self, r, step):
        """Classify a non-positive return of an SSL I/O call."""
        L = lib()
        err = L.SSL_get_error(self.ssl, r)
        if err in (_SSL_ERROR_WANT_READ, _SSL_ERROR_WANT_WRITE):
            return None
        if err == _SSL_ERROR_ZERO_RETURN:
            raise DtlsError("closed", "close_notify")
        reason = _errors()
        verify = L.SSL_get_verify_result(self.ssl)
        if verify:
            text = L.X509_verify_cert_error_string(verify)
            reason = "%s (%s)" % (reason, text.decode() if text else "verify error %d" % verify)
        if err == _SSL_ERROR_SYSCALL and not reason:
            reason = "unexpected end of data"
        raise DtlsError(step, reason or "SSL error %d" % err)

    def handshake(self):
        """Advance the handshake; True when done. DtlsError on failure (the fatal alert to
        the client is then waiting in output())."""
        L = lib()
        L.ERR_clear_error()
        r = L.SSL_do_handshake(self.ssl)
        if r == 1:
            return True
        self._fail(r, "handshake")
        return False

    def read(self):
        """The next decrypted record's payload, or None when nothing is buffered.
        DtlsError("closed", "close_notify") on the peer's close, another step otherwise."""
        L = lib()
        L.ERR_clear_error()
        r = L.SSL_read(self.ssl, self._buf, _READ_MAX)
        if r > 0:
            return self._buf.raw[:r]
        self._fail(r, "record")
        return None

    def write(self, data):
        """One application record (the encrypted record is then in output())."""
        L = lib()
        L.ERR_clear_error()
        r = L.SSL_write(self.ssl, data, len(data))
        if r <= 0:
            self._fail(r, "write")
            raise DtlsError("write", "record not written")

    def close(self):
        """Queue a close_notify (best effort)."""
        L = lib()
        L.ERR_clear_error()
        L.SSL_shutdown(self.ssl)
        L.ERR_clear_error()

    def timeout(self):
        """Seconds until the handshake retransmission timer fires, or None if it is not running."""
        tv = _Timeval()
        if lib().SSL_ctrl(self.ssl, _DTLS_CTRL_GET_TIMEOUT, 0, ctypes.byref(tv)):
            return tv.tv_sec + tv.tv_usec / 1e6
        return None

    def handle_timeout(self):
        """Retransmit the last flight if the timer expired (the flight is then in output())."""
        L = lib()
        L.ERR_clear_error()
        if L.SSL_ctrl(self.ssl, _DTLS_CTRL_HANDLE_TIMEOUT, 0, None) < 0:
            raise DtlsError("handshake", _errors() or "too many retransmissions")

    def peer(self):
        """(CN, one-line subject) of the verified client certificate, or (None, None)."""
        L = lib()
        x509 = L.SSL_get1_peer_certificate(self.ssl)
        if not x509:
            return None, None
        try:
            name = L.X509_get_subject_name(x509)
            buf = ctypes.create_string_buffer(_NAME_MAX)
            n = L.X509_NAME_get_text_by_NID(name, _NID_COMMON_NAME, buf, _NAME_MAX)
            cn = buf.value.decode("utf-8", "replace") if n >= 0 else None
            line = L.X509_NAME_oneline(name, buf, _NAME_MAX)
            return cn, (line.decode("utf-8", "replace") if line else None)
        finally:
            L.X509_free(x509)

    def cipher(self):
        """(OpenSSL name, IANA name) of the negotiated suite."""
        L = lib()
        c = L.SSL_get_current_cipher(self.ssl)
        if not c:
            return None, None
        std = L.SSL_CIPHER_standard_name(c)
        return L.SSL_CIPHER_get_name(c).decode(), (std.decode() if std else None)

    def free(self):
        if self.ssl:
            lib().SSL_free(self.ssl)
            self.ssl = None
