"""Send operation (Core 1.1 §6.4.3, POST /dp) received from a registered client."""

import cbor2
from aiocoap.numbers.codes import Code

from host_tools.lwm2m_server import LwM2MServer
from lwm2m_server_fakedev import FakeDevice, async_test, connected, server_and_device, stop_all


@async_test
async def test_send_senml_cbor_stored_per_endpoint():
    async with connected() as (server, device):
        body = cbor2.dumps([{-2: "/3303/0/", -3: 1700000000, 0: "5700", 2: 21.5},
                            {0: "5700", 6: 10, 2: 22.0}, {-2: "/3/0/", 0: "9", 2: 77}])
        resp = await device.send(server.port, body, 112)
        assert resp.code == Code.CHANGED
        record = await server.wait_send("dev1", 1, 5)
        # two timestamped records of one resource: the dict keeps the last
        assert record["values"] == {"/3303/0/5700": 22.0, "/3/0/9": 77}
        assert record["records"] == [("/3303/0/5700", 21.5, 1700000000), ("/3303/0/5700", 22.0, 1700000010),
                                     ("/3/0/9", 77, 1700000000)]
        assert record["content_format"] == 112 and record["payload"] == body
        assert server.store.sends("dev1")[0]["values"] == record["values"]


@async_test
async def test_send_senml_json_and_lwm2m_cbor():
    async with connected() as (server, device):
        resp = await device.send(server.port, b'[{"bn":"/6/0/","n":"0","v":52.5},{"n":"1","v":13.4}]', 110)
        assert resp.code == Code.CHANGED
        resp = await device.send(server.port, cbor2.dumps({3: {0: {9: 70, 14: "+01:00"}}}), 11544)
        assert resp.code == Code.CHANGED
        await server.wait_send("dev1", 2, 5)
        assert [s["values"] for s in server.sends("dev1")] == [
            {"/6/0/0": 52.5, "/6/0/1": 13.4}, {"/3/0/9": 70, "/3/0/14": "+01:00"}]


@async_test
async def test_send_refused_bad_payload_format_or_unregistered():
    server, device = await server_and_device()
    stranger = await FakeDevice.start("stranger")
    try:
        assert (await device.send(server.port, b"[{", 110)).code == Code.BAD_REQUEST
        assert (await device.send(server.port, b"\xc1\x09\x50", 11542)).code == Code.UNSUPPORTED_CONTENT_FORMAT
        assert (await stranger.send(server.port, b'[{"n":"/3/0/9","v":1}]', 110)).code == Code.FORBIDDEN
        assert server.sends("dev1") == [] and server.sends("stranger") == []
    finally:
        await stop_all(stranger, device, server)


@async_test
async def test_send_data_survives_restart(tmp_path):
    db = str(tmp_path / "s.sqlite")
    server, device = await server_and_device(db=db)
    try:
        assert (await device.send(server.port, b'[{"n":"/3/0/9","v":5}]', 110)).code == Code.CHANGED
        await server.stop()
        server = await LwM2MServer.start(port=0, db=db)
        assert [s["values"] for s in server.store.sends("dev1")] == [{"/3/0/9": 5}]
    finally:
        await stop_all(device, server)
