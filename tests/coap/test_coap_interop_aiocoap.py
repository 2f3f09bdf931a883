"""Interop of the MicroPython CoAP endpoint with aiocoap, an independent implementation:
aiocoap as client of the device (RFC 7252 methods, RFC 7959 block-wise both ways, RFC 7641
observe) and as server the device is a client of."""

import asyncio
import warnings

import pytest
import aiocoap
from aiocoap.optiontypes import BlockOption

import harness
from coap_fixtures import pattern, start_device, start_peer

BODY = 65536


@pytest.fixture
def device(processes):
    port = harness.free_port()
    dev = start_device(processes, port, "--no-client", "--size", BODY, "--tick-ms", 300)
    dev.port = port
    return dev


def _run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


async def _with_client(fn):
    ctx = await aiocoap.Context.create_client_context()
    try:
        return await fn(ctx)
    finally:
        await ctx.shutdown()


def _uri(dev, path):
    return "coap://127.0.0.1:%d%s" % (dev.port, path)


def test_rfc7252_methods_against_aiocoap_client(device):
    async def go(ctx):
        out = {}
        r = await ctx.request(aiocoap.Message(code=aiocoap.GET, uri=_uri(device, "/hello"))).response
        out["get"] = (r.code, r.payload, r.opt.content_format)
        r = await ctx.request(aiocoap.Message(code=aiocoap.PUT, uri=_uri(device, "/sink"), payload=pattern(100))).response
        out["put"] = (r.code, r.payload)
        r = await ctx.request(aiocoap.Message(code=aiocoap.POST, uri=_uri(device, "/sink"), payload=pattern(10))).response
        out["post"] = (r.code, r.payload)
        r = await ctx.request(aiocoap.Message(code=aiocoap.DELETE, uri=_uri(device, "/hello"))).response
        out["delete"] = r.code
        r = await ctx.request(aiocoap.Message(code=aiocoap.GET, uri=_uri(device, "/missing"))).response
        out["missing"] = r.code
        r = await ctx.request(aiocoap.Message(code=aiocoap.GET, transport_tuning=aiocoap.Unreliable,
                                              uri=_uri(device, "/hello"))).response
        out["non"] = (r.mtype, r.code)
        return out

    out = _run(_with_client(go))
    assert out["get"] == (aiocoap.CONTENT, b"hello from micropython", 0)
    assert out["put"] == (aiocoap.CHANGED, b"100")
    assert out["post"] == (aiocoap.CREATED, b"10")
    assert out["delete"] == aiocoap.METHOD_NOT_ALLOWED
    assert out["missing"] == aiocoap.NOT_FOUND
    assert out["non"] == (aiocoap.NON, aiocoap.CONTENT)


def test_rfc7252_5_2_2_separate_response_to_aiocoap(device):
    async def go(ctx):
        r = await ctx.request(aiocoap.Message(code=aiocoap.GET, uri=_uri(device, "/slow"))).response
        return r.code, r.payload, r.mtype

    code, payload, mtype = _run(_with_client(go))
    assert (code, payload) == (aiocoap.CONTENT, b"slow but sure")
    assert mtype == aiocoap.CON  # sent on its own after the empty ACK, not piggybacked


@pytest.mark.parametrize("szx", [0, 6], ids=["16B", "1024B"])
def test_rfc7959_block2_get_64k_by_aiocoap(device, szx):
    async def go(ctx):
        msg = aiocoap.Message(code=aiocoap.GET, uri=_uri(device, "/big"))
        msg.opt.block2 = BlockOption.BlockwiseTuple(0, False, szx)
        r = await ctx.request(msg).response
        return r.code, r.payload

    code, body = _run(_with_client(go))
    assert code == aiocoap.CONTENT
    assert len(body) == BODY and body == pattern(BODY)


@pytest.mark.parametrize("szx", [0, 6], ids=["16B", "1024B"])
def test_rfc7959_block1_put_64k_by_aiocoap(device, szx):
    async def go(ctx):
        msg = aiocoap.Message(code=aiocoap.PUT, uri=_uri(device, "/sink"), payload=pattern(BODY))
        msg.opt.block1 = BlockOption.BlockwiseTuple(0, False, szx)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # block1 as a size hint
            r = await ctx.request(msg).response
        return r.code, r.payload

    code, payload = _run(_with_client(go))
    assert (code, payload) == (aiocoap.CHANGED, str(BODY).encode())
    device.expect(r"served 0\.03 /sink: %d bytes, \d+ blocks$" % BODY, timeout=10)


@pytest.fixture
def con_device(processes):
    port = harness.free_port()
    dev = start_device(processes, port, "--no-client", "--tick-ms", 300, "--con-notify")
    dev.port = port
    return dev


def test_rfc7959_2_7_block1_and_block2_combined_post_by_aiocoap(device):
    """A 3000 B POST goes up in 256 B blocks and its 3000 B echo comes back block-wise; the
    follow-up Block2 requests (no body, no Block1) are served from the held response."""
    body = pattern(3000, offset=7)

    async def go(ctx):
        msg = aiocoap.Message(code=aiocoap.POST, uri=_uri(device, "/echo"), payload=body)
        msg.opt.block1 = BlockOption.BlockwiseTuple(0, False, 4)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            r = await ctx.request(msg).response
        return r.code, r.payload

    code, payload = _run(_with_client(go))
    assert code == aiocoap.CONTENT and payload == body


def test_rfc7641_observe_three_notifications_then_rst_deregisters(con_device):
    device = con_device
    async def go(ctx):
        req = ctx.request(aiocoap.Message(code=aiocoap.GET, uri=_uri(device, "/counter"), observe=0))
        first = await req.response
        values = [int(first.payload)]
        seqs = [first.opt.observe]
        async for note in req.observation:
            values.append(int(note.payload))
            seqs.append(note.opt.observe)
            if len(values) >= 4:
                break
        req.observation.cancel()
        # aiocoap still listens: the next (CON) notification carries a token it no longer
        # knows, which it answers with RST (RFC 7641 §3.6), so the device drops the observer.
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: device.expect(r"coap: observer .* reset", timeout=20))
        return values, seqs

    values, seqs = _run(_with_client(go))
    assert len(values) >= 4 and values == sorted(values) and len(set(values)) == len(values)
    assert seqs == sorted(seqs)


@pytest.mark.parametrize("block", [16, 1024])
def test_device_client_blockwise_against_aiocoap_server(processes, block):
    peer_port = harness.free_port()
    peer = start_peer(processes, peer_port, BODY)
    dev = start_device(processes, harness.free_port(), "--server", "127.0.0.1:%d" % peer_port,
                       "--size", BODY, "--block", block, "--serve-seconds", 1)
    dev.expect(r"client: GET /blob -> 2\.05, %d bytes in %d blocks, .*pattern ok" % (BODY, BODY // block), timeout=120)
    dev.expect(r"client: PUT /sink -> 2\.04 %d$" % BODY, timeout=120)
    dev.expect(r"client: POST /sink -> 2\.01 %d$" % BODY, timeout=120)
    peer.expect(r"PUT /sink %d bytes ok" % BODY, timeout=10)
    peer.expect(r"POST /sink %d bytes ok" % BODY, timeout=10)
    dev.expect(r"demo: closed", timeout=10)


def test_rfc7959_device_asks_smaller_blocks_aiocoap_follows(processes):
    """The device serves at most 256 B blocks: aiocoap's 1024 B Block1 upload and its 1024 B
    Block2 request are both answered with SZX 4, and aiocoap continues at that size (§2.5)."""
    port = harness.free_port()
    dev = start_device(processes, port, "--no-client", "--size", BODY, "--max-block", 256)
    dev.port = port

    async def go(ctx):
        msg = aiocoap.Message(code=aiocoap.PUT, uri=_uri(dev, "/sink"), payload=pattern(BODY))
        msg.opt.block1 = BlockOption.BlockwiseTuple(0, False, 6)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            put = await ctx.request(msg).response
        get = aiocoap.Message(code=aiocoap.GET, uri=_uri(dev, "/big"))
        get.opt.block2 = BlockOption.BlockwiseTuple(0, False, 6)
        got = await ctx.request(get).response
        return put, got

    put, got = _run(_with_client(go))
    assert (put.code, put.payload) == (aiocoap.CHANGED, str(BODY).encode()), put.payload
    assert got.code == aiocoap.CONTENT and got.payload == pattern(BODY)
    # One 1024 B block taken whole, then 256 B blocks: 1 + (65536 - 1024) / 256 = 253.
    dev.expect(r"served 0\.03 /sink: %d bytes, 253 blocks$" % BODY, timeout=10)


def test_rfc7959_3_4_blockwise_notifications_to_aiocoap(processes):
    """An observable ~3 KB resource: each notification carries Block2 #0 with Observe, and
    aiocoap fetches the remaining blocks itself; every assembled notification is whole."""
    port = harness.free_port()
    dev = start_device(processes, port, "--no-client", "--tick-ms", 1000)
    dev.port = port

    async def go(ctx):
        req = ctx.request(aiocoap.Message(code=aiocoap.GET, uri=_uri(dev, "/counter-log"), observe=0))
        bodies = [(await req.response).payload]
        async for note in req.observation:
            bodies.append(note.payload)
            if len(bodies) >= 3:
                break
        req.observation.cancel()
        return bodies

    bodies = _run(_with_client(go))
    values = []
    for body in bodies:
        lines = body.decode().split()
        assert len(body) > 1024 and len(set(lines)) == 1, body[:80]
        values.append(int(lines[0].split("=")[1]))
    assert values == sorted(values) and len(set(values)) == 3
