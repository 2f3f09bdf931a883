# Runs on the MicroPython Unix port: the firmware LwM2M client (lwm2m.client) with objects
# 0/1/3/4 and /3443, for the server's block-wise notification test. stdin: `put N SEED` stores N
# pattern bytes in /3443/0/3 (an IPA message), which notifies observers.
#   micropython lwm2m_server_bigdev.py EP SERVER_URI
import asyncio
import sys

from coap.transport_udp import UdpTransport
from lwm2m.client import Client, make_registry
from objects import obj_esim_iot


def pattern(n, seed):
    return bytes((i * 7 + seed) & 0xFF for i in range(n))


async def _stdin(client, esim):
    reader = asyncio.StreamReader(sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            client.stop()
            return
        words = line.decode().split()
        if words and words[0] == "put":
            esim.put(pattern(int(words[1]), int(words[2])))
            print("bigdev put", words[1])


async def main(ep, uri):
    reg = make_registry()
    esim = obj_esim_iot.create(reg, eid="89049032123451234512345678901041")
    client = Client(reg, ep, UdpTransport("0.0.0.0", 0), log=print)
    client.configure(server_uri=uri, lifetime=60)
    task = asyncio.create_task(_stdin(client, esim))
    try:
        await client.run()
    finally:
        task.cancel()


asyncio.run(main(sys.argv[1], sys.argv[2]))
