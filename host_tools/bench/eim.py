"""eIM figures (host side; printed, never asserted):

  - core: queue + sign + deliver one EuiccPackageRequest (pycrate encode + ECDSA P-256)
  - core + eUICC simulator: one full GetEimPackage -> LoadEuiccPackage -> ProvideEimPackageResult
    cycle with the eUICC signature verified
  - HTTPS binding: GetEimPackage round trips over one keep-alive TLS connection on loopback
  - size of the messages on the wire (what an IPA must buffer)

    python -m host_tools.bench eim
"""

import asyncio
import binascii
import os
import socket
import ssl
import statistics
import tempfile
import threading
import time

from host_tools import pki as _pki
from host_tools.eim import codec, core, packages
from host_tools.eim.http_server import EsipaHttpServer

_N_CORE = 200
_N_CYCLE = 50
_N_HTTPS = 200
_OP2 = "8900102000000000025"


def _pct(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, int(p / 100.0 * len(s)))]


def _report(name, samples_s):
    ms = [x * 1000.0 for x in samples_s]
    print("%-44s n=%-4d median %7.3f ms  p95 %7.3f ms  max %7.3f ms" % (
        name, len(ms), statistics.median(ms), _pct(ms, 95), max(ms)))


def _get_request(eid):
    return codec.encode("EsipaMessageFromIpaToEim",
                        ("getEimPackageRequest", {"eidValue": binascii.unhexlify(eid)}))


def bench_core(pki, eid):
    eim = core.EimCore("bench-eim", pki.eim.key)
    eim.register_euicc(eid)
    req = _get_request(eid)
    times, size = [], 0
    for _ in range(_N_CORE):
        t0 = time.perf_counter()
        eim.queue(eid, packages.EUICC_PACKAGE, {"psmo": [{"op": "enable", "iccid": _OP2}]})
        answer = eim.handle_ipa_message(None, req)
        times.append(time.perf_counter() - t0)
        size = len(answer)
    _report("core: queue+sign+deliver EuiccPackageRequest", times)
    print("  GetEimPackageResponse(enable PSMO) on the wire: %d bytes" % size)


def bench_cycle(pki, tmp):
    from host_tools.euicc_sim.card import Card
    from host_tools.euicc_sim.client import IsdrClient
    from host_tools.euicc_sim.state import DEFAULT_EIM_ID
    card = Card(state_path=os.path.join(tmp, "euicc.json"), pki=pki)
    client = IsdrClient(card)
    card.power_on()
    client.open()
    eid = card.state.eid
    eim = core.EimCore(DEFAULT_EIM_ID, pki.eim.key)
    eim.register_euicc(eid, euicc_cert=pki.euicc_for(eid).cert_der, association_token=1)
    req = _get_request(eid)
    times, result_size = [], 0
    for i in range(_N_CYCLE):
        iccid = _OP2 if i % 2 == 0 else "8900101000000000017"
        eim.queue(eid, packages.EUICC_PACKAGE, {"psmo": [{"op": "enable", "iccid": iccid}]})
        t0 = time.perf_counter()
        _, (_, value) = codec.decode("EsipaMessageFromEimToIpa", eim.handle_ipa_message(None, req))
        card_answer = client.es10(codec.encode("EuiccPackageRequest", value))
        msg = codec.tlv_encode(b"\xbf\x50", codec.tlv_encode(b"\x5a", binascii.unhexlify(eid))
                               + card_answer)
        eim.handle_ipa_message(None, msg)
        times.append(time.perf_counter() - t0)
        result_size = len(msg)
    states = [p["state"] for p in eim.package_list(eid)]
    _report("cycle: eIM -> eUICC sim -> verified result", times)
    print("  ProvideEimPackageResult on the wire: %d bytes; %d/%d acknowledged" % (
        result_size, states.count("acknowledged"), len(states)))


def bench_https(pki, eid):
    eim = core.EimCore("bench-eim", pki.eim.key)
    eim.register_euicc(eid)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.eim_tls.cert_path, pki.eim_tls.key_path)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = EsipaHttpServer(eim, "127.0.0.1", 0, ctx)
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    try:
        cctx = ssl.create_default_context(cafile=pki.tls_ca_path)
        t0 = time.perf_counter()
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        sock = cctx.wrap_socket(raw, server_hostname="127.0.0.1")
        handshake = time.perf_counter() - t0
        body = _get_request(eid)
        head = ("POST /gsma/rsp2/asn1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: application/x-gsma-rsp-asn1\r\nX-Admin-Protocol: gsma/rsp/v1.2.0\r\n"
                "Content-Length: %d\r\n\r\n" % len(body)).encode()
        times = []
        buf = b""
        for _ in range(_N_HTTPS):
            t0 = time.perf_counter()
            sock.sendall(head + body)
            while b"\r\n\r\n" not in buf:
                buf += sock.recv(65536)
            h, buf = buf.split(b"\r\n\r\n", 1)
            n = int([ln for ln in h.split(b"\r\n") if ln.lower().startswith(b"content-length")][0]
                    .split(b":")[1])
            while len(buf) < n:
                buf += sock.recv(65536)
            buf = buf[n:]
            times.append(time.perf_counter() - t0)
        sock.close()
        print("%-44s %.3f ms" % ("https: TLS handshake (loopback)", handshake * 1000.0))
        _report("https: GetEimPackage keep-alive round trip", times)
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def main():
    with tempfile.TemporaryDirectory() as tmp:
        pki = _pki.make(os.path.join(tmp, "pki"))
        eid = _pki.DEFAULT_EID
        bench_core(pki, eid)
        bench_cycle(pki, tmp)
        bench_https(pki, eid)


if __name__ == "__main__":
    main()
