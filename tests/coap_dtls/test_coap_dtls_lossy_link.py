"""DTLS over a bad link: the handshake flights are retransmitted by mbedTLS's timer, which the
transport drives from its asyncio loop (RFC 6347 §4.2.4), and CoAP block-wise transfer runs on
top; datagrams are dropped, duplicated (DTLS replay detection) and reordered by the seeded
relay host_tools/lossy_relay.py."""

import pytest

import harness
from coap_dtls_fixtures import CoapServer, Device, make_pki, pattern_sha

BODY = 8192


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("dtls-pki-lossy"))


@pytest.mark.parametrize("seed", [7])
def test_dtls_handshake_and_blockwise_over_lossy_link(processes, pki, seed):
    srv = CoapServer(pki).start()
    try:
        listen = harness.free_port()
        relay = harness.start_python(
            "host_tools.lossy_relay",
            ["--listen", listen, "--target", "127.0.0.1:%d" % srv.dtls_port, "--seed", seed,
             "--drop", 0.1, "--dup", 0.1, "--reorder", 0.1, "--seconds", 150], name="relay")
        processes.append(relay)
        relay.expect(r"relay: listening on", timeout=20)
        # The relay forwards every client port from one socket, so a rebuilt session would look
        # like the old peer to libcoap, which ignores a second ClientHello from it: keep the
        # session (stale detection off) and let CoAP retransmit.
        dev = Device(processes, pki, listen, "--hs-timeout-ms", 30000, "--stale-ms", 0)
        assert dev.run("connect", timeout=90).startswith("connected TLS-ECDHE-ECDSA-")
        assert dev.run("put /lossy %d 1024" % BODY, timeout=120) == "put /lossy %d -> 2.01" % BODY
        got = dev.run("get /lossy 1024", timeout=120)
        assert got == "get /lossy -> 2.05 %d bytes sha %s" % (BODY, pattern_sha(BODY))
        st = dev.stats()
        assert st["handshakes"] == 1 and st["sessions_lost"] == 0, st
    finally:
        srv.stop()
