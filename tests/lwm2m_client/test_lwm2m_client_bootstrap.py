"""Bootstrap interface (OMA-TS-LightweightM2M_Core-V1_1 §5.2, §6.1) end to end: the firmware client
on the Unix port against the host bootstrap server and LwM2M server."""

from host_tools.lwm2m_server import (
    BootstrapServer, LwM2MServer, security_instance, server_instance, simple_config)
from lwm2m_client_itest import async_test, expect, registered, start_client


def _uri(port):
    return "coap://127.0.0.1:%d" % port


async def _servers(configs, **bs_kw):
    server = await LwM2MServer.start(host="127.0.0.1", port=0, timeout=15.0)
    bs = await BootstrapServer.start(host="127.0.0.1", port=0, timeout=10.0, **bs_kw)
    for ep, make in configs.items():
        bs.set_config(ep, make(server.port, bs.port))
    return server, bs


async def _stop(*servers):
    for s in servers:
        await s.stop()


@async_test
async def test_LightweightM2M_1_1_int_201_client_initiated_bootstrap(processes):
    """Bootstrap-Request, then Discover/Delete/Write/Read from the server, Finish 2.04, and the
    client registers with the server account it was given."""
    server, bs = await _servers({"bs201": lambda sp, bp: simple_config(_uri(sp), lifetime=45,
                                                                       bootstrap_uri=_uri(bp))})
    try:
        dev = start_client(processes, "bs201", bootstrap_port=bs.port)
        run = await bs.wait_finished("bs201", 1, 20)
        assert run["result"] == "finished", run
        ops = [(s["op"], s["code"]) for s in run["detail"]["steps"]]
        assert ops[0] == ("discover", "2.05") and ("delete", "2.02") in ops
        assert ops[-2:] == [("read", "2.05"), ("finish", "2.04")], ops
        discovered = run["detail"]["discover"]
        assert any(p.startswith("/0/") for p in discovered), discovered
        reg = await server.wait_registered("bs201", 20)
        assert reg.lifetime == 45
        await expect(dev, r"lwm2m bootstrap-finished 1 server account")
    finally:
        await _stop(server, bs)


@async_test
async def test_LightweightM2M_1_1_int_204_bootstrap_without_server_account_is_rejected(processes):
    """A bootstrap that leaves no usable LwM2M server account (a Security instance with no
    matching Server instance): Bootstrap-Finish answers 4.06 and the old configuration stays --
    the client goes back to the server it had."""
    def bad(sp, bp):
        return {"/0/1": security_instance(_uri(sp), short_id=202)}  # no /1 instance for ssid 202

    server, bs = await _servers({"bs204": bad})
    try:
        dev = start_client(processes, "bs204", server_port=server.port, bootstrap_port=bs.port,
                           lifetime=50)
        await server.wait_registered("bs204", 20)
        assert (await server.request_bootstrap("bs204")).code == "2.04"  # /1/0/9
        run = await bs.wait_finished("bs204", 1, 20)
        assert run["result"] == "finish-failed" and run["detail"]["finish"] == "4.06", run
        await expect(dev, r"lwm2m bootstrap-rollback")
        await expect(dev, r"lwm2m registered /rd/")
        res = await server.read("bs204", "/1/0/0")
        assert res.code == "2.05" and res.values == {"/1/0/0": 101}  # the old account, unchanged
        res = await server.read("bs204", "/1/0/1")
        assert res.values == {"/1/0/1": 50}
    finally:
        await _stop(server, bs)


@async_test
async def test_LightweightM2M_1_1_int_205_server_initiated_bootstrap_moves_to_new_server(processes):
    """Execute /1/0/9 (Bootstrap-Request Trigger) on server A: the client bootstraps and
    registers with server B from the new configuration."""
    server_b = await LwM2MServer.start(host="127.0.0.1", port=0, timeout=15.0)
    server_a, bs = await _servers({"bs205": lambda sp, bp: simple_config(
        _uri(server_b.port), short_id=7, lifetime=40, bootstrap_uri=_uri(bp))})
    try:
        start_client(processes, "bs205", server_port=server_a.port, bootstrap_port=bs.port)
        await server_a.wait_registered("bs205", 20)
        assert (await server_a.request_bootstrap("bs205")).code == "2.04"
        run = await bs.wait_finished("bs205", 1, 20)
        assert run["result"] == "finished", run
        reg = await server_b.wait_registered("bs205", 20)
        assert reg.lifetime == 40
        res = await server_b.read("bs205", "/1/0/0")
        assert res.values == {"/1/0/0": 7}
    finally:
        await _stop(server_a, server_b, bs)


@async_test
async def test_bootstrapped_config_persists_across_restart(processes, tmp_path):
    """The configuration committed by Bootstrap-Finish is stored atomically: a restarted client
    registers straight away without asking the bootstrap server again."""
    server, bs = await _servers({"bsp": lambda sp, bp: simple_config(_uri(sp), bootstrap_uri=_uri(bp))})
    try:
        state = ["--state", str(tmp_path / "st")]
        dev = start_client(processes, "bsp", bootstrap_port=bs.port, extra=state)
        await server.wait_registered("bsp", 20)
        await expect(dev, r"lwm2m registered")
        dev.stop()
        dev2 = start_client(processes, "bsp", bootstrap_port=bs.port, extra=state)
        await expect(dev2, r"lwm2m config-loaded 1 server account")
        await expect(dev2, r"lwm2m (registered|updated)")
        assert len(bs.results("bsp")) == 1
    finally:
        await _stop(server, bs)


@async_test
async def test_two_server_accounts_register_independently(processes):
    """A bootstrap configuration with two LwM2M server accounts: the client registers with both,
    and each server manages it on its own (write-attributes and observations are per server)."""
    server_b = await LwM2MServer.start(host="127.0.0.1", port=0, timeout=15.0)

    def two(sp, bp):
        cfg = simple_config(_uri(sp), short_id=101, lifetime=60, bootstrap_uri=_uri(bp))
        cfg["/0/2"] = security_instance(_uri(server_b.port), short_id=102)
        cfg["/1/1"] = server_instance(102, lifetime=70)
        return cfg

    server_a, bs = await _servers({"two": two})
    try:
        start_client(processes, "two", bootstrap_port=bs.port)
        reg_a = await server_a.wait_registered("two", 20)
        reg_b = await server_b.wait_registered("two", 20)
        assert (reg_a.lifetime, reg_b.lifetime) == (60, 70)
        assert (await server_a.write_attributes("two", "/4/0/2", pmax=5)).code == "2.04"
        res = await server_b.discover("two", "/4/0/2")
        assert "pmax" not in res.values["/4/0/2"], res.values  # A's attributes are A's alone
        assert (await server_b.execute("two", "/1/1/8")).code == "2.04"
        await server_b.wait_update("two", 1, 10)
    finally:
        await _stop(server_a, server_b, bs)


@async_test
async def test_bootstrap_writes_in_senml_cbor_and_lwm2m_cbor(processes):
    """Bootstrap-Write payloads in SenML CBOR (112) and LwM2M CBOR (11544) are taken as well."""
    for fmt, ep in ((112, "bscbor"), (11544, "bslcbor")):
        server, bs = await _servers({ep: lambda sp, bp: simple_config(_uri(sp), lifetime=55,
                                                                      bootstrap_uri=_uri(bp))},
                                    fmt=fmt)
        try:
            start_client(processes, ep, bootstrap_port=bs.port)
            run = await bs.wait_finished(ep, 1, 20)
            assert run["result"] == "finished", (fmt, run)
            assert (await server.wait_registered(ep, 20)).lifetime == 55
        finally:
            await _stop(server, bs)


@async_test
async def test_registration_rejected_falls_back_to_bootstrap(processes):
    """Register explicitly rejected (4.03) and Bootstrap on Registration Failure (/1/x/16, default
    true): the client runs a client-initiated bootstrap and registers where it is told to."""
    from aiocoap.numbers.codes import Code
    from lwm2m_client_itest import RejectingServer

    bad = await RejectingServer(Code.FORBIDDEN).start()
    server, bs = await _servers({"fb": lambda sp, bp: simple_config(_uri(sp), bootstrap_uri=_uri(bp))})
    try:
        dev = start_client(processes, "fb", server_port=bad.port, bootstrap_port=bs.port)
        await expect(dev, r"lwm2m register-rejected 4.03")
        await expect(dev, r"lwm2m bootstrap-start registration failed")
        assert (await bs.wait_finished("fb", 1, 20))["result"] == "finished"
        await server.wait_registered("fb", 20)
        assert bad.attempts == 1
    finally:
        await bad.stop()
        await _stop(server, bs)


@async_test
async def test_registration_retries_per_communication_retry_count(processes):
    """5.00 answers are failed attempts: Communication Retry Count 3 (timer 1 s, doubling), one
    sequence; then registration has failed and, without a bootstrap account, nothing more is sent."""
    from aiocoap.numbers.codes import Code
    from lwm2m_client_itest import RejectingServer

    bad = await RejectingServer(Code.INTERNAL_SERVER_ERROR).start()
    try:
        dev = start_client(processes, "retry", server_port=bad.port, extra=["--retry", "3,1,1,1"])
        for n in (1, 2, 3):
            await expect(dev, r"lwm2m register-failed attempt %d/3 seq 1/1" % n)
        await expect(dev, r"lwm2m no-bootstrap-account registration failed")
        assert bad.attempts == 3
    finally:
        await bad.stop()
