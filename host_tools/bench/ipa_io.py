"""IPAd I/O benchmark: bytes on the wire per eIM package, ESipa over HTTPS (TLS over TCP) vs
ESipa over LwM2M object 3443 (CoAP over UDP, the IPA message carried by LwM2M Send, the eIM's
answers by Write), with the IPAd on the MicroPython Unix port, the card behind the modem
simulator and the eIM on the host. A counting relay sits in front of the eIM / the LwM2M
server, so the figures include TLS handshake and records, HTTP heads, CoAP headers, block-wise
transfer and acknowledgements. Also: heap taken on MicroPython by importing the I/O modules.
Prints figures, asserts nothing. Run: python -m host_tools.bench ipa_io"""

import asyncio
import os
import re
import subprocess
import sys
import tempfile

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_TESTS = os.path.join(_ROOT, "tests")
_MPY = os.path.join(_ROOT, "build", "bin", "micropython")


class TcpCounter:
    """TCP relay to (host, port) counting payload bytes each way and connections."""

    def __init__(self, host, port):
        self.target = (host, port)
        self.up = self.down = self.connections = 0
        self.server = None
        self.port = None

    async def start(self):
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _client(self, r, w):
        self.connections += 1
        try:
            ur, uw = await asyncio.open_connection(*self.target)
        except OSError:
            w.close()
            return
        await asyncio.gather(self._pump(r, uw, "up"), self._pump(ur, w, "down"))

    async def _pump(self, r, w, way):
        try:
            while True:
                data = await r.read(65536)
                if not data:
                    break
                setattr(self, way, getattr(self, way) + len(data))
                w.write(data)
                await w.drain()
        except OSError:
            pass
        finally:
            w.close()

    def snapshot(self):
        return self.up, self.down, self.connections

    async def stop(self):
        self.server.close()


class UdpCounter(asyncio.DatagramProtocol):
    """UDP relay to (host, port) for one client, counting datagrams and bytes each way."""

    def __init__(self, host, port):
        self.target = (host, port)
        self.client = None
        self.up = self.down = self.up_n = self.down_n = 0
        self.transport = None
        self.upstream = None
        self.port = None

    async def start(self):
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(lambda: self,
                                                                local_addr=("127.0.0.1", 0))
        self.port = self.transport.get_extra_info("sockname")[1]
        relay = self

        class Up(asyncio.DatagramProtocol):
            def datagram_received(self, data, addr):
                relay.down += len(data)
                relay.down_n += 1
                if relay.client is not None:
                    relay.transport.sendto(data, relay.client)

        self.upstream, _ = await loop.create_datagram_endpoint(Up, local_addr=("127.0.0.1", 0))
        return self

    def datagram_received(self, data, addr):
        self.client = addr
        self.up += len(data)
        self.up_n += 1
        self.upstream.sendto(data, self.target)

    def snapshot(self):
        return self.up, self.down, self.up_n, self.down_n

    async def stop(self):
        self.transport.close()
        self.upstream.close()


def _poll_line(dev):
    for line in dev.lines:
        if line.startswith("IPA DONE") or line.startswith("IPA FAIL"):
            return line
    return dev.output()


async def _https(tmp, processes, psmo):
    import harness
    from ipa_io_rig import EID, Rig

    rig = Rig(tmp, processes)
    url = rig.start_eim()
    rig.start_modem()
    host, port = re.match(r"https://([0-9.]+):(\d+)", url).groups()
    relay = await TcpCounter(host, int(port)).start()
    rig.core.queue(EID, "euiccPackage", {"psmo": [psmo]})
    dev = harness.start_micropython("ipa", [
        "--modem", "tcp:127.0.0.1:%d" % rig.modem_port, "--dialect", "bg95",
        "--state", rig.ipa_state, "--polls", "2", "--backoff-min", "200", "--ca", rig.root,
        "--eim", "https://127.0.0.1:%d" % relay.port], name="ipad-https")
    processes.append(dev)
    await asyncio.to_thread(dev.expect, r"^ipa ready", 30)
    before = relay.snapshot()
    await asyncio.to_thread(dev.expect, r"^ipa poll ", 60)
    after_first = relay.snapshot()
    await asyncio.to_thread(dev.expect, r"^IPA (DONE|FAIL)", 60)
    after = relay.snapshot()
    await relay.stop()
    stats = [line for line in dev.lines if line.startswith("ipa https ")]
    return before, after_first, after, stats, _poll_line(dev)


async def _lwm2m(tmp, processes, psmo):
    import harness
    from host_tools.eim.lwm2m_relay import EimLwm2mRelay
    from host_tools.lwm2m_server import LwM2MServer
    from ipa_io_rig import EID, Rig

    rig = Rig(tmp, processes)
    rig.start_modem()
    server = await LwM2MServer.start(host="127.0.0.1", port=0, db=":memory:", timeout=10.0)
    udp = await UdpCounter("127.0.0.1", server.port).start()
    eim_relay = EimLwm2mRelay(rig.core, server)
    try:
        dev = harness.start_micropython("ipa", [
            "--modem", "tcp:127.0.0.1:%d" % rig.modem_port, "--dialect", "bg95",
            "--state", rig.ipa_state, "--polls", "2", "--backoff-min", "200",
            "--lwm2m", "coap://127.0.0.1:%d" % udp.port, "--ep", "bench1", "--send", "1",
            "--wait-trigger", "1"], name="ipad-lwm2m")
        processes.append(dev)
        await server.wait_registered("bench1", 30)
        await asyncio.to_thread(dev.expect, r"^ipa ready", 30)
        await eim_relay.attach("bench1", observe=False)
        rig.core.queue(EID, "euiccPackage", {"psmo": [psmo]})
        before = udp.snapshot()
        dev.send_line("poll")
        await asyncio.to_thread(dev.expect, r"^ipa poll ", 60)
        after_first = udp.snapshot()
        await asyncio.to_thread(dev.expect, r"^IPA (DONE|FAIL)", 60)
        # the second poll's GetEimPackage round, up to its answer, before de-registration
        after = udp.snapshot()
        stats = [line for line in dev.lines if line.startswith("ipa lwm2m ")]
        return before, after_first, after, stats, _poll_line(dev)
    finally:
        await eim_relay.close()
        await udp.stop()
        await server.stop()


def _heap():
    script = ("import gc\ngc.collect()\na=gc.mem_alloc()\n"
              "import ipa.http, ipa.esipa_https\n"
              "gc.collect()\nprint('import_heap_bytes http+esipa_https', gc.mem_alloc()-a)\n"
              "a=gc.mem_alloc()\nimport lwm2m.model\ngc.collect()\na=gc.mem_alloc()\n"
              "import ipa.esipa_lwm2m, objects.obj_esim_iot\n"
              "gc.collect()\nprint('import_heap_bytes esipa_lwm2m+obj_esim_iot (model already"
              " imported)', gc.mem_alloc()-a)\n"
              "a=gc.mem_alloc()\nimport ipa.runner\n"
              "gc.collect()\nprint('import_heap_bytes runner with procedures and codecs',"
              " gc.mem_alloc()-a)\n"
              "from ipa.esipa_https import EsipaHttps\n"
              "gc.collect()\nb=gc.mem_alloc()\n"
              "e=EsipaHttps('http://127.0.0.1:1')\ngc.collect()\n"
              "print('https_binding_instance_bytes', gc.mem_alloc()-b)\n")
    env = dict(os.environ)
    env["MICROPYPATH"] = os.pathsep.join([os.path.join(_ROOT, "firmware"), ".frozen"])
    out = subprocess.run([_MPY, "-X", "heapsize=256K", "-c", script], env=env,
                         capture_output=True, text=True, timeout=60)
    return out.stdout.strip() or out.stderr.strip()


def main():
    for p in (_TESTS, os.path.join(_TESTS, "ipa_io")):
        if p not in sys.path:
            sys.path.insert(0, p)
    processes = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            print("-- heap on MicroPython (Unix port, source modules, 256K heap)")
            print(_heap())
            enable = {"op": "enable", "iccid": "8900102000000000025"}
            hb, hf, ha, stats, done = asyncio.run(_https(os.path.join(tmp, "h"), processes,
                                                         enable))
            hup, hdown = hf[0] - hb[0], hf[1] - hb[1]
            print("-- ESipa over HTTPS: PSMO enable round (GetEimPackage, ProvideEimPackageResult"
                  " with ePRAndNotifications, GetEimPackage), then one idle poll")
            for line in stats:
                print("   ", line)
            print("    on the wire (TLS over TCP), PSMO round: device->eIM %d B, eIM->device %d B,"
                  " %d TCP connection(s), total %d B" % (hup, hdown, hf[2] - hb[2], hup + hdown))
            print("    idle poll: device->eIM %d B, eIM->device %d B (new TLS connection)"
                  % (ha[0] - hf[0], ha[1] - hf[1]))
            print("   ", done[:200])
            for p in processes:
                p.stop()
            processes.clear()
            b, f, a, stats, done = asyncio.run(_lwm2m(os.path.join(tmp, "l"), processes,
                                                      enable))
            up1, down1 = f[0] - b[0], f[1] - b[1]
            up2, down2 = a[0] - f[0], a[1] - f[1]
            print("-- ESipa over LwM2M /3443 (Send up, Write down), same PSMO enable")
            for line in stats:
                print("   ", line)
            print("    on the wire (CoAP over UDP), PSMO round: device->server %d B in %d "
                  "datagrams, server->device %d B in %d datagrams, total %d B"
                  % (up1, f[2] - b[2], down1, f[3] - b[3], up1 + down1))
            print("    idle poll + de-registration: device->server %d B, server->device %d B"
                  % (up2, down2))
            print("   ", done[:200])
            print("-- difference, PSMO round: HTTPS %d B vs /3443 %d B (%+d B, x%.2f)" % (
                hup + hdown, up1 + down1, hup + hdown - (up1 + down1),
                (hup + hdown) / max(1, up1 + down1)))
            print("   (HTTPS pays a TLS handshake per procedure and HTTP heads per exchange;"
                  " /3443 rides on an existing registration, DTLS not used here)")
    finally:
        for p in processes:
            p.stop()


if __name__ == "__main__":
    main()
