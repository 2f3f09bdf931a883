"""The host LwM2M server behind the gateway: a coaps:// Register from libcoap's client reaches it
from the session's own source port, and the server's Read goes back over that session. Also the
gateway on IPv6 loopback."""

import asyncio

from dtls_gateway_fixtures import CLIENT_CN, client_argv, coap_client, gateway
import harness
from host_tools.lwm2m_server import LwM2MServer


def test_lwm2m_register_and_read_over_the_gateway(processes, pki):
    async def scenario():
        server = await LwM2MServer.start(host="127.0.0.1", port=0, timeout=5)
        try:
            with gateway(pki, server.port) as g:
                # -G 4: the Register is repeated for ~4 s, so the client is still there to be read.
                dev = harness.DeviceProcess(client_argv(
                    pki, g.port, "/rd?ep=gw-ep&lt=60&lwm2m=1.1", "-m", "post", "-t", "40",
                    "-e", "</1/0>,</3/0>", "-G", "4"), name="coap-client")
                processes.append(dev)
                reg = await server.wait_registered("gw-ep", timeout=10)
                (sess,) = [s for s in g.sessions() if s.state == "up"]
                assert sess.cn == CLIENT_CN
                assert reg.remote_uri.endswith(":%d" % sess.backend_port), reg.remote_uri
                res = await server.read("gw-ep", "/3/0")
                assert res.code == "4.04"  # libcoap's client has no /3/0: its answer is the proof
                assert g.sessions()[0].to_backend >= 2
        finally:
            await server.stop()

    asyncio.run(asyncio.wait_for(scenario(), 20))


def test_gateway_on_ipv6_loopback(pki, backend):
    with gateway(pki, backend.port, listen=("::1", 0)) as g:
        assert g.address[0] == "::1"
        out, err = coap_client(pki, g.port, "/whoami", host="[::1]")
        assert out.isdigit(), err
        (ended,) = g.wait(lambda g_: g_.ended())
        assert ended.client[0] == "::1" and ended.backend_port == int(out)
