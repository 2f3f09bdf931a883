"""The server's own requests travel back over the session the device set up (LwM2M: the
device is the DTLS client, the server reads/writes its resources over that session;
RFC 7252 §9.1, OMA LwM2M 1.1 Transport §5.2). The server peer is OpenSSL through pyOpenSSL
(Debian python3-openssl, the system interpreter): libcoap's coap-server never sends requests."""

import os
import time

import harness
from coap_dtls_fixtures import HERE, Device, make_pki

SYSTEM_PYTHON = "/usr/bin/python3"


def test_dtls_server_request_reaches_device_over_client_session(processes, tmp_path):
    pki = make_pki(tmp_path / "pki")
    port = harness.free_port()
    peer = harness.DeviceProcess(
        [SYSTEM_PYTHON, "-u", os.path.join(HERE, "coap_dtls_openssl_peer.py"), str(port),
         pki.directory], name="openssl-peer")
    processes.append(peer)
    peer.expect(r"^peer: listening on", timeout=10)
    dev = Device(processes, pki, port)
    assert dev.run("connect").startswith("connected TLS-ECDHE-ECDSA-")
    peer.expect(r"^peer: session up with 127\.0\.0\.1:\d+ ECDHE-ECDSA-", timeout=10)
    got = dev.run("get /time", result=r"^dev: get ")
    assert got == "get /time -> 2.05 14 bytes sha %s" % _sha(b"peer saw /time")
    # The peer asks GET /dev/name right after answering; the device's handler serves it.
    peer.expect(r"^peer: client answered 2\.05 dtls-device$", timeout=15)
    deadline = time.monotonic() + 5  # the device's line may still be in the pipe
    while "dev: served 0.01 /dev/name" not in dev.proc.lines and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "dev: served 0.01 /dev/name" in dev.proc.lines
    assert dev.stats()["handshakes"] == 1


def _sha(body):
    import hashlib

    return hashlib.sha256(body).hexdigest()[:16]
