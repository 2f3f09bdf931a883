"""The firmware LwM2M client (MicroPython Unix port) observed by the host server: its /3443/0/3
notifications larger than one block (RFC 7959 §3.4, sent as Block2 NUM 0 with M=1) reach the
server's observer whole, and the explicit cancel still reuses the observation's token."""

import asyncio
import os

import harness
from host_tools.lwm2m_server import LwM2MServer

_HERE = os.path.dirname(os.path.abspath(__file__))
_PATH = "/3443/0/3"


def _pattern(n, seed):
    return bytes((i * 7 + seed) & 0xFF for i in range(n))


async def _expect(dev, pattern, timeout=20.0):
    return await asyncio.to_thread(dev.expect, pattern, timeout)


def test_firmware_ipa_message_notification_2300B_arrives_whole(processes):
    async def run():
        server = await LwM2MServer.start(host="127.0.0.1", port=0, timeout=15.0)
        try:
            dev = harness.start_micropython(
                os.path.join(_HERE, "lwm2m_server_bigdev.py"),
                ["bw1", "coap://127.0.0.1:%d" % server.port], module=False, heapsize="256K",
                name="bw1")
            processes.append(dev)
            await server.wait_registered("bw1", 20)
            await _expect(dev, r"lwm2m registered /rd/")
            dev.send_line("put 3000 1")  # bigger than one block before the Observe
            await _expect(dev, r"bigdev put 3000")
            obs = server.observe("bw1", _PATH, accept="opaque")
            first = await obs.established()
            assert first.code == "2.05" and first.value == _pattern(3000, 1)
            assert (await obs.next(10)).value == _pattern(3000, 1)
            for size, seed in ((2300, 2), (40, 3), (1025, 4)):
                dev.send_line("put %d %d" % (size, seed))
                note = await obs.next(15)
                assert note.value == _pattern(size, seed), (size, len(note.payload))
            stored = server.store.notifications("bw1")
            assert [len(n["values"][_PATH]) for n in stored] == [2300, 40, 1025]
            res = await obs.cancel(explicit=True)
            assert res is not None and res.code == "2.05"
        finally:
            await server.stop()

    asyncio.run(asyncio.wait_for(run(), 90))
