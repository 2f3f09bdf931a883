"""The firmware LwM2M client over coaps:// in certificate mode (Security mode 2; LwM2M 1.1
Transport §5.2.8, RFC 7925): the Unix-port client's DTLS sessions end at the host DTLS gateway
(OpenSSL), which hands plain CoAP to the host LwM2M or bootstrap server. Registration, Read and
Observe/Notify run over the session; a server certificate that does not verify gives no
registration and a log line naming the step; a bootstrap over coaps provisions a coaps server
account with its certificates and the client registers there."""

import asyncio

from host_tools import dtls_pki
from host_tools.dtls_gateway import Gateway
from host_tools.lwm2m_server import BootstrapServer, LwM2MServer, security_instance, server_instance
from lwm2m_client_itest import async_test, expect, start_client

_CCM8 = "ECDHE-ECDSA-AES128-CCM8"


def _pki(tmp_path):
    return dtls_pki.make(str(tmp_path / "pki"))


def _gateway(pki, backend_port):
    return Gateway(cert=pki.path("server.pem"), key=pki.path("server.key"), ca=pki.path("ca.pem"),
                   backend=("127.0.0.1", backend_port))


def _device(processes, pki, ep, uri, server_cert, usage=None, bootstrap=False):
    extra = ["--bootstrap" if bootstrap else "--server", uri,
             "--cert", pki.path("client.der"), "--key", pki.path("client.key.der"),
             "--server-cert", pki.path(server_cert),
             # mbedTLS 2.28 checks the name against CN and DNS SANs only, not an IP literal
             "--sni", "localhost"]
    if usage is not None:
        extra += ["--cert-usage", usage]
    return start_client(processes, ep, extra=extra)


async def _up_sessions(gw):
    await asyncio.to_thread(gw.wait, lambda g: any(s.state == "up" for s in g.sessions()), 10)
    return [s for s in gw.sessions() if s.state == "up"]


@async_test
async def test_register_read_observe_over_dtls_with_ca_constraint(processes, tmp_path):
    """Certificate Usage 0: the gateway's chain verifies against the CA in /0/x/4; the client
    presents its own certificate, the RFC 7925 suite is chosen, and DM traffic runs over it."""
    pki = _pki(tmp_path)
    server = await LwM2MServer.start(host="127.0.0.1", port=0, timeout=15.0)
    try:
        with _gateway(pki, server.port) as gw:
            dev = _device(processes, pki, "dtls1", "coaps://127.0.0.1:%d" % gw.port, "ca.der", 0)
            reg = await server.wait_registered("dtls1", 30)
            await expect(dev, r"lwm2m registered /rd/")
            (s,) = await _up_sessions(gw)
            assert s.cn == dtls_pki.CLIENT_CN and s.cipher == _CCM8, s
            # the server sees the gateway's per-device socket as the device's address
            assert reg.remote_uri.endswith(":%d" % s.backend_port), (reg.remote_uri, s)
            res = await server.read("dtls1", "/3/0", accept=112)
            assert res.code == "2.05" and res.values["/3/0/0"] == "cellfw"
            obs = server.observe("dtls1", "/4/0/2")
            await obs.established()
            await obs.next(5)
            dev.send_line("set /4/0/2 -71")
            assert (await obs.next(10)).values == {"/4/0/2": -71}
            dev.send_line("deregister")
            await expect(dev, r"lwm2m deregistered")
    finally:
        await server.stop()


@async_test
async def test_pinned_server_certificate_usage_3_registers(processes, tmp_path):
    """Certificate Usage 3 (the default when /0/x/15 is absent): /0/x/4 holds the server's own
    certificate and nothing else is trusted."""
    pki = _pki(tmp_path)
    server = await LwM2MServer.start(host="127.0.0.1", port=0, timeout=15.0)
    try:
        with _gateway(pki, server.port) as gw:
            dev = _device(processes, pki, "dtls3", "coaps://127.0.0.1:%d" % gw.port, "server.der")
            await server.wait_registered("dtls3", 30)
            await expect(dev, r"dtls: session up with 127\.0\.0\.1")
    finally:
        await server.stop()


@async_test
async def test_server_certificate_from_another_ca_gives_no_registration(processes, tmp_path):
    """/0/x/4 holds a CA that did not sign the gateway's certificate: the handshake stops at
    verification, the client says so, and nothing reaches the LwM2M server."""
    pki = _pki(tmp_path)
    server = await LwM2MServer.start(host="127.0.0.1", port=0, timeout=15.0)
    try:
        with _gateway(pki, server.port) as gw:
            dev = _device(processes, pki, "dtlsx", "coaps://127.0.0.1:%d" % gw.port,
                          "rogue_ca.der", 0)
            await expect(dev, r"DTLS verify failed", timeout=30)
            await asyncio.sleep(1.0)
            assert "dtlsx" not in [r.endpoint for r in server.registrations()]
            assert not [s for s in gw.sessions() if s.state == "up"]
    finally:
        await server.stop()


@async_test
async def test_bootstrap_leaving_only_a_psk_account_is_refused_at_finish(processes, tmp_path):
    """A bootstrap (over coaps) that provisions only a PSK (mode 0) server account: MicroPython's
    tls has no PSK, so no usable account would be left; Bootstrap-Finish answers 4.06 and the
    client keeps the configuration it had (§5.2.7.6), never trying the account in the clear."""
    pki = _pki(tmp_path)
    bs = await BootstrapServer.start(host="127.0.0.1", port=0, timeout=10.0)
    try:
        with _gateway(pki, bs.port) as gw_bs:
            bs.set_config("dtlspsk", {
                "/0/0": security_instance("coaps://127.0.0.1:%d" % gw_bs.port, bootstrap=True,
                                          hold_off=0),
                "/0/1": security_instance("coaps://127.0.0.1:9", short_id=7, mode=0,
                                          identity=b"psk-id", secret=b"\x01" * 16),
                "/1/0": server_instance(7, 60)})
            dev = _device(processes, pki, "dtlspsk", "coaps://127.0.0.1:%d" % gw_bs.port,
                          "ca.der", 0, bootstrap=True)
            run = await bs.wait_finished("dtlspsk", 1, 30)
            assert run["result"] == "finish-failed" and run["detail"]["finish"] == "4.06", run
            await expect(dev, r"lwm2m bootstrap-rejected no usable server account")
            assert "registered" not in dev.output()
    finally:
        await bs.stop()


@async_test
async def test_bootstrap_over_dtls_provisions_a_dtls_server_account(processes, tmp_path):
    """Client-initiated bootstrap over coaps; the bootstrap server writes a certificate-mode
    Security instance (own certificate, key, CA, Certificate Usage 0) for a coaps server; after
    Bootstrap-Finish the bootstrap session is closed and the client registers over a new one."""
    pki = _pki(tmp_path)
    server = await LwM2MServer.start(host="127.0.0.1", port=0, timeout=15.0)
    bs = await BootstrapServer.start(host="127.0.0.1", port=0, timeout=10.0)
    try:
        with _gateway(pki, server.port) as gw_dm, _gateway(pki, bs.port) as gw_bs:
            dm_account = security_instance(
                "coaps://127.0.0.1:%d" % gw_dm.port, short_id=55, mode=2,
                identity=pki.read("client.der"), secret=pki.read("client.key.der"),
                server_key=pki.read("ca.der"))
            dm_account[15] = 0
            dm_account[14] = "localhost"
            bs.set_config("dtlsbs", {
                "/0/0": security_instance("coaps://127.0.0.1:%d" % gw_bs.port, bootstrap=True,
                                          hold_off=0),
                "/0/1": dm_account,
                "/1/0": server_instance(55, 60)})
            dev = _device(processes, pki, "dtlsbs", "coaps://127.0.0.1:%d" % gw_bs.port,
                          "ca.der", 0, bootstrap=True)
            run = await bs.wait_finished("dtlsbs", 1, 30)
            assert run["result"] == "finished", run
            await server.wait_registered("dtlsbs", 30)
            await expect(dev, r"lwm2m registered /rd/")
            (s,) = await _up_sessions(gw_dm)
            assert s.cn == dtls_pki.CLIENT_CN
            res = await server.read("dtlsbs", "/1/0/0")
            assert res.values == {"/1/0/0": 55}
    finally:
        await server.stop()
        await bs.stop()
