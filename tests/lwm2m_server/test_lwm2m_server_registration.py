"""Registration interface (Core 1.1 §6.2 / Transport 1.1 §6.2.1) driven by a fake client."""

import asyncio
import subprocess

from aiocoap.numbers.codes import Code

from host_tools.lwm2m_server import LwM2MServer
from lwm2m_server_fakedev import async_test, connected, server_and_device, stop_all

COAP_CLIENT = "/usr/bin/coap-client-notls"


@async_test
async def test_register_created_with_location_and_directory_entry():
    async with connected(register=False) as (server, device):
        resp = await device.register(server.port, lt=120, extra="&lwm2m=1.1&b=U")
        assert resp.code == Code.CREATED
        assert resp.opt.location_path[0] == "rd" and len(resp.opt.location_path) == 2
        reg = await server.wait_registered("dev1", 5)
        assert reg.location == device.location
        assert (reg.lifetime, reg.version, reg.binding, reg.queue_mode) == (120, "1.1", "U", False)
        assert reg.objects == {"/1/0": {}, "/3": {"ver": "1.1"}, "/3/0": {}}
        assert reg.object_version(3) == "1.1" and reg.object_version(1) == "1.0"
        assert reg.remote_uri == "coap://127.0.0.1:%d" % device.port
        assert server.store.registrations()[0]["endpoint"] == "dev1"


@async_test
async def test_register_alternate_path_and_queue_flag():
    async with connected(register=False) as (server, device):
        resp = await device.register(server.port, extra="&lwm2m=1.1&b=U&Q",
                                     links=b'</lwm2m>;rt="oma.lwm2m",</lwm2m/1/0>,</lwm2m/3303/1>')
        assert resp.code == Code.CREATED
        reg = await server.wait_registered("dev1", 5)
        assert reg.queue_mode and reg.binding == "U"
        assert reg.root == "/lwm2m/"
        assert sorted(reg.objects) == ["/1/0", "/3303/1"]
        assert reg.instances(3303) == [1]


@async_test
async def test_register_lwm2m_1_0_binding_uq_means_queue_mode():
    async with connected(register=False) as (server, device):
        assert (await device.register(server.port, extra="&b=UQ")).code == Code.CREATED
        reg = await server.wait_registered("dev1", 5)
        assert reg.version == "1.0" and reg.queue_mode and reg.binding == "U"


@async_test
async def test_update_changes_lifetime_binding_and_objects():
    async with connected() as (server, device):
        before = server.registration("dev1").updated_at
        await asyncio.sleep(0.01)
        resp = await device.update(server.port, "?lt=300&b=U", b"</1/0>,</3/0>,</5/0>")
        assert resp.code == Code.CHANGED
        reg = await server.wait_update("dev1", 1, 5)
        assert reg.lifetime == 300 and "/5/0" in reg.objects and reg.updated_at > before
        resp = await device.update(server.port)  # empty Update only refreshes the lifetime
        assert resp.code == Code.CHANGED
        assert server.registration("dev1").objects == reg.objects


@async_test
async def test_deregister_deleted_then_update_not_found():
    async with connected() as (server, device):
        assert (await device.deregister(server.port)).code == Code.DELETED
        await server.wait_deregistered("dev1", 5)
        assert server.store.registrations() == []
        assert (await device.update(server.port)).code == Code.NOT_FOUND
        assert (await device.deregister(server.port)).code == Code.NOT_FOUND


@async_test
async def test_registration_expires_after_lifetime_plus_grace():
    async with connected(register=False, grace=0.5, expiry_check=0.1) as (server, device):
        assert (await device.register(server.port, lt=1)).code == Code.CREATED
        await server.wait_registered("dev1", 5)
        await server.wait_deregistered("dev1", 10)
        assert [a["operation"] for a in server.store.audit_log("dev1")][-1] == "expire"
        assert (await device.update(server.port)).code == Code.NOT_FOUND


@async_test
async def test_update_keeps_registration_alive_past_lifetime():
    async with connected(register=False, grace=0.3, expiry_check=0.1) as (server, device):
        assert (await device.register(server.port, lt=1)).code == Code.CREATED
        for _ in range(4):
            await asyncio.sleep(0.5)
            assert (await device.update(server.port)).code == Code.CHANGED
        assert server.registration("dev1") is not None


@async_test
async def test_reregister_replaces_previous_registration():
    async with connected() as (server, device):
        first = device.location
        assert (await device.register(server.port)).code == Code.CREATED
        assert device.location != first
        assert [r.location for r in server.registrations()] == [device.location]
        device.location, second = first, device.location
        assert (await device.update(server.port)).code == Code.NOT_FOUND
        device.location = second


async def _raw_register(device, server, query, payload=b"</1/0>", cf=40):
    return await device._send(Code.POST, server.port, "/rd", query, payload, cf)


@async_test
async def test_register_bad_requests_answer_4_00():
    async with connected(register=False) as (server, device):
        assert (await _raw_register(device, server, "?lt=60")).code == Code.BAD_REQUEST  # no ep
        assert (await _raw_register(device, server, "?ep=x&lt=abc")).code == Code.BAD_REQUEST
        assert (await _raw_register(device, server, "?ep=x&lt=-5")).code == Code.BAD_REQUEST
        assert (await _raw_register(device, server, "?ep=x&b=Z")).code == Code.BAD_REQUEST
        assert (await _raw_register(device, server, "?ep=x", b"</1/0>,3/0")).code == Code.BAD_REQUEST
        assert (await _raw_register(device, server, "?ep=x", b"</1/0;ver=1")).code == Code.BAD_REQUEST
        assert (await _raw_register(device, server, "?ep=x", b"</a/b>")).code == Code.BAD_REQUEST
        assert (await _raw_register(device, server, "?ep=x", b"")).code == Code.BAD_REQUEST
        assert (await _raw_register(device, server, "?ep=x&lwm2m=9.9")).code == Code.PRECONDITION_FAILED
        assert server.registrations() == []
        refused = [a for a in server.store.audit_log() if a["operation"].startswith("refused")]
        assert len(refused) == 9


@async_test
async def test_unknown_location_and_path_not_found():
    async with connected() as (server, device):
        resp = await device._send(Code.POST, server.port, "/rd/nosuchid", "?lt=5")
        assert resp.code == Code.NOT_FOUND
        resp = await device._send(Code.DELETE, server.port, "/rd/nosuchid")
        assert resp.code == Code.NOT_FOUND
        resp = await device._send(Code.GET, server.port, "/other")
        assert resp.code == Code.NOT_FOUND
        assert server.registration("dev1") is not None


@async_test
async def test_registrations_survive_server_restart_with_sqlite_file(tmp_path):
    db = str(tmp_path / "state.sqlite")
    server, device = await server_and_device(db=db)
    try:
        location = device.location
        await server.stop()
        server = await LwM2MServer.start(port=0, db=db, timeout=5.0)
        reg = server.registration("dev1")
        assert reg is not None and reg.location == location
        # the restored registration is reachable although no request arrived since the restart
        device.answer("GET", "/3/0", Code.CONTENT, b"\xc8\x00\x01A", 11542)
        res = await server.read("dev1", "/3/0")
        assert res.code == "2.05" and res.values == {"/3/0/0": "A"}
        # and the client's next Update to the old location is accepted
        assert (await device.update(server.port)).code == Code.CHANGED
    finally:
        await stop_all(device, server)


def _coap_client(*args):
    return subprocess.run([COAP_CLIENT, *args], capture_output=True, text=True, timeout=20)


@async_test
async def test_interop_libcoap_client_registers_and_deregisters():
    server = await LwM2MServer.start(port=0, timeout=5.0)
    loop = asyncio.get_running_loop()
    try:
        uri = "coap://127.0.0.1:%d/rd?ep=libcoap&lt=60" % server.port
        proc = await loop.run_in_executor(None, _coap_client, "-m", "post", "-t", "40", uri, "-e", "</1/0>,</3/0>")
        assert proc.returncode == 0, proc.stderr
        reg = await server.wait_registered("libcoap", 5)
        assert sorted(reg.objects) == ["/1/0", "/3/0"]
        proc = await loop.run_in_executor(None, _coap_client, "-m", "delete",
                                          "coap://127.0.0.1:%d%s" % (server.port, reg.location))
        assert proc.returncode == 0, proc.stderr
        await server.wait_deregistered("libcoap", 5)
        proc = await loop.run_in_executor(None, _coap_client, "-m", "post",
                                          "coap://127.0.0.1:%d/rd?lt=60" % server.port, "-e", "</1/0>")
        assert "4.00" in proc.stdout + proc.stderr
    finally:
        await server.stop()


@async_test
async def test_register_defaults_lifetime_86400_and_binding_u():
    async with connected(register=False) as (server, device):
        resp = await _raw_register(device, server, "?ep=plain", b"</3/0>")
        assert resp.code == Code.CREATED
        reg = await server.wait_registered("plain", 5)
        assert (reg.lifetime, reg.binding, reg.version, reg.queue_mode) == (86400, "U", "1.0", False)
        assert (await _raw_register(device, server, "?ep=x&ep=y")).code == Code.BAD_REQUEST


@async_test
async def test_register_and_read_over_ipv6_loopback():
    from aiocoap import Context, Message, resource

    server = await LwM2MServer.start(host="::1", port=0, timeout=5.0)
    site = resource.Site()
    ctx = await Context.create_server_context(site, bind=("::1", 0), transports=["udp6"])
    try:
        msg = Message(code=Code.POST, uri="coap://[::1]:%d/rd?ep=v6&lt=60" % server.port, payload=b"</3/0>")
        assert (await ctx.request(msg).response).code == Code.CREATED
        reg = await server.wait_registered("v6", 5)
        assert reg.remote_uri.startswith("coap://[::1]:")
        assert (await server.read("v6", "/3/0")).code == "4.04"  # the bare site has no /3/0
    finally:
        await ctx.shutdown()
        await server.stop()
