"""LwM2M client on MicroPython: bytes on the wire and heap.

1. Bytes on the wire for Register, an empty Update and a single-value Notify, as the device sends
   them, next to the minimal encoding of the same content (same options and payload, shortest
   token that still works: none for a request matched by its piggybacked ACK, the observer's own
   token for a notification).
2. Heap: bytes held by the imported modules (bytecode loaded from .mpy: on a device it would be
   frozen in flash), and the steady runtime heap after registration with objects 0/1/3/4 and one
   observation (goal <= 24 KB), and the smallest -X heapsize that runs Register + Read + Observe.
3. Frozen image: RAM each module takes at import (module dict, classes, function objects; the
   bytecode stays in flash), imported one after the other in dependency order, so each figure
   is what that module adds. Modules made on first use (observe, codecs) are listed too.

The firmware is compiled with mpy-cross (as it ships: bytecode) and run on the Unix port against a
small CoAP responder written here with aiocoap's message codec (a short Location-Path rd/abcd, as a
server with 4-character registration ids would give). Run: python -m host_tools.bench lwm2m"""

import os
import socket
import subprocess
import tempfile
import time

from aiocoap import Message
from aiocoap.numbers.codes import Code
from aiocoap.numbers.types import Type

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MICROPYTHON = os.path.join(ROOT, "build", "bin", "micropython")
MPY_CROSS = os.path.join(ROOT, "build", "bin", "mpy-cross")
PACKAGES = ("coap", "lwm2m", "objects", "hal")
HEAPS = ("48K", "52K", "56K", "60K", "64K", "72K", "80K", "96K", "128K", "192K", "256K")
# Dependency order: each delta is what the module adds on top of the ones before it.
MODULES = ("asyncio", "asyncio.event", "coap.numbers", "coap.ticks", "coap.error", "coap.options",
           "coap.message", "coap.msglayer", "coap.endpoint", "coap.transport_udp", "hal.clock",
           "lwm2m.model", "lwm2m.path", "lwm2m.attrs", "lwm2m.dm", "lwm2m.linkformat",
           "lwm2m.rd_client", "lwm2m.client", "objects.obj_security", "objects.obj_server",
           "objects.obj_device", "objects.obj_connmon", "lwm2m.fmt_text", "lwm2m.fmt_tlv",
           "coap.observe", "lwm2m.observe", "lwm2m.cbor", "lwm2m.fmt_senml",
           "lwm2m.fmt_senml_cbor", "coap.block")
_PER_MODULE = ("import gc\ngc.collect()\nprev = gc.mem_alloc()\nfor m in %r:\n"
               "    __import__(m)\n    gc.collect()\n    a = gc.mem_alloc()\n"
               "    print(m, a - prev)\n    prev = a\n")
_WAIT_S = 6.0

_IMPORTS = ("import gc; gc.collect(); a0 = gc.mem_alloc(); "
            "import lwm2m.client, coap.transport_udp, hal.storage, objects.obj_security, "
            "objects.obj_server, objects.obj_device, objects.obj_connmon; "
            "gc.collect(); print(a0, gc.mem_alloc())")


def compile_firmware(dest):
    for pkg in PACKAGES:
        src = os.path.join(ROOT, "firmware", pkg)
        for name in sorted(os.listdir(src)):
            if not name.endswith(".py"):
                continue
            out = os.path.join(dest, pkg, name[:-3] + ".mpy")
            os.makedirs(os.path.dirname(out), exist_ok=True)
            subprocess.run([MPY_CROSS, "-o", out, os.path.join(src, name)], check=True, timeout=60)


class Responder:
    """A raw UDP peer: answers Register/Update, sends GET/Observe, records what the device sends."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(_WAIT_S)
        self.port = self.sock.getsockname()[1]
        self.device = None
        self.mid = 0x4000

    def recv(self, want):
        """Next datagram satisfying want(msg) (answering plain ACKs on the way); (raw, msg)."""
        deadline = time.monotonic() + _WAIT_S
        while time.monotonic() < deadline:
            data, addr = self.sock.recvfrom(2048)
            self.device = addr
            msg = Message.decode(data)
            if want(msg):
                return data, msg
            if msg.mtype == Type.CON:
                self.reply(msg, Code.EMPTY)
        raise TimeoutError("device sent nothing matching")

    def reply(self, req, code, location=()):
        resp = Message(mtype=Type.ACK, code=code, mid=req.mid, token=req.token if code else b"")
        if location:
            resp.opt.location_path = location
        self.sock.sendto(resp.encode(), self.device)

    def request(self, code, path, observe=None, token=b"\x01"):
        self.mid += 1
        msg = Message(mtype=Type.CON, code=code, mid=self.mid, token=token, uri_path=path)
        if observe is not None:
            msg.opt.observe = observe
        self.sock.sendto(msg.encode(), self.device)
        return self.recv(lambda m: m.code.is_response() and m.token == token)

    def close(self):
        self.sock.close()


def minimal(msg, token):
    """The same message re-encoded with `token` and nothing else changed."""
    copy = Message(mtype=msg.mtype, code=msg.code, mid=msg.mid, token=token, payload=msg.payload)
    for opt in msg.opt.option_list():
        copy.opt.add_option(opt)
    return len(copy.encode())


def start_device(lib, port, heap, ep="bench"):
    env = dict(os.environ, MICROPYPATH=lib + os.pathsep + ".frozen")
    return subprocess.Popen(
        [MICROPYTHON, "-X", "heapsize=" + heap, "-m", "lwm2m.client", "--server",
         "coap://127.0.0.1:%d" % port, "--ep", ep, "--lifetime", "300"],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        cwd=lib, text=True, bufsize=1)


def command(dev, line, expect):
    dev.stdin.write(line + "\n")
    dev.stdin.flush()
    deadline = time.monotonic() + _WAIT_S
    while time.monotonic() < deadline:
        out = dev.stdout.readline()
        if not out:
            break
        if expect in out:
            return out.strip()
    raise TimeoutError("device did not print %r" % expect)


def session(lib, heap):
    """Register, Read, Observe, empty Update, one Notify; returns figures, or raises."""
    r = Responder()
    dev = start_device(lib, r.port, heap)
    figures = {}
    try:
        raw, reg = r.recv(lambda m: m.code == Code.POST and list(m.opt.uri_path) == ["rd"])
        figures["register"] = (len(raw), minimal(reg, b""), len(reg.payload))
        r.reply(reg, Code.CREATED, ("rd", "abcd"))
        command(dev, "mem", "lwm2m mem")  # the device has taken the 2.01 in once this answers
        raw, resp = r.request(Code.GET, ("3", "0", "0"))
        figures["read"] = (str(resp.code), resp.payload)
        raw, resp = r.request(Code.GET, ("4", "0", "2"), observe=0, token=b"\x07")
        figures["observe"] = str(resp.code)
        dev.stdin.write("update\n")
        dev.stdin.flush()
        raw, upd = r.recv(lambda m: m.code == Code.POST and list(m.opt.uri_path) == ["rd", "abcd"])
        figures["update"] = (len(raw), minimal(upd, b""))
        r.reply(upd, Code.CHANGED)
        dev.stdin.write("set /4/0/2 -70\n")
        dev.stdin.flush()
        raw, note = r.recv(lambda m: m.token == b"\x07" and m.opt.observe is not None)
        figures["notify"] = (len(raw), minimal(note, note.token), note.payload)
        line = command(dev, "mem", "lwm2m mem")
        figures["mem"] = dict(kv.split("=") for kv in line.split()[2:])
        dev.stdin.write("quit\n")
        dev.stdin.flush()
        try:
            raw, dereg = r.recv(lambda m: m.code == Code.DELETE)
            r.reply(dereg, Code.DELETED)
        except (TimeoutError, socket.timeout):
            pass
        return figures
    finally:
        try:
            dev.wait(timeout=5)
        except subprocess.TimeoutExpired:
            dev.kill()
            dev.wait(timeout=5)
        dev.stdout.close()
        dev.stdin.close()
        r.close()


def import_heap(lib):
    env = dict(os.environ, MICROPYPATH=lib + os.pathsep + ".frozen")
    out = subprocess.run([MICROPYTHON, "-X", "heapsize=1M", "-c", _IMPORTS], env=env, cwd=lib,
                         capture_output=True, text=True, timeout=60, check=True).stdout.split()
    return int(out[0]), int(out[1])


def module_heap(empty):
    """[(module, bytes its import adds)] on the frozen image."""
    env = dict(os.environ, MICROPYPATH=".frozen")
    out = subprocess.run([MICROPYTHON, "-X", "heapsize=1M", "-c", _PER_MODULE % (MODULES,)],
                         env=env, cwd=empty, capture_output=True, text=True, timeout=60,
                         check=True).stdout.split()
    return [(out[i], int(out[i + 1])) for i in range(0, len(out), 2)]


def frozen_available(empty):
    env = dict(os.environ, MICROPYPATH=".frozen")
    out = subprocess.run([MICROPYTHON, "-c", "import lwm2m.client"], env=env, cwd=empty,
                         capture_output=True, text=True, timeout=30)
    return out.returncode == 0


def smallest_heap(lib, heaps):
    for heap in heaps:
        try:
            g = session(lib, heap)
        except (TimeoutError, socket.timeout, OSError, ValueError):
            continue
        if g["read"][0] == "2.05 Content" and g["observe"] == "2.05 Content":
            return heap
    return "none of " + ",".join(heaps)


def report_heap(title, lib):
    base, loaded = import_heap(lib)
    f = session(lib, "512K")
    alloc = int(f["mem"]["alloc"])
    print("heap, %s:" % title)
    print("  interpreter baseline            %6d B" % base)
    print("  modules imported                %6d B" % (loaded - base))
    print("  after registration + observe    %6d B  total allocated" % alloc)
    print("  runtime state (total - imports) %6d B  (goal <= 24576 B: %s)" % (
        alloc - loaded, "met" if alloc - loaded <= 24576 else "NOT met"))
    print("  smallest -X heapsize running Register+Read+Observe+Update+Notify: %s"
          % smallest_heap(lib, HEAPS))
    return f


def main():
    with tempfile.TemporaryDirectory(prefix="bench_lwm2m_") as lib, \
            tempfile.TemporaryDirectory(prefix="bench_lwm2m_frozen_") as empty:
        compile_firmware(lib)
        f = report_heap("firmware as .mpy files (bytecode loaded into RAM)", lib)
        if frozen_available(empty):
            report_heap("firmware frozen into the image (bytecode in flash)", empty)
            print("import RAM per module, frozen image (in dependency order; * = loaded on first "
                  "use, not by a registered client):")
            lazy = ("coap.observe", "lwm2m.observe", "lwm2m.cbor", "lwm2m.fmt_senml",
                    "lwm2m.fmt_senml_cbor", "coap.block", "lwm2m.fmt_text", "lwm2m.fmt_tlv",
                    "lwm2m.linkformat")
            total = 0
            for name, size in module_heap(empty):
                total += size
                print("  %-24s %6d B%s" % (name, size, " *" if name in lazy else ""))
            print("  %-24s %6d B" % ("total", total))
        else:
            print("heap, frozen image: lwm2m is not frozen into %s (rebuild the image)" % MICROPYTHON)
        print("wire bytes (device -> server), actual vs minimal encoding of the same content:")
        print("  Register      %4d B  (minimal %4d B; link-format payload %d B)" % f["register"])
        print("  empty Update  %4d B  (minimal %4d B; goal 16 B of CoAP)" % f["update"])
        print("  Notify 1 val  %4d B  (minimal %4d B; payload %r)" % f["notify"])
        print("  Read /3/0/0 -> %s %r; Observe /4/0/2 -> %s" % (f["read"][0], f["read"][1], f["observe"]))


if __name__ == "__main__":
    main()
