# DtlsClientTransport on MicroPython without a DTLS server: configuration errors name the
# step, the transport is bound to its one peer, datagrams are held (bounded) until a session
# exists, oversized ones are dropped without killing anything, and a silent peer ends the
# handshake after the configured attempts with a timeout error.
# mpy-heapsize: 256K
import socket

import asyncio
import tls

from coap.transport_dtls import STEP_SETUP, STEP_TIMEOUT, DtlsClientTransport, DtlsError, make_context


def _bare_context():
    # No CA: enough for everything that never completes a handshake.
    return tls.SSLContext(tls.PROTOCOL_DTLS_CLIENT)


def _silent_peer():
    """A bound UDP socket that never answers, and its port (the Unix port has no getsockname)."""
    import os

    for _ in range(20):
        port = 40000 + int.from_bytes(os.urandom(2), "big") % 20000
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(socket.getaddrinfo("127.0.0.1", port)[0][-1])
            return s, port
        except OSError:
            s.close()
    raise OSError("no free UDP port")


def test_setup_step_named_for_a_ca_that_is_not_a_certificate():
    try:
        make_context(b"\x30\x03\x02\x01\x00")
    except DtlsError as e:
        assert e.step == STEP_SETUP
        assert "DTLS setup failed" in str(e) and "CA 5 B" in str(e), str(e)
        return
    raise AssertionError("garbage CA accepted")


def test_resolve_accepts_only_the_configured_peer():
    t = DtlsClientTransport("127.0.0.1", 5684, server_hostname="lwm2m.test", context=_bare_context())
    assert t.resolve("127.0.0.1", 5684) == ("127.0.0.1", 5684)
    assert t.resolve("lwm2m.test", 5684) == ("127.0.0.1", 5684)
    for host, port in (("127.0.0.2", 5684), ("127.0.0.1", 5683)):
        try:
            t.resolve(host, port)
        except OSError as e:
            assert "bound to 127.0.0.1:5684" in str(e), str(e)
            continue
        raise AssertionError("resolved a foreign peer %s:%d" % (host, port))
    t.close()


def test_datagrams_before_the_session_are_held_up_to_four():
    t = DtlsClientTransport("127.0.0.1", 5684, context=_bare_context())
    for i in range(6):
        t.sendto(bytes([0x40, 1, 0, i]), t.remote)
    # Nobody drives the handshake here; the two oldest were pushed out of the bounded queue.
    assert [d[3] for d in t._pending] == [2, 3, 4, 5]
    assert t.stats["tx_dropped"] == 2 and not t.connected
    t.close()


def test_oversized_datagram_dropped_not_queued():
    t = DtlsClientTransport("127.0.0.1", 5684, context=_bare_context())
    t.sendto(bytes(t.max_datagram + 1), t.remote)
    assert t.stats["tx_dropped"] == 1 and len(t._pending) == 0
    t.close()


def test_send_after_close_raises():
    t = DtlsClientTransport("127.0.0.1", 5684, context=_bare_context())
    t.close()
    try:
        t.sendto(b"\x40\x01\x00\x01", t.remote)
    except OSError as e:
        assert "closed" in str(e)
        return
    raise AssertionError("sendto on a closed transport")


async def test_silent_peer_handshake_times_out_after_bounded_attempts():
    peer, port = _silent_peer()
    lines = []
    t = DtlsClientTransport("127.0.0.1", port, context=_bare_context(), handshake_timeout_ms=400,
                            handshake_attempts=2, log=lines.append)
    try:
        await t.connect()
    except DtlsError as e:
        assert e.step == STEP_TIMEOUT, e
        assert "DTLS handshake timed out with 127.0.0.1:%d" % port in str(e), str(e)
        assert t.last_error is e
    else:
        raise AssertionError("handshake with a silent peer succeeded")
    finally:
        t.close()
    peer.setblocking(False)
    first = peer.recv(2048)
    peer.close()
    assert first[0] == 22 and first[13] == 1, first[:14]  # DTLS handshake record, ClientHello
    assert [ln.split(":")[1].split()[-1] for ln in lines if "handshake attempt" in ln] == ["1/2", "2/2"], lines
    assert t.stats["handshake_failures"] == 1 and t.stats["handshakes"] == 0


async def test_waiters_share_one_handshake_and_its_error():
    peer, port = _silent_peer()
    t = DtlsClientTransport("127.0.0.1", port, context=_bare_context(), handshake_timeout_ms=300,
                            handshake_attempts=1)
    results = []

    async def one():
        try:
            await t.connect()
            results.append("up")
        except OSError as e:
            results.append(getattr(e, "step", repr(e)))

    await asyncio.gather(one(), one(), one())
    t.close()
    peer.close()
    assert results == [STEP_TIMEOUT] * 3, results
    assert t.stats["handshake_failures"] == 1  # one cycle, not three


def test_setup_refuses_a_context_without_ca():
    try:
        DtlsClientTransport("127.0.0.1", 5684)
    except DtlsError as e:
        assert e.step == STEP_SETUP and "no CA certificate" in str(e), str(e)
        return
    raise AssertionError("transport without a trust anchor")


def test_setup_step_named_for_an_unknown_cipher_suite():
    try:
        make_context(b"\x30\x03\x02\x01\x00", ciphers=["TLS-NOT-A-SUITE"])
    except DtlsError as e:
        assert e.step == STEP_SETUP and e.code < 0, (e.step, e.code)
        return
    raise AssertionError("unknown suite accepted")


class _FakeSession:
    """Stands in for the tls socket of an established session: takes records, returns none."""

    def __init__(self):
        self.sent = []
        self.closed = False

    def send(self, data):
        self.sent.append(bytes(data))
        return len(data)

    def recv(self, n):
        return None

    def close(self):
        self.closed = True


def _with_fake_session(stale_ms):
    t = DtlsClientTransport("127.0.0.1", 5684, context=_bare_context(), stale_ms=stale_ms)
    fake = _FakeSession()
    t._ssl, t._sock = fake, _FakeSession()
    return t, fake


def test_silence_after_con_drops_the_session_and_holds_the_retransmission():
    import time

    t, fake = _with_fake_session(50)
    con = bytes([0x40, 0x01, 0x12, 0x34])
    t.sendto(con, t.remote)
    time.sleep_ms(60)
    t.sendto(con, t.remote)  # the CoAP retransmission, still unanswered after stale_ms
    assert fake.sent == [con] and fake.closed and not t.connected
    assert t.stats["sessions_lost"] == 1 and list(t._pending) == [con]
    t.close()


def test_silence_after_non_keeps_the_session():
    import time

    t, fake = _with_fake_session(50)
    non = bytes([0x50, 0x45, 0x00, 0x01])  # NON 2.05: a notification nobody answers
    t.sendto(non, t.remote)
    time.sleep_ms(60)
    t.sendto(non, t.remote)
    assert len(fake.sent) == 2 and t.connected and t.stats["sessions_lost"] == 0
    t.close()
