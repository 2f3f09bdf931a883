"""CoAP engine figures (printed, never asserted):

  - heap of an idle Endpoint on the MicroPython Unix port (modules imported first)
  - live heap peak over idle during block-wise transfers of 64 KB and 256 KB (GET and PUT as
    client against aiocoap): it must not grow with the body
  - bytes on the wire of typical LwM2M-shaped messages: ours vs. the minimal encoding vs. aiocoap
  - block-wise GET throughput of the MicroPython client divided by aiocoap's own client, same
    aiocoap server, same run
  - with the frozen image: RAM the imports take, and the smallest heap in which the demo
    serves 256 KB block-wise to libcoap

    python -m host_tools.bench coap

The firmware's coap package is not frozen into build/bin/micropython yet, so the modules are
compiled with build/bin/mpy-cross into a temporary directory and loaded from there (bytecode in
RAM, as a frozen image would have in flash: heap figures include the module code).
"""

import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MPY = os.path.join(ROOT, "build", "bin", "micropython")
MPY_CROSS = os.path.join(ROOT, "build", "bin", "mpy-cross")
FIRMWARE = os.path.join(ROOT, "firmware")
MOD = 251

# Runs on MicroPython. argv: mode port size block
_DEVICE_SCRIPT = r'''
import gc, sys, time, asyncio
gc.collect()
base = gc.mem_alloc()
from coap import numbers as N
from coap.endpoint import Endpoint
from coap.message import Message
from coap.transport_udp import UdpTransport
gc.collect()
mods = gc.mem_alloc() - base

class Sampler:
    def __init__(self, every):
        self.peak = 0
        self.n = 0
        self.every = every
    def sample(self):
        self.n += 1
        if self.every and self.n % self.every == 0:
            gc.collect()
            a = gc.mem_alloc()
            if a > self.peak:
                self.peak = a

class Sink:
    def __init__(self, s):
        self.s = s
        self.size = 0
    def write(self, off, mv):
        self.size = off + len(mv)
        self.s.sample()

class Reader:
    def __init__(self, size, s):
        self.size = size
        self.s = s
        self.pat = bytes(i % 251 for i in range(251 + 1024))
    def read_into(self, off, buf):
        n = min(len(buf), self.size - off)
        if n <= 0:
            return 0
        st = off % 251
        k = min(n, 1024)
        buf[:k] = memoryview(self.pat)[st:st + k]
        self.s.sample()
        return n

async def serve(port, size):
    s = Sampler(4)
    def handler(req, remote):
        p = req.path_str()
        if p == "/big":
            r = Message(code=N.CONTENT)
            r.body_reader = Reader(size, s)
            return r
        if p == "/sink":
            return Message(code=N.CHANGED, payload=str(req.body_size).encode())
        if p == "/mark":
            gc.collect()
            s.before = gc.mem_alloc()
            s.peak = s.before
            return Message(code=N.CONTENT)
        if p == "/result":
            return Message(code=N.CONTENT, payload=("peak=%d before=%d" % (s.peak, s.before)).encode())
    ep = Endpoint(UdpTransport("127.0.0.1", port), handler, open_sink=lambda req, remote: Sink(s)).start()
    import coap.block  # noqa: F401 - loaded on first use; in the baseline here, as on the client side
    gc.collect()
    print("READY idle=%d mods=%d" % (gc.mem_alloc() - base - mods, mods))
    await asyncio.sleep(120)

async def main(mode, port, size, block):
    if mode == "serve":
        return await serve(port, size)
    ep = Endpoint(UdpTransport("127.0.0.1", 0)).start()
    await asyncio.sleep_ms(50)
    gc.collect()
    idle = gc.mem_alloc() - base - mods
    remote = ep.resolve("127.0.0.1", port)
    every = 4 if mode != "speed" else 0
    s = Sampler(every)
    warm = 0
    if mode != "speed":
        # Block-wise code is loaded on first use: one transfer first puts it into the baseline,
        # so the peak below is the transfer's own state (the load is printed as warm=).
        await ep.request(remote, Message(code=N.GET).set_uri_path("/blob"), block_size=block,
                         body_sink=Sink(Sampler(0)))
        gc.collect()
        warm = gc.mem_alloc() - base - mods - idle
    gc.collect()
    before = gc.mem_alloc()
    t0 = time.ticks_ms()
    if mode == "put":
        r = await ep.request(remote, Message(code=N.PUT).set_uri_path("/sink"), block_size=block,
                             body_reader=Reader(size, s))
        got = size
    else:
        sink = Sink(s)
        r = await ep.request(remote, Message(code=N.GET).set_uri_path("/blob"), block_size=block,
                             body_sink=sink)
        got = sink.size
    ms = time.ticks_diff(time.ticks_ms(), t0)
    print("RESULT mods=%d idle=%d warm=%d before=%d peak=%d ms=%d bytes=%d code=%s" % (
        mods, idle, warm, before, s.peak, ms, got, N.code_str(r.code)))
    await ep.close()

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
'''

_AIOCOAP_CLIENT = r'''
import asyncio, sys, time, aiocoap
async def main(port, size):
    ctx = await aiocoap.Context.create_client_context()
    t0 = time.monotonic()
    r = await ctx.request(aiocoap.Message(code=aiocoap.GET, uri="coap://127.0.0.1:%d/blob" % port)).response
    ms = (time.monotonic() - t0) * 1000
    print("RESULT ms=%d bytes=%d" % (ms, len(r.payload)))
    await ctx.shutdown()
asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
'''


def _serve(port, size):
    """aiocoap server with /blob (GET, `size` bytes) and /sink (PUT, discards)."""
    import aiocoap
    import aiocoap.resource as resource

    body = bytes(i % MOD for i in range(size))

    class Blob(resource.Resource):
        async def render_get(self, request):
            return aiocoap.Message(code=aiocoap.CONTENT, payload=body)

    class Sink(resource.Resource):
        async def render_put(self, request):
            return aiocoap.Message(code=aiocoap.CHANGED, payload=str(len(request.payload)).encode())

    async def run():
        site = resource.Site()
        site.add_resource(["blob"], Blob())
        site.add_resource(["sink"], Sink())
        ctx = await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", port),
                                                          transports=["udp6"])
        print("ready", flush=True)
        try:
            await asyncio.sleep(300)
        finally:
            await ctx.shutdown()

    asyncio.run(run())


def _free_port():
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _compile(dst):
    src = os.path.join(FIRMWARE, "coap")
    os.makedirs(os.path.join(dst, "coap"))
    for name in sorted(os.listdir(src)):
        if name.endswith(".py"):
            subprocess.run([MPY_CROSS, "-o", os.path.join(dst, "coap", name[:-3] + ".mpy"),
                            os.path.join(src, name)], check=True, cwd=src)


def _result(out):
    m = re.search(r"RESULT (.*)", out)
    if not m:
        raise RuntimeError("no result:\n" + out[-2000:])
    return {k: (int(v) if v.lstrip("-").isdigit() else v) for k, v in (kv.split("=") for kv in m.group(1).split())}


def _server(size):
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, "-u", "-m", "host_tools.bench.coap", "--serve", str(port), str(size)],
                            stdout=subprocess.PIPE, text=True, env=env, start_new_session=True)
    line = proc.stdout.readline()
    if "ready" not in line:
        proc.kill()
        raise RuntimeError("aiocoap server did not start")
    return proc, port


def _device(libdir, script, mode, port, size, block, heap="256K"):
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([libdir, ".frozen"]))
    out = subprocess.run([MPY, "-X", "heapsize=" + heap, script, mode, str(port), str(size), str(block)],
                         capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    return _result(out.stdout + out.stderr)


def _serve_figures(libdir, script, size):
    import aiocoap

    port = _free_port()
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([libdir, ".frozen"]))
    dev = subprocess.Popen([MPY, "-X", "heapsize=256K", script, "serve", str(port), str(size), "1024"],
                           stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT, start_new_session=True)
    try:
        if not dev.stdout.readline().startswith("READY"):
            raise RuntimeError("device server did not start")
        uri = "coap://127.0.0.1:%d" % port

        async def run():
            ctx = await aiocoap.Context.create_client_context()
            figures = {}
            try:
                for mode in ("GET", "PUT"):
                    await ctx.request(aiocoap.Message(code=aiocoap.GET, uri=uri + "/mark")).response
                    if mode == "GET":
                        r = await ctx.request(aiocoap.Message(code=aiocoap.GET, uri=uri + "/big")).response
                        assert len(r.payload) == size
                    else:
                        body = bytes(i % MOD for i in range(size))
                        await ctx.request(aiocoap.Message(code=aiocoap.PUT, uri=uri + "/sink", payload=body)).response
                    res = await ctx.request(aiocoap.Message(code=aiocoap.GET, uri=uri + "/result")).response
                    kv = dict(x.split("=") for x in res.payload.decode().split())
                    figures[mode] = int(kv["peak"]) - int(kv["before"])
            finally:
                await ctx.shutdown()
            return figures

        return asyncio.run(asyncio.wait_for(run(), 120))
    finally:
        dev.kill()
        dev.wait(timeout=5)


def _frozen_smallest_heap(size=262144):
    """Smallest -X heapsize at which the demo, run from the frozen image, serves `size` bytes
    block-wise to libcoap's client with no error counted. None if the image lacks coap.endpoint."""
    env = dict(os.environ, MICROPYPATH=".frozen")
    probe = subprocess.run([MPY, "-c", "import gc; gc.collect(); a = gc.mem_alloc(); import coap.demo_device; "
                            "gc.collect(); print(gc.mem_alloc() - a)"], capture_output=True, text=True, env=env,
                           cwd=ROOT, timeout=20)
    if probe.returncode != 0:
        return None, None
    client = "/usr/bin/coap-client-notls"
    for kb in (40, 48, 56, 64, 80, 96, 128):
        port = _free_port()
        dev = subprocess.Popen([MPY, "-X", "heapsize=%dK" % kb, "-m", "coap.demo_device", "--no-client", "--listen",
                                str(port), "--size", str(size), "--tick-ms", "100000"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT, start_new_session=True)
        try:
            if "listening" not in dev.stdout.readline():
                continue
            uri = "coap://127.0.0.1:%d" % port
            with tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, "big")
                subprocess.run([client, "-B", "20", "-o", out, uri + "/big"], capture_output=True, timeout=40)
                got = os.path.getsize(out) if os.path.exists(out) else 0
            stats = subprocess.run([client, "-B", "5", uri + "/stats"], capture_output=True, timeout=20).stdout
            if got == size and b" errors=0 " in stats:
                return kb, int(probe.stdout.strip())
        except subprocess.TimeoutExpired:
            pass
        finally:
            dev.kill()
            dev.wait(timeout=5)
    return None, int(probe.stdout.strip())


def _wire_sizes():
    import aiocoap

    sys.path.insert(0, FIRMWARE)
    sys.path.insert(0, os.path.join(ROOT, "tests", "cpython_shim"))
    from coap import numbers as N
    from coap import options as O
    from coap.message import Message

    link = b"</1/0>,</3/0>,</3303/0>,</3303/1>,</5/0>"
    cases = [
        ("Register POST /rd", Message(N.CON, N.POST, 1, b"\x01\x02\x03\x04",
                                      [(N.URI_PATH, "rd"), (N.CONTENT_FORMAT, N.FMT_LINK_FORMAT),
                                       (N.URI_QUERY, "ep=urn:imei:490154203237518"), (N.URI_QUERY, "lt=86400"),
                                       (N.URI_QUERY, "lwm2m=1.1"), (N.URI_QUERY, "b=U")], link)),
        ("Read GET /3/0/0", Message(N.CON, N.GET, 2, b"\xaa\xbb", [(N.URI_PATH, "3"), (N.URI_PATH, "0"),
                                                                  (N.URI_PATH, "0"), (N.ACCEPT, N.FMT_LWM2M_TLV)])),
        ("2.05 TLV 12 B", Message(N.ACK, N.CONTENT, 2, b"\xaa\xbb", [(N.CONTENT_FORMAT, N.FMT_LWM2M_TLV)],
                                  b"\xc8\x00\x0aExampleCo")),
        ("notify SenML-CBOR", Message(N.NON, N.CONTENT, 3, b"\x11\x22\x33\x44",
                                      [(N.OBSERVE, 70000), (N.CONTENT_FORMAT, N.FMT_SENML_CBOR)], bytes(18))),
        ("Block2 1024 B", Message(N.ACK, N.CONTENT, 4, b"\x01\x02\x03\x04",
                                  [(N.CONTENT_FORMAT, N.FMT_OCTET_STREAM), (N.BLOCK2, O.block_encode(37, True, 6))],
                                  bytes(1024))),
        ("empty ACK", Message(N.ACK, N.EMPTY, 5)),
    ]
    print("  %-20s %6s %8s %8s" % ("message", "ours", "minimal", "aiocoap"))
    for name, m in cases:
        ours = len(m.encode())
        # Minimal: header + token + per option the shortest header for its delta/length and the
        # shortest value (uint without leading zeros), + marker and payload if any.
        minimal, prev = 4 + len(m.token), 0
        for num, val in sorted(m.options, key=lambda o: o[0]):
            vl = O.value_len(num, val)
            minimal += O.header_len(num - prev, vl) + vl
            prev = num
        minimal += (1 + len(m.payload)) if m.payload else 0
        am = aiocoap.Message(mtype=aiocoap.numbers.types.Type(m.mtype), code=aiocoap.numbers.codes.Code(m.code),
                             mid=m.mid, token=m.token, payload=m.payload)
        for num, val in m.options:
            opt = aiocoap.numbers.optionnumbers.OptionNumber(num)
            if num in (N.BLOCK1, N.BLOCK2):
                val = O.block_decode(val)
            am.opt.add_option(opt.create_option(value=val))
        theirs = len(am.encode())
        print("  %-20s %6d %8d %8d" % (name, ours, minimal, theirs))
    print("  (token lengths as chosen by the sender: ours uses 4-byte tokens for its own requests)")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--serve"]:
        _serve(int(argv[1]), int(argv[2]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        _compile(tmp)
        script = os.path.join(tmp, "coap_bench_device.py")
        with open(script, "w") as f:
            f.write(_DEVICE_SCRIPT)
        version = subprocess.run([MPY, "-c", "import sys; print(sys.version)"], capture_output=True,
                                 text=True).stdout.strip()
        print("%s; coap modules as .mpy from mpy-cross (not frozen), MICROPYPATH=<tmp>:.frozen, "
              "heapsize 256K" % version)

        print("\n[heap] block-wise transfers against aiocoap, live heap sampled after gc.collect()")
        procs = []
        try:
            for size in (65536, 262144):
                proc, port = _server(size)
                procs.append(proc)
                for mode in ("get", "put"):
                    r = _device(tmp, script, mode, port, size, 1024)
                    if mode == "get" and size == 65536:
                        print("  modules imported: %d B; idle endpoint (UDP, started): %d B; block-wise code"
                              " loaded by the first transfer: %d B" % (r["mods"], r["idle"], r["warm"]))
                    print("  %-3s %6d B  (%s): peak over idle %5d B  [peak %d, before %d]" % (
                        mode.upper(), r["bytes"], r["code"], r["peak"] - r["before"], r["peak"], r["before"]))
            print("\n[heap] MicroPython as server, aiocoap client GET /big and PUT /sink (1024 B blocks)")
            for size in (65536, 262144):
                for mode, r in _serve_figures(tmp, script, size).items():
                    print("  served %-3s %6d B: peak over idle %5d B" % (mode, size, r))
            print("\n[heap] frozen image (build/bin/micropython as last built; current after `make`)")
            kb, mods = _frozen_smallest_heap()
            if mods is None:
                print("  coap is not frozen into this build: skipped")
            else:
                print("  demo_device import (frozen code, RAM for module dicts/classes): %d B" % mods)
                print("  smallest heap serving 256 KB block-wise to coap-client-notls: %s"
                      % ("%d KB" % kb if kb else "none of 40..128 KB"))
            print("\n[wire] bytes per message")
            _wire_sizes()
            print("\n[speed] block-wise GET 256 KB, 1024 B blocks, from one aiocoap server")
            proc, port = _server(262144)
            procs.append(proc)
            mp, ai = [], []
            for _ in range(3):
                mp.append(_device(tmp, script, "speed", port, 262144, 1024)["ms"])
                out = subprocess.run([sys.executable, "-c", _AIOCOAP_CLIENT, str(port), "262144"],
                                     capture_output=True, text=True, timeout=300).stdout
                ai.append(_result(out)["ms"])
            mbest, abest = min(mp), min(ai)
            print("  MicroPython client: %s ms (best %d ms, %.0f KB/s)" % (mp, mbest, 256 * 1000 / max(1, mbest)))
            print("  aiocoap client:     %s ms (best %d ms, %.0f KB/s)" % (ai, abest, 256 * 1000 / max(1, abest)))
            print("  throughput ratio MicroPython/aiocoap: %.2f (goal >= 1.0)" % (abest / max(1, mbest)))
        finally:
            for p in procs:
                p.kill()
                p.wait(timeout=5)


if __name__ == "__main__":
    main()
