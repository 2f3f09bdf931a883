"""Device Management & Service Enablement and Information Reporting interfaces (Core 1.1 §6.3,
§6.4) toward a fake client: the exact requests the server sends and how it decodes answers."""

import asyncio

import cbor2
import pytest
from aiocoap.numbers.codes import Code

from host_tools.lwm2m_server import ObjLnk, OperationError
from lwm2m_server_fakedev import async_test, connected, server_and_device, stop_all
from lwm2m_server_vectors import DEVICE_TLV, DEVICE_VALUES


@async_test
async def test_read_device_object_tlv_accept_and_decode():
    async with connected() as (server, device):
        device.answer("GET", "/3/0", Code.CONTENT, DEVICE_TLV, 11542)
        res = await server.read("dev1", "/3/0", accept="tlv")
        req = device.requests[-1]
        assert req.code == Code.GET and int(req.opt.accept) == 11542
        assert res.code == "2.05" and res.content_format == 11542
        assert res.values == DEVICE_VALUES


@async_test
async def test_read_senml_json_and_text_single_resource():
    async with connected() as (server, device):
        device.add_resource("/3/0/9")
        body = b'[{"bn":"/3/0/","n":"0","vs":"ACME"},{"n":"9","v":87},{"n":"6/0","v":1}]'
        device.answer("GET", "/3/0", Code.CONTENT, body, 110)
        res = await server.read("dev1", "/3/0", accept=110)
        assert res.values == {"/3/0/0": "ACME", "/3/0/9": 87, "/3/0/6/0": 1}
        device.answer("GET", "/3/0/9", Code.CONTENT, b"87", 0)
        res = await server.read("dev1", "/3/0/9", accept="text")
        assert res.value == 87 and res.values == {"/3/0/9": 87}


@async_test
async def test_read_error_code_and_undecodable_payload_are_reported():
    async with connected() as (server, device):
        res = await server.read("dev1", "/3/0")  # the fake answers 4.04 to unknown paths
        assert res.code == "4.04" and not res.ok and res.values is None
        device.answer("GET", "/3/0", Code.CONTENT, b"\xc8\x00\x30ab", 11542)
        res = await server.read("dev1", "/3/0")
        assert res.ok and res.values is None and "runs past the end" in res.error


@async_test
async def test_operation_on_unregistered_endpoint_raises():
    async with connected() as (server, device):
        with pytest.raises(OperationError, match="not registered"):
            await server.read("nobody", "/3/0")


@async_test
async def test_read_timeout_when_client_is_gone():
    server, device = await server_and_device(timeout=0.5)
    try:
        await device.stop()
        with pytest.raises(OperationError):
            await server.read("dev1", "/3/0")
        assert server.store.audit_log("dev1")[-1]["operation"] == "read"
    finally:
        await server.stop()


@async_test
async def test_write_replace_tlv_single_resource_exact_bytes():
    server, device = await server_and_device()
    try:
        device.add_resource("/1/0/1")
        device.answer("PUT", "/1/0/1", Code.CHANGED)
        res = await server.write("dev1", "/1/0/1", 300, content_format="tlv")
        req = device.requests[-1]
        assert res.code == "2.04"
        assert req.code == Code.PUT and int(req.opt.content_format) == 11542
        assert req.payload == bytes.fromhex("c201012c")
    finally:
        await stop_all(device, server)


@async_test
async def test_write_partial_update_senml_cbor_post_to_instance():
    async with connected() as (server, device):
        device.answer("POST", "/1/0", Code.CHANGED)
        res = await server.write("dev1", "/1/0", {"/1/0/1": 300, "/1/0/7": "UQ", "/1/0/6": True},
                                 replace=False)
        req = device.requests[-1]
        assert res.code == "2.04" and req.code == Code.POST and int(req.opt.content_format) == 112
        assert cbor2.loads(req.payload) == [
            {-2: "/1/0/", 0: "1", 2: 300}, {0: "7", 3: "UQ"}, {0: "6", 4: True}]


@async_test
async def test_write_replace_multi_instance_resource_tlv():
    async with connected() as (server, device):
        device.add_resource("/1/0/16")
        device.answer("PUT", "/1/0/16", Code.CHANGED)
        await server.write("dev1", "/1/0/16", {"/1/0/16/0": 1, "/1/0/16/1": ObjLnk(3, 0)}, "tlv")
        assert device.requests[-1].payload == bytes.fromhex("8810 09 410001 4401 00030000".replace(" ", ""))


@async_test
async def test_execute_with_text_arguments():
    async with connected() as (server, device):
        device.add_resource("/3/0/4")
        device.answer("POST", "/3/0/4", Code.CHANGED)
        res = await server.execute("dev1", "/3/0/4", "0='reboot',1")
        req = device.requests[-1]
        assert res.code == "2.04" and req.code == Code.POST and req.payload == b"0='reboot',1"
        assert int(req.opt.content_format) == 0
        await server.execute("dev1", "/3/0/4")
        assert device.requests[-1].payload == b"" and device.requests[-1].opt.content_format is None


@async_test
async def test_create_instance_location_and_delete():
    async with connected() as (server, device):
        device.add_resource("/3303")
        device.add_resource("/3303/1")

        def created(request):
            from aiocoap import Message
            msg = Message(code=Code.CREATED)
            msg.opt.location_path = ("3303", "1")
            return msg

        device.answers[("POST", "/3303")] = created
        res = await server.create("dev1", "/3303", {"/3303/1/5700": 21.5, "/3303/1/5701": "Cel"}, "tlv")
        req = device.requests[-1]
        assert res.code == "2.01" and res.location == ("3303", "1")
        # the object-level TLV wraps the new instance's resources (16-bit resource ids)
        assert req.payload == bytes.fromhex("080112" "e8164408" "4035800000000000" "e31645" "43656c")
        assert int(req.opt.content_format) == 11542
        device.answer("DELETE", "/3303/1", Code.DELETED)
        res = await server.delete("dev1", "/3303/1")
        assert res.code == "2.02" and device.requests[-1].code == Code.DELETE


@async_test
async def test_discover_link_format_with_depth():
    async with connected() as (server, device):
        device.answer("GET", "/3/0", Code.CONTENT, b"</3/0>,</3/0/1>,</3/0/6>;dim=2,</3/0/13>;pmin=10", 40)
        res = await server.discover("dev1", "/3/0", depth=2)
        req = device.requests[-1]
        assert int(req.opt.accept) == 40 and req.opt.uri_query == ("depth=2",)
        assert res.values == {"/3/0": {}, "/3/0/1": {}, "/3/0/6": {"dim": "2"}, "/3/0/13": {"pmin": "10"}}


@async_test
async def test_write_attributes_query():
    async with connected() as (server, device):
        device.add_resource("/3/0/13")
        device.answer("PUT", "/3/0/13", Code.CHANGED)
        res = await server.write_attributes("dev1", "/3/0/13", pmin=10, pmax=60, gt=20.5, st=None)
        req = device.requests[-1]
        assert res.code == "2.04" and req.code == Code.PUT and req.payload == b""
        assert req.opt.uri_query == ("pmin=10", "pmax=60", "gt=20.5", "st")


@async_test
async def test_read_composite_fetch_senml_cbor():
    async with connected() as (server, device):
        answer = cbor2.dumps([{-2: "/3/0/", 0: "0", 3: "ACME"}, {-2: "/1/0/", 0: "1", 2: 300}])
        device.answer("FETCH", "/", Code.CONTENT, answer, 112)
        res = await server.read_composite("dev1", ["/3/0/0", "/1/0/1"])
        req = device.requests[-1]
        assert req.code == Code.FETCH and int(req.opt.content_format) == 112 and int(req.opt.accept) == 112
        assert cbor2.loads(req.payload) == [{0: "/3/0/0"}, {0: "/1/0/1"}]
        assert res.values == {"/3/0/0": "ACME", "/1/0/1": 300}


@async_test
async def test_write_composite_ipatch_senml_json():
    async with connected() as (server, device):
        device.answer("iPATCH", "/", Code.CHANGED)
        res = await server.write_composite("dev1", {"/1/0/1": 120, "/3/0/14": "+01:00"}, "senml-json")
        req = device.requests[-1]
        assert res.code == "2.04" and req.code == Code.iPATCH and int(req.opt.content_format) == 110
        assert req.payload == b'[{"n":"/1/0/1","v":120},{"n":"/3/0/14","vs":"+01:00"}]'


@async_test
async def test_observe_notifications_then_explicit_cancel_reuses_token():
    async with connected() as (server, device):
        device.add_resource("/3/0/13")
        device.answer("GET", "/3/0/13", Code.CONTENT, b"\xc4\x0d\x51\x82\x42\x8f", 11542)
        obs = server.observe("dev1", "/3/0/13", accept="tlv")
        first = await obs.established()
        observe_req = device.requests[-1]
        assert observe_req.opt.observe == 0 and first.values == {"/3/0/13": 1367491215}
        assert device.resource("/3/0/13").observers() == 1
        assert (await obs.next(5)).values == {"/3/0/13": 1367491215}
        for t in (1367491216, 1367491217):
            device.notify("/3/0/13", b"\xc4\x0d" + t.to_bytes(4, "big"), 11542)
            assert (await obs.next(5)).values == {"/3/0/13": t}
        res = await obs.cancel(explicit=True)
        cancel_req = device.requests[-1]
        assert cancel_req.opt.observe == 1 and cancel_req.token == observe_req.token
        assert res.code == "2.05" and device.resource("/3/0/13").observers() == 0
        assert [n["values"]["/3/0/13"] for n in server.store.notifications("dev1")] == [1367491216, 1367491217]
        with pytest.raises(StopAsyncIteration):
            await obs.next(5)


@async_test
async def test_observe_passive_cancel_answers_next_notification_with_rst():
    async with connected() as (server, device):
        device.answer("GET", "/3/0", Code.CONTENT, DEVICE_TLV, 11542)
        obs = server.observe("dev1", "/3/0")
        await obs.established()
        assert device.resource("/3/0").observers() == 1
        await obs.cancel()
        device.notify("/3/0", DEVICE_TLV, 11542)
        for _ in range(50):  # the RST comes back within a round trip
            if device.resource("/3/0").observers() == 0:
                break
            await asyncio.sleep(0.05)
        assert device.resource("/3/0").observers() == 0


@async_test
async def test_observe_composite_fetch_with_observe_option():
    async with connected() as (server, device):
        body = cbor2.dumps([{0: "/3/0/9", 2: 80}, {0: "/1/0/1", 2: 300}])
        device.answer("FETCH", "/", Code.CONTENT, body, 112)
        obs = server.observe_composite("dev1", ["/3/0/9", "/1/0/1"])
        first = await obs.established()
        req = device.requests[-1]
        assert req.code == Code.FETCH and req.opt.observe == 0
        assert cbor2.loads(req.payload) == [{0: "/3/0/9"}, {0: "/1/0/1"}]
        assert first.values == {"/3/0/9": 80, "/1/0/1": 300}
        await obs.next(5)
        device.notify("/", cbor2.dumps([{0: "/3/0/9", 2: 79}, {0: "/1/0/1", 2: 300}]), 112)
        assert (await obs.next(5)).values == {"/3/0/9": 79, "/1/0/1": 300}
        await obs.cancel(explicit=True)
        assert device.requests[-1].opt.observe == 1 and device.resource("/").observers() == 0


@async_test
async def test_observe_refused_by_client_ends_iteration():
    async with connected() as (server, device):
        obs = server.observe("dev1", "/3/0")
        assert (await obs.next(5)).code == "4.04"
        with pytest.raises(StopAsyncIteration):
            await obs.next(5)


@async_test
async def test_server_initiated_bootstrap_executes_bootstrap_request_trigger():
    async with connected() as (server, device):
        device.add_resource("/1/0/9")
        device.answer("POST", "/1/0/9", Code.CHANGED)
        res = await server.request_bootstrap("dev1")
        assert res.code == "2.04" and device.requests[-1].code == Code.POST


@async_test
async def test_audit_log_records_each_operation():
    async with connected() as (server, device):
        await server.read("dev1", "/3/0")
        await server.delete("dev1", "/3/0")
        ops = [(a["operation"], a["path"], a["code"]) for a in server.store.audit_log("dev1")]
        assert ops[-2:] == [("read", "/3/0", "4.04"), ("delete", "/3/0", "4.04")]
        assert ops[0][0] == "register"


@async_test
async def test_read_empty_opaque_is_empty_bytes_value():
    async with connected() as (server, device):
        device.add_resource("/3443/0/3")
        device.answer("GET", "/3443/0/3", Code.CONTENT, b"", 42)
        res = await server.read("dev1", "/3443/0/3", accept="opaque")
        assert res.ok and res.values == {"/3443/0/3": b""} and res.value == b""


@async_test
async def test_read_large_resource_blockwise():
    async with connected() as (server, device):
        device.add_resource("/5/0/0")
        blob = bytes(range(256)) * 16
        device.answer("GET", "/5/0/0", Code.CONTENT, blob, 42)
        res = await server.read("dev1", "/5/0/0", accept="opaque")
        # 4 KiB cannot travel in one datagram of aiocoap's 1024-byte blocks: this took Block2
        assert res.value == blob


@async_test
async def test_write_large_opaque_blockwise():
    async with connected() as (server, device):
        device.add_resource("/5/0/0")
        device.answer("PUT", "/5/0/0", Code.CHANGED)
        blob = bytes(range(256)) * 12
        res = await server.write("dev1", "/5/0/0", blob, "opaque")
        assert res.code == "2.04"
        # the fake's site reassembles Block1 before its handler sees the request
        assert device.requests[-1].payload == blob


@async_test
async def test_requests_go_under_the_alternate_path():
    server, device = await server_and_device(register=False)
    try:
        device.add_resource("/lwm2m/3/0")
        device.answer("GET", "/lwm2m/3/0", Code.CONTENT, b"\xc8\x00\x01A", 11542)
        resp = await device.register(server.port, links=b'</lwm2m>;rt="oma.lwm2m",</lwm2m/3/0>')
        assert resp.code == Code.CREATED
        await server.wait_registered("dev1", 5)
        res = await server.read("dev1", "/3/0")
        assert res.values == {"/3/0/0": "A"}
    finally:
        await stop_all(device, server)
