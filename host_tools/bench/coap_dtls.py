"""CoAP over DTLS (certificate mode) figures, printed, never asserted:

  - handshake time and bytes on the wire per direction (datagrams, UDP payload, DTLS records by
    content type), measured by a counting UDP relay between the device and libcoap's
    coap-server (OpenSSL and GnuTLS builds; mutual auth, and server-only auth)
  - MicroPython heap: the SSL context with CA + client cert/key, the GC allocation volume of one
    handshake (gc disabled while it runs, so this bounds the handshake's peak from above), the
    heap an idle session keeps, and the smallest -X heapsize that completes connect + GET
  - process RSS growth across the handshake: on the Unix port mbedTLS (Debian's system library)
    allocates from libc, not from the GC heap, so its buffers only show there

    python -m host_tools.bench coap_dtls
"""

import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MPY = os.path.join(ROOT, "build", "bin", "micropython")
MPYPATH = os.pathsep.join([os.path.join(ROOT, "firmware"), ".frozen"])  # .frozen: the frozen image
SERVERS = {"openssl": "/usr/bin/coap-server-openssl", "gnutls": "/usr/bin/coap-server-gnutls"}
_CT = {20: "ccs", 21: "alert", 22: "handshake", 23: "appdata"}
_IP_UDP = 28  # IPv4 + UDP header bytes per datagram

# Runs on MicroPython. argv: host port pki_dir client_cert(0/1) rounds
_DEVICE = r'''
import gc, sys, time, asyncio
def rss():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096
    except OSError:
        return -1
def rd(p):
    with open(p, "rb") as f:
        return f.read()
a = sys.argv[1:]
early = None
if len(a) > 5 and a[5] == "early":
    # the context first, while the heap is still one piece
    from coap.transport_dtls import make_context
    early = make_context(rd(a[2] + "/ca.der"), rd(a[2] + "/client.der"), rd(a[2] + "/client.key.der"))
gc.collect()
base = gc.mem_alloc()
from coap import numbers as N
from coap.endpoint import Endpoint
from coap.message import Message
from coap.transport_dtls import DtlsClientTransport
gc.collect()
mods = gc.mem_alloc() - base

async def mark(phase):
    # The host switches its byte counters, then lets us go on: no datagram lands in the wrong phase.
    print("MARK " + phase)
    await stdin.readline()

async def main(host, port, pki, use_cert, rounds):
    ca = rd(pki + "/ca.der")
    cert = rd(pki + "/client.der") if use_cert else None
    key = rd(pki + "/client.key.der") if use_cert else None
    gc.collect()
    a0 = gc.mem_alloc()
    ciphers = a[6].split(",") if len(a) > 6 and a[6] != "-" else None
    t = DtlsClientTransport(host, port, ca, cert, key, server_hostname="localhost", context=early,
                            ciphers=ciphers)
    gc.collect()
    a_ctx = gc.mem_alloc() - a0
    ep = Endpoint(t).start()
    await asyncio.sleep_ms(10)
    gc.collect()
    a1 = gc.mem_alloc()
    r1 = rss()
    if rounds:
        gc.disable()  # measuring run: count every allocation of the handshake
    t0 = time.ticks_ms()
    await t.connect()
    hs_ms = time.ticks_diff(time.ticks_ms(), t0)
    volume = gc.mem_alloc() - a1
    gc.enable()
    gc.collect()
    idle = gc.mem_alloc() - a1
    r2 = rss()
    suite = t.cipher()[0]
    await mark("request")
    remote = t.resolve(host, port)
    t0 = time.ticks_ms()
    r = await ep.request(remote, Message(code=N.GET).set_uri_path("/time"))
    get_ms = time.ticks_diff(time.ticks_ms(), t0)
    print("RESULT mods=%d ctx=%d hs_ms=%d hs_volume=%d idle=%d rss_hs=%d get_ms=%d code=%s suite=%s" % (
        mods, a_ctx, hs_ms, volume, idle, r2 - r1, get_ms, N.code_str(r.code), suite))
    await ep.close()
    await mark("rounds")
    t = DtlsClientTransport(host, port, server_hostname="localhost", context=t._ctx)
    for i in range(rounds):
        # fresh sessions on one context: handshake time only
        t0 = time.ticks_ms()
        await t.connect()
        print("ROUND hs_ms=%d" % time.ticks_diff(time.ticks_ms(), t0))
        t.disconnect()
    t.close()

stdin = asyncio.StreamReader(sys.stdin)
asyncio.run(main(a[0], int(a[1]), a[2], a[3] == "1", int(a[4])))
'''


class CountingRelay:
    """UDP relay device <-> server that tallies datagrams, bytes and DTLS records per direction,
    split into phases by mark(). Each device address gets its own upstream socket, so every new
    device socket (a new session) is a new peer to the server, as without the relay."""

    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.port = self.front.getsockname()[1]
        self.backs = {}  # upstream socket -> device address
        self.by_device = {}
        self.phase = "handshake"
        self.tally = {}
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def mark(self, phase):
        self.phase = phase

    def _count(self, direction, data):
        t = self.tally.setdefault((self.phase, direction), {"datagrams": 0, "bytes": 0})
        t["datagrams"] += 1
        t["bytes"] += len(data)
        off = 0
        while off + 13 <= len(data):  # DTLS record header: type, version, epoch, seq, length
            ct = data[off]
            ln = int.from_bytes(data[off + 11:off + 13], "big")
            name = _CT.get(ct, "type%d" % ct)
            t[name] = t.get(name, 0) + 13 + ln
            t["records"] = t.get("records", 0) + 1
            off += 13 + ln

    def _upstream(self, addr):
        back = self.by_device.get(addr)
        if back is None:
            back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            back.connect(self.target)
            self.by_device[addr] = back
            self.backs[back] = addr
        return back

    def _run(self):
        while not self._stop:
            ready, _, _ = select.select([self.front] + list(self.backs), [], [], 0.1)
            for s in ready:
                try:
                    if s is self.front:
                        data, addr = self.front.recvfrom(4096)
                        self._count("c->s", data)
                        self._upstream(addr).send(data)
                    else:
                        data = s.recv(4096)
                        self._count("s->c", data)
                        self.front.sendto(data, self.backs[s])
                except OSError:
                    pass  # ICMP refused on an upstream socket: lost, like on the network

    def close(self):
        self._stop = True
        self._thread.join(timeout=2)
        for s in [self.front] + list(self.backs):
            s.close()


def _free_pair():
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", p + 1))
            except OSError:
                continue
        return p
    raise RuntimeError("no free port pair")


def _start_server(flavour, pki, mutual):
    port = _free_pair()
    argv = [SERVERS[flavour], "-A", "127.0.0.1", "-p", str(port), "-v", "3",
            "-c", pki.path("server.pem"), "-j", pki.path("server.key")]
    argv += ["-C", pki.path("ca.pem")] if mutual else ["-n"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    time.sleep(0.3)
    return proc, port + 1


def _device(script, port, pki, use_cert, rounds, heapsize="256K", relay=None, timeout=60,
            path=MPYPATH, extra=()):
    env = dict(os.environ, MICROPYPATH=path)
    argv = [MPY, "-X", "heapsize=%s" % heapsize, script, "127.0.0.1", str(port), pki.directory,
            "1" if use_cert else "0", str(rounds)] + list(extra)
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    lines = []
    deadline = time.monotonic() + timeout
    buf = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            proc.kill()
            lines.append("(killed after %d s without finishing)" % timeout)
            break
        ready, _, _ = select.select([proc.stdout], [], [], min(left, 1.0))
        if not ready:
            continue
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf:
            raw, buf = buf.split(b"\n", 1)
            line = raw.decode(errors="replace").rstrip()
            lines.append(line)
            if line.startswith("MARK "):
                if relay is not None:
                    relay.mark(line[5:])
                proc.stdin.write(b"go\n")
                proc.stdin.flush()
    proc.wait(timeout=10)
    return proc.returncode, lines


def _kv(line):
    return dict(w.split("=", 1) for w in line.split()[1:])


def _stats(values):
    values = sorted(values)
    return "median %d ms (min %d, max %d, n=%d)" % (values[len(values) // 2], values[0], values[-1],
                                                   len(values))


def _run_case(script, pki, flavour, mutual, ciphers=None):
    proc, dport = _start_server(flavour, pki, mutual)
    relay = CountingRelay(dport)
    try:
        rc, lines = _device(script, relay.port, pki, mutual, 5, relay=relay,
                            extra=["late", ciphers or "-"])
    finally:
        relay.close()
        proc.terminate()
        proc.wait(timeout=5)
    res = [ln for ln in lines if ln.startswith("RESULT")]
    if rc != 0 or not res:
        print("  %s %s: device failed (rc=%s):\n    %s" % (flavour, mutual, rc, "\n    ".join(lines[-8:])))
        return None
    r = _kv(res[0])
    rounds = [int(_kv(ln)["hs_ms"]) for ln in lines if ln.startswith("ROUND")]
    label = "%s server, %s, %s" % (flavour, "mutual auth (client cert)" if mutual else "server auth only",
                                   r.get("suite", "?"))
    print("\n%s" % label)
    print("  handshake time: first %s ms; fresh sessions %s" % (r["hs_ms"], _stats(rounds)))
    for phase in ("handshake", "request", "rounds"):
        for d in ("c->s", "s->c"):
            t = relay.tally.get((phase, d))
            if not t:
                continue
            kinds = ", ".join("%s %d" % (k, t[k]) for k in ("handshake", "ccs", "alert", "appdata") if k in t)
            print("  %-9s %s: %2d datagrams, %5d B UDP payload (%5d B with IPv4+UDP); records %d: %s"
                  % (phase, d, t["datagrams"], t["bytes"], t["bytes"] + _IP_UDP * t["datagrams"],
                     t.get("records", 0), kinds))
    hs = [relay.tally.get(("handshake", d), {"bytes": 0, "datagrams": 0}) for d in ("c->s", "s->c")]
    total = sum(t["bytes"] + _IP_UDP * t["datagrams"] for t in hs)
    print("  handshake total on the wire (IPv4): %d B (first session; includes the cookie round trip)" % total)
    return r


def _min_heap(script, pki, port, order, mpy_dir):
    """The smallest -X heapsize (from a fixed ladder) with which connect + GET completes, and
    the last line of the largest failing run. `order` "early" makes the SSL context before the
    CoAP modules are imported, "late" after."""
    why = ""
    for kb in (32, 40, 48, 56, 64, 72, 80, 96, 112, 128, 160, 192, 256):
        env_args = [order] if order == "early" else ["late"]
        rc, lines = _device(script, port, pki, True, 0, heapsize="%dK" % kb, timeout=30,
                            path=os.pathsep.join([mpy_dir, ".frozen"]), extra=env_args)
        if rc == 0 and any(ln.startswith("RESULT") for ln in lines):
            return kb, why
        why = "%dK: %s" % (kb, lines[-1] if lines else "rc=%s" % rc)
    return None, why


def main():
    sys.path.insert(0, ROOT)
    from host_tools import dtls_pki
    from host_tools.bench.coap import _compile

    tmp = tempfile.mkdtemp(prefix="bench-coap-dtls-")
    pki = dtls_pki.make(os.path.join(tmp, "pki"))
    script = os.path.join(tmp, "dtls_bench_device.py")
    with open(script, "w") as f:
        f.write(_DEVICE)
    ver = subprocess.run([MPY, "-c", "import sys, tls; print(sys.version, '|', tls.MBEDTLS_VERSION)"],
                         capture_output=True, text=True, timeout=10).stdout.strip()
    print("MicroPython %s; P-256 certificates; modules from firmware/ (source)" % ver)
    first = None
    cases = (("openssl", True, None), ("gnutls", True, None), ("openssl", False, None),
             ("openssl", True, "TLS-ECDHE-ECDSA-WITH-AES-128-CCM-8"))
    for flavour, mutual, ciphers in cases:
        r = _run_case(script, pki, flavour, mutual, ciphers)
        first = first or r
    if first:
        print("\nMicroPython heap (gc.mem_alloc deltas, bytes; mbedTLS itself allocates from libc here):")
        print("  coap + transport_dtls modules imported: %s" % first["mods"])
        print("  SSL context with CA + client cert/key:  %s" % first["ctx"])
        print("  allocated during one handshake (gc off): %s  (upper bound of the handshake peak)" % first["hs_volume"])
        print("  kept by an idle session after gc:       %s" % first["idle"])
        print("  process RSS growth across the handshake: %s (mbedTLS buffers, libc heap)" % first["rss_hs"])
        print("  GET /time over the session: %s ms" % first["get_ms"])
    proc, dport = _start_server("openssl", pki, True)
    try:
        mpy_dir = os.path.join(tmp, "mpy")
        _compile(mpy_dir)  # the coap package as .mpy: bytecode loaded, not compiled, in the heap
        ladder = [(order, _min_heap(script, pki, dport, order, mpy_dir)) for order in ("late", "early")]
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    for order, (kb, why) in ladder:
        print("  smallest -X heapsize for connect + GET, coap as .mpy, context made %s: %s"
              % ("after the imports" if order == "late" else "first", "%dK" % kb if kb else "none up to 256K"))
        if why:
            print("    one step down: %s" % why)


if __name__ == "__main__":
    main()
