"""The firmware's DTLS transport (MicroPython, mbedTLS; tests/coap_dtls/coap_dtls_device.py as
the driver) through the gateway to a plain aiocoap server: the RFC 7925 suite offered alone,
requests both ways over the one session, and a new session after the gateway dropped it."""

import os

import pytest

import harness
from dtls_gateway_fixtures import CLIENT_CN, gateway

DEVICE_DIR = os.path.join(harness.ROOT, "tests", "coap_dtls")

pytestmark = pytest.mark.skipif(not os.path.exists(harness.MICROPYTHON),
                                reason="MicroPython not built (make mpy)")


class _Device:
    def __init__(self, processes, pki, port, *extra):
        self.proc = harness.start_micropython(
            "coap_dtls_device", ["127.0.0.1", port, pki.directory] + [str(a) for a in extra],
            heapsize="256K", name="dtls-device", extra_path=[DEVICE_DIR])
        processes.append(self.proc)
        self.proc.expect(r"^dev: ready$", timeout=15)

    def run(self, command, timeout=15):
        self.proc.send_line(command)
        return self.proc.expect(r"^dev: (?!ready|served)(.*)$", timeout=timeout).group(1)


def test_device_ccm8_requests_both_ways(processes, pki, backend):
    with gateway(pki, backend.port) as g:
        dev = _Device(processes, pki, g.port, "--ciphers", "TLS-ECDHE-ECDSA-WITH-AES-128-CCM-8")
        assert dev.run("connect") == "connected TLS-ECDHE-ECDSA-WITH-AES-128-CCM-8"
        assert dev.run("put /store 300") == "put /store 300 -> 2.04"
        assert backend.stored == bytes(i % 251 for i in range(300))
        got = dev.run("get /whoami")
        (sess,) = g.sessions()
        assert sess.cn == CLIENT_CN and sess.cipher == "ECDHE-ECDSA-AES128-CCM8"
        assert got.startswith("get /whoami -> 2.05 %d bytes" % len(str(sess.backend_port)))
        # The backend's own request to the source it saw reaches the device's handler.
        assert backend.request(sess.backend_port, "/dev/name") == ("2.05 Content", b"dtls-device")
        dev.proc.expect(r"^dev: served 0\.01 /dev/name$", timeout=5)


def test_device_rebuilds_its_session_after_the_gateway_dropped_it(processes, pki, backend):
    with gateway(pki, backend.port, idle_timeout=0.5) as g:
        dev = _Device(processes, pki, g.port, "--stale-ms", 1000)
        assert dev.run("put /store 10") == "put /store 10 -> 2.04"
        g.wait(lambda g_: g_.ended(), timeout=5)  # idle: close_notify to the device
        assert dev.run("get /store", timeout=30).startswith("get /store -> 2.05 10 bytes")
        assert g.ended()[0].reason == "idle for 0.5 s"
        assert g.stats()["handshakes"] == 2
