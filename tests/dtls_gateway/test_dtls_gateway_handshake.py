"""The gateway's handshake stage seen from a hand-built DTLS 1.2 client that stops after the
cookie exchange: stateless HelloVerifyRequest, retransmitted flights, the handshake deadline,
the session cap, and handshake flights cut to the MTU."""

import os
import socket

import pytest

from dtls_gateway_fixtures import RawClient, gateway, handshake_types
from host_tools.dtls_gateway import DtlsError, Gateway


@pytest.fixture
def connect():
    """connect(gateway, random=None) -> a RawClient towards it, closed at teardown."""
    made = []

    def make(g, random=None):
        made.append(RawClient(g.port, random))
        return made[-1]
    yield make
    for c in made:
        c.close()


def test_cookie_exchange_keeps_no_state_then_handshake_deadline_ends_session(pki, backend,
                                                                             connect):
    with gateway(pki, backend.port, handshake_timeout=1.5) as g:
        c = connect(g)
        c.send_hello()
        assert handshake_types(c.recv()) == [3]  # HelloVerifyRequest
        assert g.sessions() == [] and g.stats()["hello_verify"] == 1
        c.send_hello(b"\x00" * 16, seq=1)  # a wrong cookie: another HelloVerifyRequest
        assert handshake_types(c.recv()) == [3]
        assert g.sessions() == []
        first = c.cookie_exchange()
        assert handshake_types(first)[0] == 2  # ServerHello
        (sess,) = g.sessions()
        assert sess.state == "handshake" and sess.client == ("127.0.0.1", c.port)
        # Silence: OpenSSL's timer resends the flight (1 s), then the deadline ends it.
        while True:
            try:
                again = c.recv(timeout=2.5)
            except socket.timeout:
                pytest.fail("no retransmitted flight")
            if handshake_types(again)[:1] == [2]:
                break
        (ended,) = g.wait(lambda g_: g_.ended(), timeout=3)
        assert ended.reason == "handshake failed: not finished within 1.5 s", ended
        assert g.sessions() == [] and backend.requests == []


def test_retransmitted_client_hello_does_not_restart_the_handshake(pki, backend, connect):
    with gateway(pki, backend.port) as g:
        c = connect(g)
        c.cookie_exchange()
        (sess,) = g.sessions()
        c.send_hello()  # the same random: a late copy of the first ClientHello
        g.wait(lambda g_: g_.stats()["datagrams_in"] == 3)
        assert g.stats()["hello_verify"] == 1  # not taken for a new association
        assert [s.started for s in g.sessions()] == [sess.started] and g.ended() == []
        other = connect(g, random=os.urandom(32))
        other.cookie_exchange()
        assert len(g.sessions()) == 2


def test_session_cap_drops_the_least_recently_heard(pki, backend, connect):
    clients = []
    with gateway(pki, backend.port, max_sessions=2) as g:
        for _ in range(3):
            clients.append(connect(g))
            clients[-1].cookie_exchange()
        assert sorted(s.client[1] for s in g.sessions()) == sorted(c.port for c in clients[1:])
        (gone,) = g.ended()
        assert gone.client[1] == clients[0].port and gone.reason.startswith("evicted: 2 sessions")
        assert g.stats()["evicted"] == 1


@pytest.mark.parametrize("mtu", [300, 600])
def test_server_flight_datagrams_fit_the_mtu(pki, backend, connect, mtu):
    with gateway(pki, backend.port, mtu=mtu) as g:
        c = connect(g)
        dgrams = [c.cookie_exchange()]
        seen = set(handshake_types(dgrams[0]))
        while 14 not in seen:  # up to ServerHelloDone
            dgrams.append(c.recv())
            seen.update(handshake_types(dgrams[-1]))
        assert max(len(d) for d in dgrams) <= mtu
        assert {2, 11, 12, 13, 14} <= seen  # ServerHello Certificate ServerKeyExchange
        # CertificateRequest ServerHelloDone


def test_unknown_peer_datagrams_are_dropped_without_answer(pki, backend, connect):
    with gateway(pki, backend.port) as g:
        c = connect(g)
        c.sock.sendto(b"\x17\xfe\xfd\x00\x01" + b"\x00" * 8 + b"garbage", c.dest)
        g.wait(lambda g_: g_.stats().get("dropped_unknown") == 1)
        with pytest.raises(socket.timeout):
            c.recv(timeout=0.3)
        assert g.sessions() == []


def test_bad_credentials_fail_at_start(pki, backend):
    gw = Gateway(pki.path("server.pem"), pki.path("client.key"), pki.path("ca.pem"),
                 ("127.0.0.1", backend.port))
    with pytest.raises(DtlsError) as exc:
        gw.start()
    assert exc.value.step == "setup" and "key" in exc.value.reason
    gw.stop()  # never started: nothing to do
