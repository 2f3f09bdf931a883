"""ESipa HTTPS ASN.1 binding (SGP.32 6.1) end to end over loopback TLS, with a client written on
Python's ssl + socket (not the server's parser): headers, content type, keep-alive, error codes,
and the JSON control plane."""

import asyncio
import binascii
import json
import os
import socket
import ssl
import tempfile
import threading

import pytest
from cryptography.hazmat.primitives import serialization

from eim_fake_euicc import FakeEuicc, make_key_and_cert
from host_tools.eim import codec, core, crypto
from host_tools.eim.http_server import EsipaHttpServer

EID = "89049032123451234512345678901235"
EIM_ID = "eim.test.invalid"
ASN1 = "application/x-gsma-rsp-asn1"


class _ServerThread:
    """The asyncio server on its own loop thread, so the test can use blocking sockets."""

    def __init__(self, eim, tls_dir):
        key, cert_der = make_key_and_cert("127.0.0.1")
        self.cert_path = os.path.join(tls_dir, "tls.pem")
        key_path = os.path.join(tls_dir, "tls.key")
        with open(self.cert_path, "wb") as f:
            f.write(b"-----BEGIN CERTIFICATE-----\n" + binascii.b2a_base64(cert_der)
                    + b"-----END CERTIFICATE-----\n")
        with open(key_path, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_path, key_path)
        self.loop = asyncio.new_event_loop()
        self.server = EsipaHttpServer(eim, "127.0.0.1", 0, ctx)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)

    def stop(self):
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class Client:
    """Minimal HTTP/1.1 over TLS: one persistent connection, Content-Length framing only."""

    def __init__(self, port, cafile):
        ctx = ssl.create_default_context(cafile=cafile)
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        self.buf = b""

    def close(self):
        self.sock.close()

    def request(self, method, path, body=b"", headers=None):
        hdrs = {"Host": "127.0.0.1", "Content-Length": str(len(body))}
        hdrs.update(headers or {})
        head = "%s %s HTTP/1.1\r\n%s\r\n" % (method, path, "".join(
            "%s: %s\r\n" % kv for kv in hdrs.items()))
        self.sock.sendall(head.encode() + body)
        return self.read_response()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed")
        self.buf += chunk

    def read_response(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("iso-8859-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body


@pytest.fixture
def setup():
    key = crypto.generate_key()
    eim = core.EimCore(EIM_ID, key)
    card = FakeEuicc(EID, EIM_ID, key.public_key())
    eim.register_euicc(EID, euicc_cert=card.cert_der)
    with tempfile.TemporaryDirectory() as d:
        srv = _ServerThread(eim, d)
        client = Client(srv.server.port, srv.cert_path)
        try:
            yield eim, card, srv, client
        finally:
            client.close()
            srv.stop()


def esipa(client, der, content_type=ASN1, admin="gsma/rsp/v1.2.0"):
    headers = {"Content-Type": content_type}
    if admin is not None:
        headers["X-Admin-Protocol"] = admin
    return client.request("POST", "/gsma/rsp2/asn1", der, headers)


def get_request():
    return codec.encode("EsipaMessageFromIpaToEim",
                        ("getEimPackageRequest", {"eidValue": binascii.unhexlify(EID)}))


def test_esipa_https_get_eim_package_headers_and_keep_alive(setup):
    eim, _, srv, client = setup
    for _ in range(3):  # three exchanges on one TLS connection
        status, headers, body = esipa(client, get_request())
        assert status == 200
        assert headers["content-type"] == ASN1
        assert headers["x-admin-protocol"] == "gsma/rsp/v1.2.0"
        assert headers["connection"] == "keep-alive"
        assert codec.decode("EsipaMessageFromEimToIpa", body) == (
            "getEimPackageResponse", ("eimPackageError", core.NO_EIM_PACKAGE_AVAILABLE))
    assert srv.server.requests == 3


def test_esipa_https_wrong_content_type_is_400(setup):
    _, _, _, client = setup
    status, _, body = esipa(client, get_request(), content_type="application/json")
    assert status == 400 and b"Content-Type" in body


def test_esipa_https_missing_admin_protocol_is_400(setup):
    _, _, _, client = setup
    status, _, body = esipa(client, get_request(), admin=None)
    assert status == 400 and b"X-Admin-Protocol" in body
    status, _, _ = esipa(client, get_request(), admin="gsma/rsp/vX")
    assert status == 400


def test_esipa_https_garbled_asn1_gets_error_response_not_crash(setup):
    _, _, _, client = setup
    # known tag, broken inside: an ASN.1 error response
    status, _, body = esipa(client, bytes.fromhex("bf4f0a5a08ffff"))
    assert status == 200
    assert codec.decode("EsipaMessageFromEimToIpa", body) == (
        "getEimPackageResponse", ("eimPackageError", core.UNDEFINED_ERROR))
    # not an ESipa message at all: 400, and the connection still serves the next request
    status, _, _ = esipa(client, b"\x01\x02garbage")
    assert status == 400
    status, _, body = esipa(client, get_request())
    assert status == 200


def test_esipa_https_package_result_flow_acknowledged(setup):
    eim, card, _, client = setup
    status, _, body = client.request("POST", "/api/eids/%s/packages" % EID,
                                     json.dumps({"psmo": [{"op": "enable",
                                                           "iccid": "8944123456789012345"}]}).encode(),
                                     {"Content-Type": "application/json"})
    assert status == 201 and json.loads(body)["id"] == 1
    status, _, body = esipa(client, get_request())
    alt, (kind, req) = codec.decode("EsipaMessageFromEimToIpa", body)
    assert kind == "euiccPackageRequest"
    result = card.load_package(codec.encode("EuiccPackageRequest", req))
    # the IPA may leave eidValue out: the connection remembers the EID it asked for
    provide = codec.encode("EsipaMessageFromIpaToEim", ("provideEimPackageResult", {
        "eimPackageResult": ("euiccPackageResult", codec.decode("EuiccPackageResult", result))}))
    status, _, body = esipa(client, provide)
    assert status == 200
    assert codec.decode("EsipaMessageFromEimToIpa", body) == (
        "provideEimPackageResultResponse", ("eimAcknowledgements", [1]))
    status, _, body = client.request("GET", "/api/eids/%s/audit" % EID)
    events = [a["event"] for a in json.loads(body) if a["package_id"] == 1]
    assert events == ["queued", "delivered", "result", "acknowledged"]


def test_esipa_https_handle_notification_is_204(setup):
    _, _, _, client = setup
    note = codec.encode("EsipaMessageFromIpaToEim", ("handleNotificationEsipa", (
        "pendingNotification", ("compactOtherSignedNotification", {
            "eidValue": binascii.unhexlify(EID),
            "tbsOtherNotification": {"seqNumber": 9, "profileManagementOperation": (0b0010, 4),
                                     "notificationAddress": "smdp.example"},
            "euiccNotificationSignature": bytes(64)}))))
    status, headers, body = esipa(client, note)
    assert status == 204 and body == b""


def test_rest_bad_package_spec_names_field(setup):
    _, _, _, client = setup
    status, _, body = client.request("POST", "/api/eids/%s/packages" % EID,
                                     json.dumps({"psmo": [{"op": "enable"}]}).encode())
    assert status == 400 and json.loads(body)["field"] == "psmo[0].iccid"
    status, _, _ = client.request("GET", "/nowhere")
    assert status == 404


def test_connection_close_is_honoured(setup):
    _, _, _, client = setup
    status, headers, _ = client.request("GET", "/api/eids/%s/packages" % EID,
                                        headers={"Connection": "close"})
    assert status == 200 and headers["connection"] == "close"
    with pytest.raises((ConnectionError, ssl.SSLError, OSError)):
        client.request("GET", "/api/eids/%s/packages" % EID)
