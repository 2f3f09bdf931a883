"""Exchanges complete over a lossy link: a seeded relay (host_tools/lossy_relay.py) drops,
duplicates and reorders 30 % of the datagrams between the MicroPython endpoint and aiocoap,
in both roles. Exercises retransmission with back-off (RFC 7252 §4.2) and deduplication (§4.5)."""

import asyncio
import warnings

import aiocoap
from aiocoap.optiontypes import BlockOption

import harness
from coap_fixtures import pattern, start_device, start_peer, start_relay

BODY = 8192


def test_lossy_relay_device_client_to_aiocoap_server(processes):
    peer_port, relay_port = harness.free_port(), harness.free_port()
    peer = start_peer(processes, peer_port, BODY)
    relay = start_relay(processes, relay_port, peer_port, seed=5)
    dev = start_device(processes, harness.free_port(), "--server", "127.0.0.1:%d" % relay_port,
                       "--size", BODY, "--block", 1024, "--serve-seconds", 1)
    dev.expect(r"client: GET /blob -> 2\.05, %d bytes in \d+ blocks, .*pattern ok" % BODY, timeout=150)
    dev.expect(r"client: PUT /sink -> 2\.04 %d$" % BODY, timeout=150)
    dev.expect(r"client: POST /sink -> 2\.01 %d$" % BODY, timeout=150)
    peer.expect(r"POST /sink %d bytes ok" % BODY, timeout=10)
    relay.proc.terminate()
    m = relay.expect(r"relay: in=(\d+) out=\d+ drop=(\d+) dup=(\d+) reorder=(\d+)", timeout=10)
    assert int(m.group(2)) + int(m.group(3)) + int(m.group(4)) > 0  # the link really was bad


def test_lossy_relay_aiocoap_client_to_device_server(processes):
    dev_port, relay_port = harness.free_port(), harness.free_port()
    dev = start_device(processes, dev_port, "--no-client", "--size", BODY, "--tick-ms", 100000)
    relay = start_relay(processes, relay_port, dev_port, seed=3)
    uri = "coap://127.0.0.1:%d" % relay_port

    async def go():
        ctx = await aiocoap.Context.create_client_context()
        try:
            got = await ctx.request(aiocoap.Message(code=aiocoap.GET, uri=uri + "/big")).response
            puts = []
            for i in range(2):
                msg = aiocoap.Message(code=aiocoap.PUT, uri=uri + "/sink", payload=pattern(BODY))
                msg.opt.block1 = BlockOption.BlockwiseTuple(0, False, 6)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    r = await ctx.request(msg).response
                puts.append((r.code, r.payload))
            return got, puts
        finally:
            await ctx.shutdown()

    got, puts = asyncio.run(asyncio.wait_for(go(), 200))
    assert got.code == aiocoap.CONTENT and got.payload == pattern(BODY)
    assert puts == [(aiocoap.CHANGED, str(BODY).encode())] * 2
    # Each upload reached the handler exactly once despite duplicated datagrams.
    dev.expect(r"served 0\.03 /sink: %d bytes, \d+ blocks$" % BODY, timeout=10)
    dev.expect(r"served 0\.03 /sink: %d bytes, \d+ blocks$" % BODY, timeout=10)
    assert sum("served 0.03 /sink" in line for line in dev.lines) == 2
