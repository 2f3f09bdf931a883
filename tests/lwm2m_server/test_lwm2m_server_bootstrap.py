"""Bootstrap interface (Core 1.1 §5.2, §6.1): client-initiated Bootstrap-Request, then
Discover, Delete, Write, Read, Finish toward the client; results recorded per endpoint."""

import asyncio

import cbor2
from aiocoap.numbers.codes import Code

from host_tools.lwm2m_server import BootstrapServer, LwM2MServer, security_instance, server_instance
from host_tools.lwm2m_server import codecs
from lwm2m_server_fakedev import FakeDevice, async_test, stop_all

BS_PATHS = ("/", "/0", "/1", "/0/1", "/1/0", "/bs")


async def _bootstrap_client(endpoint="dev1", finish=Code.CHANGED):
    device = await FakeDevice.start(endpoint, BS_PATHS)
    device.answer("GET", "/", Code.CONTENT, b'</>;lwm2m=1.1,</0/0>,</1>,</3/0>', 40)
    device.answer("DELETE", "/", Code.DELETED)
    device.answer("PUT", "/0/1", Code.CHANGED)
    device.answer("PUT", "/1/0", Code.CHANGED)
    device.answer("GET", "/1", Code.CONTENT, b"\x08\x00\x06\xc1\x00\x65\xc1\x01\x3c", 11542)
    device.answer("POST", "/bs", finish)
    return device


async def _request(device, bs, query):
    return await device._send(Code.POST, bs.port, "/bs", query)


async def _config(uri="coap://127.0.0.1:5683"):
    return {"/1/0": server_instance(101, lifetime=60), "/0/1": security_instance(uri, short_id=101)}


@async_test
async def test_bootstrap_sequence_tlv_exact_writes_and_finish():
    device = await _bootstrap_client()
    bs = await BootstrapServer.start(port=0, configs={"dev1": await _config()}, timeout=5.0)
    try:
        assert (await _request(device, bs, "?ep=dev1")).code == Code.CHANGED
        run = await bs.wait_finished("dev1", 1, 10)
        assert run["result"] == "finished" and run["detail"]["finish"] == "2.04"
        steps = [(s["op"], s["path"], s["code"]) for s in run["detail"]["steps"]]
        # Security is written before Server whatever the configuration's order
        assert steps == [("discover", "/", "2.05"), ("delete", "/", "2.02"), ("write", "/0/1", "2.04"),
                         ("write", "/1/0", "2.04"), ("read", "/1", "2.05"), ("finish", "/bs", "2.04")]
        assert [(r.code.name, r.opt.accept and int(r.opt.accept)) for r in device.requests] == [
            ("GET", 40), ("DELETE", None), ("PUT", None), ("PUT", None), ("GET", 11542), ("POST", None)]
        server_write = device.requests[3]
        assert int(server_write.opt.content_format) == 11542
        assert server_write.payload == bytes.fromhex("c10065" "c1013c" "c10601" "c10755")
        security_write = device.requests[2]
        assert codecs.decode(11542, security_write.payload, "/0/1") == {
            "/0/1/0": "coap://127.0.0.1:5683", "/0/1/1": False, "/0/1/2": 3, "/0/1/3": b"",
            "/0/1/4": b"", "/0/1/5": b"", "/0/1/10": 101}
        assert run["detail"]["server_object"] == {"/1/0/0": 101, "/1/0/1": 60}
        assert "/3/0" in run["detail"]["discover"]
    finally:
        await stop_all(device, bs)


@async_test
async def test_bootstrap_preferred_content_format_senml_cbor():
    device = await _bootstrap_client()
    bs = await BootstrapServer.start(port=0, configs={"dev1": await _config()}, timeout=5.0,
                                     discover=False, read_server=False)
    try:
        assert (await _request(device, bs, "?ep=dev1&pct=112")).code == Code.CHANGED
        run = await bs.wait_finished("dev1", 1, 10)
        assert run["result"] == "finished" and run["detail"]["format"] == 112
        write = [r for r in device.requests if r.code == Code.PUT][1]
        assert int(write.opt.content_format) == 112
        assert cbor2.loads(write.payload) == [
            {-2: "/1/0/", 0: "0", 2: 101}, {0: "1", 2: 60}, {0: "6", 4: True}, {0: "7", 3: "U"}]
    finally:
        await stop_all(device, bs)


@async_test
async def test_bootstrap_finish_not_acceptable_is_recorded():
    device = await _bootstrap_client(finish=Code.NOT_ACCEPTABLE)
    bs = await BootstrapServer.start(port=0, configs={"dev1": await _config()}, timeout=5.0)
    try:
        await _request(device, bs, "?ep=dev1")
        run = await bs.wait_finished("dev1", 1, 10)
        assert run["result"] == "finish-failed" and run["detail"]["finish"] == "4.06"
    finally:
        await stop_all(device, bs)


@async_test
async def test_bootstrap_write_refused_aborts_before_finish():
    device = await _bootstrap_client()
    device.answer("PUT", "/1/0", Code.BAD_REQUEST)
    bs = await BootstrapServer.start(port=0, configs={"dev1": await _config()}, timeout=5.0)
    try:
        await _request(device, bs, "?ep=dev1")
        run = await bs.wait_finished("dev1", 1, 10)
        assert run["result"] == "failed" and "4.00" in run["detail"]["reason"]
        assert all(r.code != Code.POST for r in device.requests)
    finally:
        await stop_all(device, bs)


@async_test
async def test_bootstrap_request_without_config_or_ep_is_4_00():
    device = await _bootstrap_client("unknown")
    bs = await BootstrapServer.start(port=0, timeout=5.0)
    try:
        assert (await _request(device, bs, "?ep=unknown")).code == Code.BAD_REQUEST
        assert (await _request(device, bs, "?pct=112")).code == Code.BAD_REQUEST
        assert bs.results("unknown")[0]["result"] == "rejected"
        await asyncio.sleep(0.1)
        assert device.requests == []
    finally:
        await stop_all(device, bs)


@async_test
async def test_bootstrap_delete_objects_except_bootstrap_account():
    device = await _bootstrap_client()
    device.answer("DELETE", "/0", Code.DELETED)
    device.answer("DELETE", "/1", Code.DELETED)
    bs = await BootstrapServer.start(port=0, configs={"dev1": await _config()}, timeout=5.0,
                                     delete=("/0", "/1"), discover=False)
    try:
        await _request(device, bs, "?ep=dev1")
        run = await bs.wait_finished("dev1", 1, 10)
        assert [s["path"] for s in run["detail"]["steps"] if s["op"] == "delete"] == ["/0", "/1"]
        assert run["result"] == "finished"
    finally:
        await stop_all(device, bs)


@async_test
async def test_bootstrap_then_register_flow(tmp_path):
    """Client-initiated bootstrap, then the client registers with the server it was given."""
    db = str(tmp_path / "bs.sqlite")
    server = await LwM2MServer.start(port=0, timeout=5.0)
    uri = "coap://127.0.0.1:%d" % server.port
    bs = await BootstrapServer.start(port=0, db=db, configs={"dev1": await _config(uri)}, timeout=5.0)
    device = await _bootstrap_client()
    try:
        await _request(device, bs, "?ep=dev1&pct=11542")
        await bs.wait_finished("dev1", 1, 10)
        written = codecs.decode(11542, device.requests[2].payload, "/0/1")
        port = int(written["/0/1/0"].rsplit(":", 1)[1])
        assert (await device.register(port)).code == Code.CREATED
        assert (await server.wait_registered("dev1", 5)).endpoint == "dev1"
        # configs and results are kept in SQLite
        await bs.stop()
        bs = await BootstrapServer.start(port=0, db=db)
        assert bs.config("dev1")["/0/1"][0] == uri and bs.results("dev1")[0]["result"] == "finished"
    finally:
        await stop_all(device, bs, server)


@async_test
async def test_bootstrap_wildcard_config_serves_any_endpoint():
    device = await _bootstrap_client("anyone")
    bs = await BootstrapServer.start(port=0, configs={"*": await _config()}, timeout=5.0, discover=False)
    try:
        assert (await _request(device, bs, "?ep=anyone")).code == Code.CHANGED
        assert (await bs.wait_finished("anyone", 1, 10))["result"] == "finished"
    finally:
        await stop_all(device, bs)
