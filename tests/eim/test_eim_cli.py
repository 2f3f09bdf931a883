"""`python -m host_tools.eim`: serve (HTTPS, PKI from host_tools.pki) in its own process, the CLI
registering an EID in the shared SQLite file and queueing through the REST control plane, and an
IPA-side TLS client (verifying the server against the test CI) fetching the signed package."""

import binascii
import json
import os
import socket
import ssl
import subprocess
import sys

import harness
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from host_tools import pki as _pki
from host_tools.eim import codec

ICCID = "8900102000000000025"


def cli(*args):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([harness.ROOT, env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-m", "host_tools.eim"] + [str(a) for a in args],
                         capture_output=True, text=True, timeout=60, env=env, cwd=harness.ROOT)
    assert out.returncode == 0, out.stderr
    return out.stdout


def esipa_post(port, cafile, der):
    ctx = ssl.create_default_context(cafile=cafile)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(("POST /gsma/rsp2/asn1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       "Content-Type: application/x-gsma-rsp-asn1\r\n"
                       "X-Admin-Protocol: gsma/rsp/v1.2.0\r\nConnection: close\r\n"
                       "Content-Length: %d\r\n\r\n" % len(der)).encode() + der)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200"), head
    return body


def test_cli_serve_register_queue_and_fetch_signed_package(tmp_path, processes):
    pki_dir = str(tmp_path / "pki")
    pki = _pki.make(pki_dir)
    eid = _pki.DEFAULT_EID
    db = str(tmp_path / "eim.sqlite")
    port = harness.free_port(socket.SOCK_STREAM)
    server = harness.start_python("host_tools.eim", ["serve", "--port", port, "--pki", pki_dir,
                                                     "--db", db, "--eim-id", "test-eim"],
                                  name="eim")
    processes.append(server)
    server.expect(r"listening on https://127\.0\.0\.1:%d" % port, timeout=30)

    assert "with eUICC certificate" in cli("register", "--db", db, "--eid", eid, "--pki", pki_dir,
                                           "--token", 1, "--eim-id", "test-eim")
    out = cli("queue", "--url", "https://127.0.0.1:%d" % port, "--cafile", pki.tls_ca_path,
              "--eid", eid, "enable", "--iccid", ICCID, "--rollback")
    assert out.strip() == "queued package 1"

    body = esipa_post(port, pki.tls_ca_path, codec.encode("EsipaMessageFromIpaToEim", (
        "getEimPackageRequest", {"eidValue": binascii.unhexlify(eid)})))
    _, (kind, req) = codec.decode("EsipaMessageFromEimToIpa", body)
    assert kind == "euiccPackageRequest"
    signed = req["euiccPackageSigned"]
    assert signed["eimId"] == "test-eim" and signed["counterValue"] == 1
    assert signed["euiccPackage"][1][0][1]["rollbackFlag"] == 0
    sig = req["eimSignature"]
    pki.eim.cert.public_key().verify(
        encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")),
        codec.encode("EuiccPackageSigned", signed) + b"\x84\x01\x01", ec.ECDSA(hashes.SHA256()))

    audit = json.loads(cli("audit", "--db", db, "--eid", eid))
    assert [a["event"] for a in audit if a["package_id"] == 1] == ["queued", "delivered"]
