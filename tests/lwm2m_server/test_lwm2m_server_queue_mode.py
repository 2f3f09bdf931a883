"""Queue mode (Core 1.1 §6.4.1 / Transport §6.4): requests for a sleeping client are held and
sent in order once it is heard from (Register, Update, Send), within its awake window."""

import asyncio

import pytest
from aiocoap.numbers.codes import Code

from host_tools.lwm2m_server import OperationError
from lwm2m_server_fakedev import FakeDevice, async_test, stop_all
from host_tools.lwm2m_server import LwM2MServer


async def _sleeping_client(awake=0.4):
    server = await LwM2MServer.start(port=0, timeout=5.0, awake_time=awake)
    device = await FakeDevice.start()
    device.add_resource("/3/0/9")
    device.answer("GET", "/3/0", Code.CONTENT, b"\xc8\x00\x01A", 11542)
    device.answer("GET", "/3/0/9", Code.CONTENT, b"\xc1\x09\x50", 11542)
    assert (await device.register(server.port, extra="&lwm2m=1.1&b=U&Q")).code == Code.CREATED
    await server.wait_registered("dev1", 5)
    await asyncio.sleep(awake + 0.2)  # the awake window after Register has passed
    # from now on each wake-up lasts long enough that a loaded CI host still drains the queue
    server.awake_time = 10.0
    return server, device


@async_test
async def test_queue_mode_requests_held_until_update_then_sent_in_order():
    server, device = await _sleeping_client()
    try:
        first = asyncio.create_task(server.read("dev1", "/3/0"))
        second = asyncio.create_task(server.read("dev1", "/3/0/9"))
        third = asyncio.create_task(server.write_attributes("dev1", "/3/0/9", pmax=60))
        await asyncio.sleep(0.3)
        assert device.requests == [] and server.pending("dev1") == 3 and not first.done()
        assert (await device.update(server.port)).code == Code.CHANGED
        results = await asyncio.wait_for(asyncio.gather(first, second, third), 5)
        assert [r.code for r in results] == ["2.05", "2.05", "4.04"]
        assert results[1].values == {"/3/0/9": 80}
        # oldest first; the Update came before any of them
        assert [(r.code.name, r.opt.uri_query) for r in device.requests] == [
            ("GET", ()), ("GET", ()), ("PUT", ("pmax=60",))]
        assert server.pending("dev1") == 0
    finally:
        await stop_all(device, server)


@async_test
async def test_queue_mode_request_sent_at_once_while_awake():
    server, device = await _sleeping_client()
    try:
        assert (await device.update(server.port)).code == Code.CHANGED
        res = await asyncio.wait_for(server.read("dev1", "/3/0"), 2)
        assert res.code == "2.05" and len(device.requests) == 1
    finally:
        await stop_all(device, server)


@async_test
async def test_queue_mode_send_wakes_the_held_queue():
    server, device = await _sleeping_client()
    try:
        task = asyncio.create_task(server.read("dev1", "/3/0/9"))
        await asyncio.sleep(0.2)
        assert not task.done()
        resp = await device.send(server.port, b'[{"n":"/3/0/9","v":81}]', 110)
        assert resp.code == Code.CHANGED
        assert (await asyncio.wait_for(task, 5)).code == "2.05"
    finally:
        await stop_all(device, server)


@async_test
async def test_queue_mode_observe_is_held_too():
    server, device = await _sleeping_client()
    try:
        obs = server.observe("dev1", "/3/0/9")
        await asyncio.sleep(0.2)
        assert device.requests == []
        await device.update(server.port)
        first = await asyncio.wait_for(obs.established(), 5)
        assert first.values == {"/3/0/9": 80} and device.requests[0].opt.observe == 0
        await obs.cancel()
    finally:
        await stop_all(device, server)


@async_test
async def test_queue_mode_deregistration_fails_held_requests():
    server, device = await _sleeping_client()
    try:
        task = asyncio.create_task(server.read("dev1", "/3/0"))
        await asyncio.sleep(0.1)
        assert (await device.deregister(server.port)).code == Code.DELETED
        with pytest.raises(OperationError, match="deregistered"):
            await asyncio.wait_for(task, 5)
        assert device.requests == []
    finally:
        await stop_all(device, server)


@async_test
async def test_queue_mode_notification_wakes_the_held_queue():
    server, device = await _sleeping_client(awake=0.4)
    try:
        await device.update(server.port)
        obs = server.observe("dev1", "/3/0/9")
        await obs.established()
        server._client("dev1").awake_until = 0  # its awake window is over
        task = asyncio.create_task(server.read("dev1", "/3/0"))
        await asyncio.sleep(0.2)
        assert not task.done() and server.pending("dev1") == 1
        device.notify("/3/0/9", b"\xc1\x09\x4f", 11542)
        assert (await asyncio.wait_for(task, 5)).code == "2.05"
        await obs.cancel()
    finally:
        await stop_all(device, server)


@async_test
async def test_queue_mode_cancel_of_held_observe_never_sends_it():
    server, device = await _sleeping_client()
    try:
        obs = server.observe("dev1", "/3/0/9")
        await asyncio.sleep(0.1)
        assert await obs.cancel() is None
        with pytest.raises(StopAsyncIteration):
            await obs.next(2)
        await device.update(server.port)
        await asyncio.sleep(0.3)
        assert device.requests == [] and server.pending("dev1") == 0
    finally:
        await stop_all(device, server)


@async_test
async def test_queue_mode_held_requests_are_bounded():
    server, device = await _sleeping_client()
    try:
        held = [asyncio.create_task(server.read("dev1", "/3/0")) for _ in range(64)]
        await asyncio.sleep(0.1)
        with pytest.raises(OperationError, match="64 requests already held"):
            await server.read("dev1", "/3/0")
        await device.update(server.port)
        results = await asyncio.wait_for(asyncio.gather(*held), 20)
        assert all(r.code == "2.05" for r in results) and len(device.requests) == 64
    finally:
        await stop_all(device, server)
