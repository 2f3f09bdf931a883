"""The DTLS gateway between libcoap's coap-client-openssl (certificate mode, client certificate
from the test CA) and a plain aiocoap server: requests, Observe notifications, refused clients,
several clients, restarts, idle sessions, and the command line."""

import re
import signal

import pytest

import harness
from dtls_gateway_fixtures import CLIENT_CN, coap_client, gateway, observer


@pytest.fixture
def gw(pki, backend):
    with gateway(pki, backend.port) as g:
        yield g


def _up(g, n=1):
    return lambda _: len([s for s in g.sessions() if s.state == "up"]) >= n


def test_get_and_put_reach_the_backend_over_one_session_per_request(pki, backend, gw):
    out, err = coap_client(pki, gw.port, "/whoami")
    assert out.isdigit(), err
    # The backend saw the gateway's per-session socket, and the client's CN was logged.
    ended = gw.wait(lambda g: g.ended())[-1]
    assert ended.reason == "close_notify" and ended.cn == CLIENT_CN, ended
    assert int(out) == ended.backend_port
    assert ended.cipher == "ECDHE-ECDSA-AES128-CCM8"  # server preference: RFC 7925 suite
    assert ended.cipher_iana == "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8"
    assert ended.to_backend == 1 and ended.to_device == 1
    assert any(("up: CN=%s cipher ECDHE-ECDSA-AES128-CCM8" % CLIENT_CN) in ln for ln in gw.lines)

    out, err = coap_client(pki, gw.port, "/store", "-m", "put", "-e", "via-dtls")
    assert backend.stored == b"via-dtls", (out, err)
    out, _ = coap_client(pki, gw.port, "/store")
    assert out == "via-dtls"
    assert [r[:2] for r in backend.requests] == [("GET", "/whoami"), ("PUT", "/store"),
                                                 ("GET", "/store")]
    gw.wait(lambda g: len(g.ended()) == 3 and not g.sessions())
    assert gw.stats()["handshakes"] == 3


def test_gcm_suite_accepted_too(pki, backend):
    with gateway(pki, backend.port, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256") as g:
        out, err = coap_client(pki, g.port, "/whoami")
        assert out.isdigit(), err
        assert g.wait(lambda g_: g_.ended())[-1].cipher == "ECDHE-ECDSA-AES128-GCM-SHA256"


def test_observe_notifications_from_the_backend_reach_the_client(processes, pki, backend, gw):
    obs = observer(processes, pki, gw.port, "/obs", 15)
    obs.expect(r"^v0$", timeout=10)
    gw.wait(_up(gw))
    for value in ("v1", "v2"):
        backend.notify(value.encode())
        obs.expect(r"^%s$" % value, timeout=5)
    (sess,) = gw.sessions()
    assert sess.to_device >= 3 and backend.sources("/obs") == {sess.backend_port}


def test_backend_request_to_the_device_goes_over_its_session(processes, pki, backend, gw):
    """What the LwM2M server does (Read/Write/Execute): it sends to the source it saw. libcoap's
    client answers 4.04 for a resource it does not have - the answer is the proof."""
    obs = observer(processes, pki, gw.port, "/obs", 15)
    obs.expect(r"^v0$", timeout=10)
    (sess,) = gw.wait(lambda g: [s for s in g.sessions() if s.state == "up"])
    code, _ = backend.request(sess.backend_port, "/3/0/0")
    assert code.startswith("4.04"), code
    assert gw.sessions()[0].to_backend >= 2


def test_client_without_certificate_gets_no_session(pki, backend, gw):
    coap_client(pki, gw.port, "/whoami", cert=None)
    ended = gw.wait(lambda g: g.ended())[-1]
    assert ended.reason == "handshake failed: peer did not return a certificate", ended
    assert ended.backend_port is None and backend.requests == []
    st = gw.stats()
    assert st.get("handshakes", 0) == 0 and st["handshake_failures"] == 1


def test_client_certificate_from_rogue_ca_gets_no_session(pki, backend, gw):
    coap_client(pki, gw.port, "/whoami", cert="rogue_client")
    ended = gw.wait(lambda g: g.ended())[-1]
    assert ended.reason.startswith("handshake failed: "), ended
    assert "certificate verify failed (certificate signature failure)" in ended.reason, ended
    assert ended.cn is None and backend.requests == []


def test_two_clients_at_once_have_two_backend_sources(processes, pki, backend, gw):
    a = observer(processes, pki, gw.port, "/obs", 15)
    b = observer(processes, pki, gw.port, "/obs", 15)
    a.expect(r"^v0$", timeout=10)
    b.expect(r"^v0$", timeout=10)
    sessions = gw.wait(lambda g: [s for s in g.sessions() if s.state == "up"][1:] and g.sessions())
    assert len({s.client for s in sessions}) == 2
    ports = {s.backend_port for s in sessions}
    assert len(ports) == 2 and backend.sources("/obs") == ports
    backend.notify(b"both")
    a.expect(r"^both$", timeout=5)
    b.expect(r"^both$", timeout=5)


def test_client_restarting_on_the_same_port_gets_a_fresh_session(processes, pki, backend, gw):
    """The device reboots without close_notify and comes back from the same address:port (as
    behind a NAT): its new ClientHello must not be fed to the dead session (RFC 6347 §4.2.8)."""
    port = harness.free_port()
    first = observer(processes, pki, gw.port, "/obs", 15, "-p", str(port))
    first.expect(r"^v0$", timeout=10)
    (old,) = gw.wait(lambda g: [s for s in g.sessions() if s.state == "up"])
    first.proc.send_signal(signal.SIGKILL)  # no close_notify
    first.proc.wait(5)
    assert gw.sessions()[0].state == "up"
    out, err = coap_client(pki, gw.port, "/whoami", "-p", str(port))
    assert out.isdigit() and int(out) != old.backend_port, (out, err)
    reasons = [e.reason for e in gw.wait(lambda g: g.ended()[1:] and g.ended())]
    assert reasons == ["replaced: new handshake from the same address", "close_notify"], reasons
    assert gw.sessions() == []


def test_client_restarting_on_a_new_port_works_and_the_old_session_idles_out(processes, pki,
                                                                              backend):
    with gateway(pki, backend.port, idle_timeout=1.0) as g:
        first = observer(processes, pki, g.port, "/obs", 15)
        first.expect(r"^v0$", timeout=10)
        g.wait(_up(g))
        first.proc.send_signal(signal.SIGKILL)
        out, err = coap_client(pki, g.port, "/whoami")
        assert out.isdigit(), err
        # The killed client's session is the only one left; nothing more is heard from it.
        (idle,) = g.wait(lambda g_: [e for e in g_.ended() if e.reason.startswith("idle")],
                         timeout=5)
        assert idle.reason == "idle for 1 s" and g.sessions() == []
        assert [ln for ln in g.lines if re.search(r"closed: idle for 1 s \(CN=%s" % CLIENT_CN, ln)]


def test_idle_session_gets_close_notify(processes, pki, backend):
    with gateway(pki, backend.port, idle_timeout=0.5) as g:
        obs = observer(processes, pki, g.port, "/obs", 15, "-v", "6")
        obs.expect(r"^v0$", timeout=10)
        g.wait(lambda g_: g_.ended(), timeout=5)
        assert g.ended()[-1].reason == "idle for 0.5 s" and g.sessions() == []
        obs.expect(r"alert read:warning:close notify", timeout=5)


def test_small_mtu_handshake_flights_are_fragmented_and_still_work(pki, backend):
    with gateway(pki, backend.port, mtu=400) as g:
        out, err = coap_client(pki, g.port, "/whoami")
        assert out.isdigit(), err


def test_command_line(processes, pki, backend):
    port = harness.free_port()
    cli = harness.start_python("host_tools.dtls_gateway", [
        "--listen", "127.0.0.1:%d" % port, "--backend", "127.0.0.1:%d" % backend.port,
        "--cert", pki.path("server.pem"), "--key", pki.path("server.key"),
        "--ca", pki.path("ca.pem"), "--max-seconds", "15"], name="dtls-gateway")
    processes.append(cli)
    cli.expect(r"^dtls-gateway: listening on 127\.0\.0\.1:%d " % port, timeout=10)
    out, err = coap_client(pki, port, "/whoami")
    assert out.isdigit(), err
    cli.expect(r"^dtls-gateway: session 127\.0\.0\.1:\d+ up: CN=%s cipher "
               r"ECDHE-ECDSA-AES128-CCM8, backend source port %s " % (CLIENT_CN, out), timeout=5)
    cli.expect(r"closed: close_notify", timeout=5)
    cli.proc.send_signal(signal.SIGTERM)
    assert cli.wait(10) == 0, cli.output()
    assert "stopped " in cli.output() and "handshakes=1" in cli.output()
