"""Device Management & Information Reporting (OMA-TS-LightweightM2M_Core-V1_1 §6.3, §6.4) end to
end: the host server operates on the firmware client running on the Unix port. Named after the
OMA ETS (LightweightM2M-1.1-int-2xx) cases; bad input is answered with the right code and leaves
the device unchanged."""

import cbor2
from aiocoap.numbers.codes import Code

from lwm2m_client_itest import async_test, expect, session

TLV, SENML_JSON, SENML_CBOR, TEXT, LINK = 11542, 110, 112, 0, 40


@async_test
async def test_LightweightM2M_1_1_int_221_read_device_object_all_formats(processes):
    async with session(processes, "dm221") as (server, dev):
        for accept in (None, TLV, SENML_CBOR, SENML_JSON):
            res = await server.read("dm221", "/3/0", accept=accept)
            assert res.code == "2.05" and res.error is None, (accept, res.error)
            assert res.values["/3/0/0"] == "cellfw" and res.values["/3/0/2"] == "0001", res.values
            assert res.content_format == (accept or TLV)
        res = await server.read("dm221", "/3/0/0", accept=TEXT)
        assert (res.code, res.payload) == ("2.05", b"cellfw")


@async_test
async def test_LightweightM2M_1_1_int_222_read_server_object_and_multiple_resource(processes):
    async with session(processes, "dm222", lifetime=70) as (server, dev):
        res = await server.read("dm222", "/1/0", accept=SENML_CBOR)
        assert res.values["/1/0/0"] == 101 and res.values["/1/0/1"] == 70
        assert res.values["/1/0/7"] == "U"
        res = await server.read("dm222", "/4/0/1", accept=TLV)  # Available Network Bearer, multiple
        assert res.code == "2.05" and len(res.values) >= 1


@async_test
async def test_LightweightM2M_1_1_int_223_write_replace_and_partial_update(processes):
    async with session(processes, "dm223") as (server, dev):
        assert (await server.write("dm223", "/1/0/3", 300, content_format=TEXT)).code == "2.04"
        res = await server.write("dm223", "/1/0", {"/1/0/2": 5, "/1/0/6": False}, content_format=TLV,
                                 replace=False)
        assert res.code == "2.04"
        res = await server.read("dm223", "/1/0", accept=SENML_CBOR)
        assert (res.values["/1/0/2"], res.values["/1/0/3"], res.values["/1/0/6"]) == (5, 300, False)
        assert res.values["/1/0/1"] == 60  # untouched by the partial update


@async_test
async def test_LightweightM2M_1_1_int_225_execute_reboot(processes):
    async with session(processes, "dm225") as (server, dev):
        assert (await server.execute("dm225", "/3/0/4")).code == "2.04"
        await expect(dev, r"lwm2m reboot requested")
        assert (await server.execute("dm225", "/3/0/0")).code == "4.05"  # not executable


@async_test
async def test_LightweightM2M_1_1_int_241_discover(processes):
    async with session(processes, "dm241") as (server, dev):
        res = await server.discover("dm241", "/3")
        assert res.code == "2.05" and res.content_format == LINK
        assert "/3/0" in res.values and "/3/0/0" in res.values, res.values
        res = await server.discover("dm241", "/1/0", depth=0)
        assert list(res.values) == ["/1/0"], res.values


@async_test
async def test_LightweightM2M_1_1_int_256_write_attributes_shown_by_discover(processes):
    async with session(processes, "dm256") as (server, dev):
        res = await server.write_attributes("dm256", "/4/0/2", pmin=2, pmax=30, gt=-50, lt=-100)
        assert res.code == "2.04"
        res = await server.discover("dm256", "/4/0/2")
        attrs = res.values["/4/0/2"]
        assert (attrs["pmin"], attrs["pmax"]) == ("2", "30") and float(attrs["gt"]) == -50, attrs
        # lt >= gt is refused and changes nothing
        assert (await server.write_attributes("dm256", "/4/0/2", lt=-40)).code == "4.00"
        # gt on a non-numeric resource is refused; an absent resource is not found
        assert (await server.write_attributes("dm256", "/3/0/0", gt=1)).code == "4.00"
        assert (await server.write_attributes("dm256", "/3/0/9", pmin=1)).code == "4.04"
        res = await server.discover("dm256", "/4/0/2")
        assert float(res.values["/4/0/2"]["lt"]) == -100


@async_test
async def test_LightweightM2M_1_1_int_260_read_composite(processes):
    async with session(processes, "dm260", lifetime=80) as (server, dev):
        for fmt in (SENML_CBOR, SENML_JSON):
            res = await server.read_composite("dm260", ["/3/0/0", "/1/0/1", "/3/0/2"], accept=fmt)
            assert res.code == "2.05" and res.content_format == fmt
            assert res.values == {"/3/0/0": "cellfw", "/1/0/1": 80, "/3/0/2": "0001"}, res.values


@async_test
async def test_LightweightM2M_1_1_int_261_write_composite(processes):
    async with session(processes, "dm261") as (server, dev):
        res = await server.write_composite("dm261", {"/1/0/2": 3, "/1/0/3": 33})
        assert res.code == "2.04"
        res = await server.read_composite("dm261", ["/1/0/2", "/1/0/3"])
        assert res.values == {"/1/0/2": 3, "/1/0/3": 33}
        # one read-only target: nothing is written
        res = await server.write_composite("dm261", {"/1/0/2": 9, "/3/0/0": "x"})
        assert res.code == "4.05"
        assert (await server.read("dm261", "/1/0/2")).values == {"/1/0/2": 3}


@async_test
async def test_security_object_any_server_access_401(processes):
    async with session(processes, "dm401") as (server, dev):
        assert (await server.read("dm401", "/0/0")).code == "4.01"
        assert (await server.read("dm401", "/0")).code == "4.01"
        assert (await server.write("dm401", "/0/0/0", "coap://evil", content_format=TEXT)).code == "4.01"
        assert (await server.discover("dm401", "/0")).code == "4.01"
        assert (await server.delete("dm401", "/0/0")).code == "4.01"


@async_test
async def test_bad_input_leaves_device_unchanged(processes):
    """Unknown object, read-only write, out-of-range value, malformed TLV / SenML / CBOR,
    unsupported Accept and content format, oversize payload: the right code, no change."""
    ep = "dmbad"
    async with session(processes, ep, lifetime=60) as (server, dev):
        before = (await server.read(ep, "/1/0", accept=SENML_CBOR)).values
        assert (await server.read(ep, "/99/0")).code == "4.04"
        assert (await server.read(ep, "/3/7")).code == "4.04"
        assert (await server.write(ep, "/3/0/0", "other", content_format=TEXT)).code == "4.05"
        assert (await server.write(ep, "/1/0/1", -5, content_format=TEXT)).code == "4.00"
        assert (await server.write(ep, "/1/0/7", "XYZ", content_format=TEXT)).code == "4.00"
        assert (await server.read(ep, "/3/0", accept=TEXT)).code == "4.06"
        assert (await server.delete(ep, "/3/0")).code == "4.05"
        raw = [
            (Code.PUT, "/1/0", b"\xc8\x01", TLV),  # TLV header promising more than there is
            (Code.POST, "/1/0", b"\xff\xff\xff\xff", TLV),
            (Code.PUT, "/1/0", b'[{"bn":"/1/0/","n":"1","v":', SENML_JSON),
            (Code.PUT, "/1/0", b"\x9f\x01", SENML_CBOR),  # unterminated indefinite array
            (Code.PUT, "/1/0", cbor2.dumps([{0: "1", 3: "not a number"}]), SENML_CBOR),
            (Code.PUT, "/1/0/1", b"12", 9999),
        ]
        expected = ["4.00", "4.00", "4.00", "4.00", "4.00", "4.15"]
        for (code, path, payload, cf), want in zip(raw, expected):
            res = await server._request(ep, "raw", code, path, payload, cf)
            assert res.code == want, (path, payload, cf, res.code)
        big = await server._request(ep, "raw", Code.PUT, "/1/0/1", b"1" * 5000, TEXT)
        assert big.code == "4.13", big.code
        after = (await server.read(ep, "/1/0", accept=SENML_CBOR)).values
        assert after == before
