"""ipa.esipa_https on the MicroPython Unix port against a scripted HTTPS server (Python ssl,
certificate from tests/ipa_io/ipa_io_tls.py): the request bytes as the server receives them
(SGP.32 v1.2 §6.1 header fields), keep-alive and reconnect after the server's idle close,
chunked answers, a 64 KB body streamed with flat heap, and errors by kind and status."""

import hashlib
import os
import socket
import ssl
import threading

import pytest

import harness
import ipa_io_tls

APP = os.path.join(os.path.dirname(__file__), "ipa_io_httpsapp.py")
GET_EIM_PACKAGE = bytes.fromhex("bf4f12" + "5a10" + "89049032123451234512345678901041")
NO_PACKAGE = bytes.fromhex("bf4f03020101")
ASN1 = b"Content-Type: application/x-gsma-rsp-asn1\r\n"


def ok(body, extra=b""):
    return (b"HTTP/1.1 200 OK\r\n" + ASN1 + b"X-Admin-Protocol: gsma/rsp/v2.1.0\r\n" + extra
            + b"Content-Length: %d\r\n\r\n" % len(body) + body)


class ScriptedServer:
    """Answers request i with script[i] = (response bytes, close connection after it)."""

    def __init__(self, pki_dir, script):
        self.script = list(script)
        self.requests = []
        self.connections = 0
        self.released = threading.Event()
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(os.path.join(pki_dir, "eim_tls.pem"),
                                 os.path.join(pki_dir, "eim_tls.key"))
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(20)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.script:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            try:
                conn = self.ctx.wrap_socket(raw, server_side=True)
                conn.settimeout(10)
                self._connection(conn)
            except (OSError, ssl.SSLError):
                pass
            finally:
                raw.close()

    def _connection(self, conn):
        buf = b""
        while self.script:
            while b"\r\n\r\n" not in buf:
                data = conn.recv(4096)
                if not data:
                    return
                buf += data
            head, _, rest = buf.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(rest) < length:
                rest += conn.recv(4096)
            self.requests.append(head + b"\r\n\r\n" + rest[:length])
            buf = rest[length:]
            response, close = self.script.pop(0)
            conn.sendall(response)
            if close == "hold":
                self.released.wait(15)    # keep the connection open, silent
                return
            if close:
                conn.close()
                return

    def stop(self):
        self.script = []
        self.released.set()
        self.sock.close()
        self.thread.join(5)


@pytest.fixture
def tls_dir(tmp_path):
    d = str(tmp_path / "tls")
    der = ipa_io_tls.make(d)
    with open(os.path.join(d, "root.der"), "wb") as f:
        f.write(der)
    return d


def run(tls_dir, server, ops, processes):
    dev = harness.start_micropython(APP, ["https://127.0.0.1:%d" % server.port,
                                          os.path.join(tls_dir, "root.der")] + ops,
                                    module=False, name="https-app",
                                    extra_path=[os.path.dirname(APP)])
    processes.append(dev)
    dev.expect(r"^STATS ", 30)
    return [line for line in dev.lines if line.split(" ")[0] in
            ("OK", "ERR", "STREAM", "CLOSED", "STATS")]


def test_sgp32_6_1_request_on_the_wire_and_keep_alive(tls_dir, processes):
    srv = ScriptedServer(tls_dir, [(ok(NO_PACKAGE), False), (ok(NO_PACKAGE), False)])
    try:
        out = run(tls_dir, srv, ["x" + GET_EIM_PACKAGE.hex()] * 2, processes)
    finally:
        srv.stop()
    assert out[:2] == ["OK " + NO_PACKAGE.hex()] * 2
    assert srv.connections == 1 and '"connects": 1' in out[2] and '"requests": 2' in out[2]
    port = srv.port
    assert srv.requests[0] == (
        b"POST /gsma/rsp2/asn1 HTTP/1.1\r\n"
        b"Host: 127.0.0.1:%d\r\n"
        b"User-Agent: gsma-rsp-ipad\r\n"
        b"X-Admin-Protocol: gsma/rsp/v2.1.0\r\n"
        b"Content-Type: application/x-gsma-rsp-asn1\r\n"
        b"Content-Length: 21\r\n"
        b"Connection: keep-alive\r\n\r\n" % port + GET_EIM_PACKAGE)


def test_reconnect_once_after_the_server_closed_an_idle_connection(tls_dir, processes):
    # the first answer says nothing about closing, yet the server drops the connection
    srv = ScriptedServer(tls_dir, [(ok(NO_PACKAGE), True), (ok(NO_PACKAGE), False)])
    try:
        out = run(tls_dir, srv, ["x" + GET_EIM_PACKAGE.hex()] * 2, processes)
    finally:
        srv.stop()
    assert out[:2] == ["OK " + NO_PACKAGE.hex()] * 2
    assert srv.connections == 2 and len(srv.requests) == 2


def test_connection_close_answer_and_204(tls_dir, processes):
    srv = ScriptedServer(tls_dir, [
        (b"HTTP/1.1 204 No Content\r\nX-Admin-Protocol: gsma/rsp/v2.1.0\r\n\r\n", False),
        (ok(NO_PACKAGE, b"Connection: close\r\n"), True),
        (ok(NO_PACKAGE), False)])
    try:
        out = run(tls_dir, srv, ["xbf3d00", "x" + GET_EIM_PACKAGE.hex(),
                                 "x" + GET_EIM_PACKAGE.hex()], processes)
    finally:
        srv.stop()
    assert out[:3] == ["OK ", "OK " + NO_PACKAGE.hex(), "OK " + NO_PACKAGE.hex()]
    assert srv.connections == 2


def test_chunked_64k_body_streams_with_flat_heap(tls_dir, processes):
    body = bytes((i * 31 + (i >> 8)) & 0xFF for i in range(65536))
    chunks = b"".join(b"%x\r\n" % len(body[i:i + 1500]) + body[i:i + 1500] + b"\r\n"
                      for i in range(0, len(body), 1500)) + b"0\r\n\r\n"
    resp = b"HTTP/1.1 200 OK\r\n" + ASN1 + b"Transfer-Encoding: chunked\r\n\r\n" + chunks
    srv = ScriptedServer(tls_dir, [(resp, False), (ok(NO_PACKAGE), False)])
    try:
        out = run(tls_dir, srv, ["sbf3a00", "x" + GET_EIM_PACKAGE.hex()], processes)
    finally:
        srv.stop()
    kind, n, digest, peak = out[0].split(" ")
    assert kind == "STREAM" and int(n) == 65536
    assert digest == hashlib.sha256(body).hexdigest()
    assert int(peak) < 4096, peak      # retained growth: nothing accumulates per chunk
    assert out[1] == "OK " + NO_PACKAGE.hex() and srv.connections == 1


def test_http_error_status_and_wrong_content_type_are_reported(tls_dir, processes):
    srv = ScriptedServer(tls_dir, [
        (b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", False),
        (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nhi", False),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 9x\r\n\r\n", False)])
    try:
        out = run(tls_dir, srv, ["x" + GET_EIM_PACKAGE.hex()] * 3, processes)
    finally:
        srv.stop()
    assert out[0] == "ERR http 500 Internal Server Error"
    assert out[1].startswith("ERR protocol 200 content-type 'text/html'")
    assert out[2].startswith("ERR protocol 200 HTTP content-length:")


def test_answer_that_never_comes_is_a_timeout(tls_dir, processes):
    srv = ScriptedServer(tls_dir, [(b"HTTP/1.1 200 OK\r\n", "hold")])   # head never finished
    try:
        out = run(tls_dir, srv, ["x" + GET_EIM_PACKAGE.hex()], processes)
    finally:
        srv.stop()
    assert out[0].startswith("ERR timeout None read after 3000 ms")
