"""Foundation demo on the device: one CoAP endpoint that serves resources and is a client of a
host server at the same time, narrating each step on stdout (one line per step).

    micropython -m coap.demo_device --server 127.0.0.1:5683 --listen 5684 [--size 65536]
        [--block 1024] [--serve-seconds 30] [--get /blob] [--put /sink] [--no-client]
        [--tick-ms 1000] [--con-notify] [--host 127.0.0.1 | --host ::1] [--max-block 1024]

Served here:  /hello (text), /stats (endpoint counters), /slow (separate response),
              /big (generated body of --size bytes, block-wise), /counter (observable, ticks
              every --tick-ms), /counter-log (observable, ~3 KB: notified block-wise),
              /sink (PUT/POST: block-wise upload, counted), /echo
Asked of the host (unless --no-client): GET --get block-wise, PUT and POST --put block-wise.
Bodies follow one pattern, byte i = i % 251, so both sides can check them without storing."""

import sys

import asyncio
import hashlib

from coap import error as E
from coap import numbers as N
from coap import options as O
from coap.endpoint import Endpoint
from coap.message import Message
from coap.transport_udp import UdpTransport

_MOD = 251
_PAT = bytes(i % _MOD for i in range(_MOD + 1024))


class PatternReader:
    """The demo body: `size` bytes of i % 251, produced block by block."""

    def __init__(self, size):
        self.size = size

    def read_into(self, offset, buf):
        n = min(len(buf), self.size - offset)
        if n <= 0:
            return 0
        mv = memoryview(buf)
        done = 0
        while done < n:
            start = (offset + done) % _MOD
            k = min(n - done, 1024)
            mv[done:done + k] = memoryview(_PAT)[start:start + k]
            done += k
        return n


class CheckSink:
    """Consumes a body, checks it against the pattern and hashes it; keeps nothing."""

    def __init__(self):
        self.size = 0
        self.bad_at = None
        self.blocks = 0
        self._h = hashlib.sha256()

    def write(self, offset, mv):
        if offset != self.size and self.bad_at is None:
            self.bad_at = offset
        for i in range(0, len(mv), 97):  # spot-check: a full compare costs more than the transfer
            if mv[i] != (offset + i) % _MOD and self.bad_at is None:
                self.bad_at = offset + i
        self._h.update(mv)
        self.size = offset + len(mv)
        self.blocks += 1

    def digest(self):
        return self._h.digest().hex()[:16]


class DemoResources:
    def __init__(self, size, say):
        self.size = size
        self.counter = 0
        self.uploads = 0
        self.say = say
        self._sinks = {}
        self.ep = None

    def open_sink(self, req, remote):
        if req.path_str() != "/sink":
            return None  # the endpoint assembles other bodies in RAM (up to 4 KB)
        sink = CheckSink()
        self._sinks[remote] = sink
        return sink

    async def _slow(self):
        # Longer than the endpoint's empty-ACK delay: answered as a separate response.
        await asyncio.sleep_ms(1500)
        return Message(code=N.CONTENT, options=[(N.CONTENT_FORMAT, N.FMT_TEXT)], payload=b"slow but sure")

    def __call__(self, req, remote):
        path = req.path_str()
        code = req.code
        if path == "/hello":
            if code != N.GET:
                raise E.MethodNotAllowed(path)
            return Message(code=N.CONTENT, options=[(N.CONTENT_FORMAT, N.FMT_TEXT)], payload=b"hello from micropython")
        if path == "/big":
            if code != N.GET:
                raise E.MethodNotAllowed(path)
            r = Message(code=N.CONTENT, options=[(N.CONTENT_FORMAT, N.FMT_OCTET_STREAM)])
            r.body_reader = PatternReader(self.size)
            return r
        if path == "/counter-log":
            # An observable body larger than one block: notifications carry the first block
            # and observers fetch the rest (RFC 7959 §3.4).
            if code != N.GET:
                raise E.MethodNotAllowed(path)
            line = ("counter=%d\n" % self.counter).encode()
            # The ETag lets the observer notice a tick between two blocks (RFC 7959 §2.4).
            etag = (self.counter & 0xFFFFFFFF).to_bytes(4, "big")
            return Message(code=N.CONTENT, options=[(N.CONTENT_FORMAT, N.FMT_TEXT), (N.ETAG, etag)],
                           payload=line * (3000 // len(line)))
        if path == "/counter":
            if code != N.GET:
                raise E.MethodNotAllowed(path)
            return Message(code=N.CONTENT, options=[(N.CONTENT_FORMAT, N.FMT_TEXT)],
                           payload=str(self.counter).encode())
        if path == "/sink":
            if code not in (N.PUT, N.POST):
                raise E.MethodNotAllowed(path)
            sink = getattr(req, "body_sink", None)
            n = getattr(req, "body_size", len(req.payload))
            self.uploads += 1
            ok = sink is None or sink.bad_at is None
            blocks = sink.blocks if sink is not None else 1
            self.say("served %s %s: %d bytes, %d blocks%s" % (N.code_str(code), path, n, blocks,
                                                               "" if ok else " CORRUPT"))
            return Message(code=N.CHANGED if code == N.PUT else N.CREATED, payload=str(n).encode())
        if path == "/slow":
            return self._slow()
        if path == "/stats" and self.ep is not None:
            st = self.ep.stats
            return Message(code=N.CONTENT, payload=" ".join("%s=%d" % (k, st[k]) for k in sorted(st)).encode())
        if path == "/echo":
            return Message(code=N.CONTENT, payload=req.payload)
        raise E.NotFound(path)


def _say(text):
    print("demo:", text)


def _parse(argv):
    opts = {"server": None, "listen": 5684, "size": 65536, "block": 1024, "serve": -1,
            "get": "/blob", "put": "/sink", "client": True, "tick": 1000, "host": "127.0.0.1",
            "con": False, "max_block": 1024}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--no-client":
            opts["client"] = False
            i += 1
            continue
        if a == "--con-notify":
            opts["con"] = True
            i += 1
            continue
        v = argv[i + 1]
        i += 2
        if a == "--server":
            host, _, port = v.rpartition(":")
            opts["server"] = (host.strip("[]"), int(port))
        elif a == "--listen":
            opts["listen"] = int(v)
        elif a == "--host":
            opts["host"] = v
        elif a == "--size":
            opts["size"] = int(v)
        elif a == "--block":
            opts["block"] = int(v)
        elif a == "--serve-seconds":
            opts["serve"] = int(v)
        elif a == "--get":
            opts["get"] = v
        elif a == "--put":
            opts["put"] = v
        elif a == "--max-block":
            opts["max_block"] = int(v)
        elif a == "--tick-ms":
            opts["tick"] = int(v)
        else:
            raise ValueError("unknown option " + a)
    return opts


async def _client_steps(ep, opts):
    host, port = opts["server"]
    remote = ep.resolve(host, port)
    blk = opts["block"]
    _say("client: GET %s from %s:%d block-wise (%d B blocks)" % (opts["get"], host, port, blk))
    sink = CheckSink()
    resp = await ep.request(remote, Message(code=N.GET).set_uri_path(opts["get"]),
                            block_size=blk, body_sink=sink)
    _say("client: GET %s -> %s, %d bytes in %d blocks, sha256 %s, %s" % (
        opts["get"], N.code_str(resp.code), sink.size, sink.blocks, sink.digest(),
        "pattern ok" if sink.bad_at is None else "MISMATCH at %d" % sink.bad_at))
    for code in (N.PUT, N.POST):
        _say("client: %s %s %d bytes block-wise" % ("PUT" if code == N.PUT else "POST", opts["put"], opts["size"]))
        resp = await ep.request(remote, Message(code=code).set_uri_path(opts["put"]),
                                block_size=blk, body_reader=PatternReader(opts["size"]))
        _say("client: %s %s -> %s %s" % ("PUT" if code == N.PUT else "POST", opts["put"],
                                          N.code_str(resp.code), bytes(resp.payload).decode()))


async def main(argv):
    opts = _parse(argv)
    res = DemoResources(opts["size"], _say)
    ep = Endpoint(UdpTransport(opts["host"], opts["listen"]), res, open_sink=res.open_sink,
                  max_szx=O.size_to_szx(opts["max_block"]), log=_say).start()
    res.ep = ep
    _say("listening on %s:%d (/hello /big /counter /counter-log /sink /slow /echo), block size %d" % (
        opts["host"], opts["listen"], 16 << ep.max_szx))
    try:
        if opts["client"] and opts["server"]:
            try:
                await _client_steps(ep, opts)
            except Exception as e:
                _say("client: failed: %r" % (e,))
        _say("serving; /counter ticks every %d ms" % opts["tick"])
        left = opts["serve"] * 1000
        while left != 0:
            await asyncio.sleep_ms(opts["tick"])
            left = max(0, left - opts["tick"]) if left > 0 else left
            res.counter += 1
            n = ep.notify("/counter", opts["con"]) + ep.notify("/counter-log", opts["con"])
            if n:
                _say("notify /counter=%d to %d observer(s)" % (res.counter, n))
    finally:
        _say("stats " + " ".join("%s=%d" % (k, ep.stats[k]) for k in sorted(ep.stats)))
        await ep.close()
        _say("closed")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
