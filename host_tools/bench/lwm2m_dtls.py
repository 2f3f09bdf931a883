"""LwM2M client over coaps:// (certificate mode) against coap://, on the frozen Unix-port image.

The same client registers with the host LwM2M server directly (coap://) and through the host DTLS
gateway (coaps://, P-256, the RFC 7925 CCM-8 suite, CA constraint), then answers a Read of /3/0.
Printed per transport: the heap the device holds afterwards (gc.mem_alloc after a collection),
the time from process start to "registered", and the smallest -X heapsize in which the whole
Register + Read runs. Run: python -m host_tools.bench lwm2m_dtls"""

import asyncio
import os
import subprocess
import tempfile
import threading
import time

from host_tools import dtls_pki
from host_tools.dtls_gateway import Gateway
from host_tools.lwm2m_server import LwM2MServer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MICROPYTHON = os.path.join(ROOT, "build", "bin", "micropython")
HEAPS = ("64K", "80K", "96K", "112K", "128K", "144K", "160K", "192K", "256K")
_WAIT_S = 20.0


class _Device:
    """The frozen client as a process; its stdout lines collected by a thread."""

    def __init__(self, heap, args, cwd):
        env = dict(os.environ, MICROPYPATH=".frozen")
        self.proc = subprocess.Popen([MICROPYTHON, "-X", "heapsize=" + heap, "-m", "lwm2m.client"]
                                     + args, env=env, cwd=cwd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self._new = threading.Condition()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            with self._new:
                self.lines.append(line.strip())
                self._new.notify_all()
        with self._new:
            self.lines.append(None)
            self._new.notify_all()

    def wait_for(self, text, timeout=_WAIT_S):
        deadline = time.monotonic() + timeout
        with self._new:
            while True:
                for line in self.lines:
                    if line is None:
                        raise EOFError("device ended: %s" % " | ".join(self.lines[-4:-1]))
                    if text in line:
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no %r from the device" % text)
                self._new.wait(left)

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self):
        self.proc.kill()
        self.proc.wait(timeout=5)


async def _run(heap, secure, pki, cwd):
    """-> (held bytes, seconds to registered) or raises when the flow does not complete."""
    server = await LwM2MServer.start(host="127.0.0.1", port=0, timeout=15.0)
    gw = Gateway(cert=pki.path("server.pem"), key=pki.path("server.key"), ca=pki.path("ca.pem"),
                 backend=("127.0.0.1", server.port)).start()
    dev = None
    try:
        args = ["--ep", "bench", "--lifetime", "300"]
        if secure:
            args += ["--server", "coaps://127.0.0.1:%d" % gw.port, "--cert", pki.path("client.der"),
                     "--key", pki.path("client.key.der"), "--server-cert", pki.path("ca.der"),
                     "--cert-usage", "0", "--sni", "localhost"]
        else:
            args += ["--server", "coap://127.0.0.1:%d" % server.port]
        start = time.monotonic()
        dev = _Device(heap, args, cwd)
        await asyncio.to_thread(dev.wait_for, "lwm2m registered")
        took = time.monotonic() - start
        res = await server.read("bench", "/3/0", accept=112)
        if res.code != "2.05":
            raise RuntimeError("Read /3/0 answered %s" % res.code)
        dev.send("mem")
        line = await asyncio.to_thread(dev.wait_for, "lwm2m mem")
        held = int(line.split("alloc=")[1].split()[0])
        return held, took
    finally:
        if dev is not None:
            dev.stop()
        gw.stop()
        await server.stop()


def _smallest(secure, pki, cwd):
    for heap in HEAPS:
        try:
            asyncio.run(_run(heap, secure, pki, cwd))
            return heap
        except (EOFError, TimeoutError, RuntimeError, asyncio.TimeoutError):
            continue
    return "none of " + ",".join(HEAPS)


def main():
    with tempfile.TemporaryDirectory(prefix="bench_lwm2m_dtls_") as tmp:
        pki = dtls_pki.make(os.path.join(tmp, "pki"))
        cwd = os.path.join(tmp, "run")
        os.mkdir(cwd)
        figures = {}
        for secure in (False, True):
            held, took = asyncio.run(_run("512K", secure, pki, cwd))
            figures[secure] = (held, took, _smallest(secure, pki, cwd))
        print("LwM2M client, frozen image, Register + Read /3/0 (loopback):")
        print("  %-8s %12s %16s %22s" % ("", "heap held", "start->registered", "smallest -X heapsize"))
        for secure, name in ((False, "coap"), (True, "coaps")):
            held, took, smallest = figures[secure]
            print("  %-8s %10d B %14.2f s %22s" % (name, held, took, smallest))
        print("  coaps / coap heap held: %.2fx (+%d B)" % (
            figures[True][0] / figures[False][0], figures[True][0] - figures[False][0]))


if __name__ == "__main__":
    main()
