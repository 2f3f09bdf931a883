"""LwM2M host server figures: codec speed per content format, and over loopback UDP the
Register, Read and Observe round trips against a minimal aiocoap client, SQLite file vs memory.
Prints figures only (host CPU, 2 shared cores: compare runs on the same machine)."""

import asyncio
import os
import statistics
import tempfile
import time

from aiocoap import Context, Message, resource
from aiocoap.numbers.codes import Code

from host_tools.lwm2m_server import LwM2MServer, codecs

_DEVICE = {
    "/3/0/0": "Open Mobile Alliance", "/3/0/1": "Lightweight M2M Client", "/3/0/2": "345000123",
    "/3/0/3": "1.0", "/3/0/6/0": 1, "/3/0/6/1": 5, "/3/0/7/0": 3800, "/3/0/7/1": 5000,
    "/3/0/9": 100, "/3/0/10": 15, "/3/0/11/0": 0, "/3/0/13": 1367491215, "/3/0/14": "+02:00",
    "/3/0/16": "U",
}


def _per_op_us(fn, seconds=0.3):
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(50):
            fn()
        n += 50
    return (time.perf_counter() - start) / n * 1e6


def bench_codecs():
    print("codec (Device object instance, %d resources)   bytes  encode us  decode us" % len(_DEVICE))
    for name in ("tlv", "senml-json", "senml-cbor", "lwm2m-cbor"):
        payload = codecs.encode(name, _DEVICE, "/3/0")
        enc = _per_op_us(lambda: codecs.encode(name, _DEVICE, "/3/0"))
        dec = _per_op_us(lambda: codecs.decode(name, payload, "/3/0"))
        print("  %-44s %5d  %9.1f  %9.1f" % (name, len(payload), enc, dec))


class _Device(resource.ObservableResource):
    def __init__(self):
        super().__init__()
        self.payload = codecs.encode("tlv", _DEVICE, "/3/0")

    async def render_get(self, request):
        msg = Message(code=Code.CONTENT, payload=self.payload)
        msg.opt.content_format = 11542
        return msg


async def _client():
    site = resource.Site()
    res = _Device()
    site.add_resource(("3", "0"), res)
    ctx = await Context.create_server_context(site, bind=("127.0.0.1", 0), transports=["udp6"])
    return ctx, res


async def _register(ctx, port, ep):
    msg = Message(code=Code.POST, uri="coap://127.0.0.1:%d/rd?ep=%s&lt=300&lwm2m=1.1" % (port, ep),
                  payload=b"</1/0>,</3/0>")
    msg.opt.content_format = 40
    return await asyncio.wait_for(ctx.request(msg).response, 10)


def _stats(label, samples_s):
    ms = sorted(s * 1000 for s in samples_s)
    print("  %-40s n=%4d  median %6.2f ms  p95 %6.2f ms" % (
        label, len(ms), statistics.median(ms), ms[int(len(ms) * 0.95) - 1]))


async def bench_network(db, label, n_clients=20, n_reads=200, n_notify=200):
    server = await LwM2MServer.start(port=0, db=db, timeout=10.0)
    clients = [await _client() for _ in range(n_clients)]
    try:
        print("loopback UDP, db=%s" % label)
        samples = []
        for i, (ctx, _) in enumerate(clients):
            t = time.perf_counter()
            resp = await _register(ctx, server.port, "bench%d" % i)
            samples.append(time.perf_counter() - t)
            if resp.code != Code.CREATED:
                raise RuntimeError("bench client %d not registered: %s" % (i, resp))
        _stats("Register -> 2.01", samples)
        samples = []
        for i in range(n_reads):
            t = time.perf_counter()
            res = await server.read("bench%d" % (i % n_clients), "/3/0", accept="tlv")
            samples.append(time.perf_counter() - t)
        print("  (last read: %s, %d values)" % (res.code, len(res.values)))
        _stats("Read /3/0 TLV, decode incl.", samples)
        t = time.perf_counter()
        await asyncio.gather(*(server.read("bench%d" % (i % n_clients), "/3/0") for i in range(n_reads)))
        dt = time.perf_counter() - t
        print("  %-40s %6.0f reads/s (%d concurrent over %d clients)" % ("Read throughput", n_reads / dt,
                                                                       n_reads, n_clients))
        obs = server.observe("bench0", "/3/0")
        await obs.next(10)
        res = clients[0][1]
        t = time.perf_counter()
        for _ in range(n_notify):
            res.updated_state()
            await obs.next(10)
        dt = time.perf_counter() - t
        print("  %-40s %6.0f notifications/s (CON, each acked, stored)" % ("Observe", n_notify / dt))
        await obs.cancel()
    finally:
        for ctx, _ in clients:
            await ctx.shutdown()
        await server.stop()


def main():
    bench_codecs()
    asyncio.run(bench_network(":memory:", "memory"))
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(bench_network(os.path.join(tmp, "bench.sqlite"), "sqlite file"))


if __name__ == "__main__":
    main()
