"""Registration interface (OMA-TS-LightweightM2M_Core-V1_1 §6.2) end to end: the firmware client on
the Unix port against the host LwM2M server. Named after the OMA ETS (LightweightM2M-1.1-int) cases."""

import asyncio

from host_tools.lwm2m_server import LwM2MServer
from lwm2m_client_itest import async_test, expect, session, start_client


@async_test
async def test_LightweightM2M_1_1_int_101_initial_registration(processes):
    """Initial Registration: ep, lt, lwm2m=1.1, b=U, object links with versions."""
    async with session(processes, "int101", lifetime=60) as (server, dev):
        reg = server.registration("int101")
        assert (reg.lifetime, reg.version, reg.binding, reg.queue_mode) == (60, "1.1", "U", False)
        assert "/1/0" in reg.objects and "/3/0" in reg.objects and "/4/0" in reg.objects
        assert "/0/0" not in reg.objects  # the Security object is never announced
        assert reg.object_version(1) == "1.2" and reg.object_version(3) == "1.2"


@async_test
async def test_LightweightM2M_1_1_int_102_registration_update_before_lifetime_ends(processes):
    """Registration Update: a short lifetime (4 s) brings an (empty) Update at half of it."""
    async with session(processes, "int102", lifetime=4) as (server, dev):
        reg = await server.wait_update("int102", 2, 12)
        assert reg.lifetime == 4
        await expect(dev, r"lwm2m updated lt=4")


@async_test
async def test_LightweightM2M_1_1_int_103_deregistration(processes):
    """De-register: DELETE of the registration location when the client stops."""
    async with session(processes, "int103") as (server, dev):
        dev.send_line("quit")
        await server.wait_deregistered("int103", 10)
        await expect(dev, r"lwm2m deregistered")
        assert await asyncio.to_thread(dev.wait, 10) == 0


@async_test
async def test_LightweightM2M_1_1_int_104_registration_update_trigger(processes):
    """Execute /1/0/8 (Registration Update Trigger): 2.04, then an Update."""
    async with session(processes, "int104") as (server, dev):
        res = await server.execute("int104", "/1/0/8")
        assert res.code == "2.04"
        await server.wait_update("int104", 1, 10)


@async_test
async def test_LightweightM2M_1_1_int_105_lifetime_write_sends_update_with_lt(processes):
    """Writing /1/0/1 (Lifetime) makes the client send an Update carrying the new lt."""
    async with session(processes, "int105", lifetime=60) as (server, dev):
        res = await server.write("int105", "/1/0/1", 90)
        assert res.code == "2.04"
        reg = await server.wait_update("int105", 1, 10)
        assert reg.lifetime == 90


@async_test
async def test_registration_queue_mode_11_Q_parameter(processes):
    """--queue registers with b=U and the 1.1 `Q` parameter; the server treats it as queue mode."""
    async with session(processes, "qmode", extra=["--queue", "--rx-window", "60000"]) as (server, dev):
        reg = server.registration("qmode")
        assert reg.binding == "U" and reg.queue_mode


@async_test
async def test_registration_state_survives_restart(processes, tmp_path):
    """With --state the registration location is kept; after a restart (kill, no De-register) the
    client sends an Update to the old location instead of a new Register."""
    server = await LwM2MServer.start(host="127.0.0.1", port=0, timeout=15.0)
    try:
        state = ["--state", str(tmp_path / "st")]
        dev = start_client(processes, "persist1", server.port, extra=state)
        reg = await server.wait_registered("persist1", 20)
        location = reg.location
        await expect(dev, r"lwm2m registered " + location)
        dev.stop()  # SIGTERM: a reset, not an orderly stop
        dev2 = start_client(processes, "persist1", server.port, extra=state)
        await expect(dev2, r"lwm2m resume " + location)
        await server.wait_update("persist1", 1, 10)
        assert server.registration("persist1").location == location
    finally:
        await server.stop()


@async_test
async def test_update_on_object_instance_created_and_deleted(processes):
    """Creating or deleting an object instance makes the client send an Update carrying the new
    object links (§6.2.2 Update: "Objects and Object Instances")."""
    async with session(processes, "inst1") as (server, dev):
        res = await server.create("inst1", "/1", {"/1/1/1": 60, "/1/1/6": False, "/1/1/7": "U"},
                                  content_format=11542)
        assert res.code == "2.01" and res.location == ("1", "1"), (res.code, res.location)
        reg = await server.wait_update("inst1", 1, 10)
        assert "/1/1" in reg.objects, reg.objects
        assert (await server.delete("inst1", "/1/1")).code == "2.02"
        reg = await server.wait_update("inst1", 2, 10)
        assert "/1/1" not in reg.objects and "/1/0" in reg.objects


@async_test
async def test_disable_deregisters_then_registers_after_disable_timeout(processes):
    """Execute /1/0/4 (Disable): De-register, stay away for /1/0/5 seconds, then register again."""
    async with session(processes, "dis1") as (server, dev):
        assert (await server.write("dis1", "/1/0/5", 1, content_format=0)).code == "2.04"
        assert (await server.execute("dis1", "/1/0/4")).code == "2.04"
        await expect(dev, r"lwm2m disabled 1 s")
        await server.wait_deregistered("dis1", 10)
        await expect(dev, r"lwm2m deregistered")
        await server.wait_registered("dis1", 15)
        await expect(dev, r"lwm2m registered /rd/")
