# Device side of the modem integration tests: runs on the MicroPython Unix port against the
# modem simulator and prints one `RESULT <json>` line per scenario (or `FAIL <error>`).
#   micropython -m modem_devapp DIALECT LINK SCENARIO [ARGS...]
# LINK is tcp:127.0.0.1:PORT or a pty path.
import asyncio
import gc
import json
import sys

from modem.at import AtError, AtTimeout
from modem.stream_unix import open_link

from modem.factory import dialect_class


def Uicc(*a):
    from modem.uicc import Uicc as _Uicc

    return _Uicc(*a)
ISDR = b"\xA0\x00\x00\x05\x59\x10\x10\xFF\xFF\xFF\xFF\x89\x00\x00\x01\x00"


GET_EID = b"\xBF\x3E\x03\x5C\x01\x5A"  # ES10c GetEuiccData asking for the EID (SGP.22 5.7.20)


async def s_es10(d, args):
    # with the eUICC simulator's real ISD-R: GetEID over STORE DATA
    await d.init()
    u = Uicc(d.at, args[0] if args else d.UICC_QUIRKS, d)
    async with await u.open(ISDR) as ch:
        data, sw = await ch.store_data(GET_EID)
    result({"sw": sw, "data": data.hex(), "csim": ch.csim, "round_trips": u.round_trips})


def result(d):
    print("RESULT " + json.dumps(d))


async def s_basic(d, args):
    apn = args[0] if args else "iot.nordnett"
    ip = await d.attach(apn, 10000)
    ident = await d.identity()
    sig = await d.signal()
    cell = await d.cell_info()
    from modem import connmon_source

    c4 = await connmon_source.read(d)
    await d.set_psm(True, "00100001", "00000011")
    await d.set_edrx(True, 4, "0101")
    # feed object 4 the way the application does
    from lwm2m.model import Registry
    from objects import obj_connmon

    reg = Registry()
    obj_connmon.create(reg).update(**c4)
    obj4 = dict((str(rid), reg.get((4, 0, rid))) for rid in (0, 2, 3, 8, 9, 10, 11, 12))
    result({"ip": ip, "identity": ident, "signal": sig, "cell": cell, "connmon": c4, "obj4": obj4,
            "rrc": d.rrc_connected,
            "stats": d.at.stats()})


async def s_udp(d, args):
    from modem.socket_at import AtUdpTransport

    host, port = args[0], int(args[1])
    await d.attach("iot.nordnett", 10000)
    t = await AtUdpTransport.open(d)
    if len(args) > 2:
        t.sock.poll_ms = int(args[2])  # tests with lost data URCs
    remote = t.resolve(host, port)
    buf = bytearray(t.max_datagram)
    echoed = []
    for i in range(3):
        msg = bytes([i, 0, 13, 10, 62, 32]) + b"\r\nOK\r\n" + bytes(range(256))[: 40 + 100 * i]
        t.sendto(msg, remote)
        n, frm = await asyncio.wait_for_ms(t.recvfrom(buf), 8000)
        echoed.append(bytes(buf[:n]) == msg)
    t.close()
    await asyncio.sleep_ms(50)
    result({"echoed": echoed, "remote": list(frm), "dropped_tx": t.dropped_tx,
            "tx_errors": t.tx_errors, "stats": d.at.stats()})


async def s_udp_probe(d, args):
    # one datagram to a host socket, then a bounded wait for its echo (a network without
    # route gives an address but loses the datagram)
    from modem.socket_at import AtUdpTransport

    host, port, wait_ms = args[0], int(args[1]), int(args[2])
    ip = await d.attach("iot.nordnett", 10000)
    t = await AtUdpTransport.open(d)
    buf = bytearray(t.max_datagram)
    t.sendto(b"probe", t.resolve(host, port))
    try:
        n, _ = await asyncio.wait_for_ms(t.recvfrom(buf), wait_ms)
        echoed = bytes(buf[:n]) == b"probe"
    except asyncio.TimeoutError:
        echoed = False
    t.close()
    await asyncio.sleep_ms(50)
    result({"ip": ip, "echoed": echoed, "tx_errors": t.tx_errors})


async def s_apdu(d, args):
    quirks = args[0] if args else d.UICC_QUIRKS
    size = int(args[1]) if len(args) > 1 else 1024
    await d.init()
    u = Uicc(d.at, quirks, d)
    out = {"quirks": quirks, "segment": u.max_segment}
    async with await u.open(ISDR) as ch:
        data, sw = await ch.transmit(b"\x80\xCA\x00\x5A\x00")  # wrong Le: card says 6C10
        out["eid"] = data.hex()
        out["eid_sw"] = sw
        u.round_trips = 0
        payload = bytes((i * 7) & 0xFF for i in range(size))
        data, sw = await ch.store_data(payload)
        out["store_sw"] = sw
        out["store_len"] = len(data)
        out["store_sha"] = _sha(data)
        out["round_trips"] = u.round_trips
        out["csim"] = ch.csim
    out["stats"] = d.at.stats()
    result(out)


def _sha(b):
    import binascii
    import hashlib

    return binascii.hexlify(hashlib.sha256(b).digest()).decode()


async def s_refresh(d, args):
    # open ISD-R, wait for the simulator's REFRESH (test drives it), transmit again: the
    # channel is reopened, the network is the new profile's
    ip1 = await d.attach("iot.nordnett", 10000)
    imsi1 = await d.imsi()
    u = Uicc(d.at, d.UICC_QUIRKS, d)
    ch = await u.open(ISDR)
    ev0 = d.sim_events
    print("READY_FOR_REFRESH")
    for _ in range(200):
        if d.sim_events != ev0:
            break
        await asyncio.sleep_ms(25)
    await d.wait_registered(10000)
    data, sw = await ch.store_data(GET_EID)
    imsi2 = await d.imsi()
    ip2 = await d.ip_address()
    await ch.close()
    result({"sim_events": d.sim_events - ev0, "reopens": u.reopens, "sw": sw, "imsi1": imsi1,
            "imsi2": imsi2, "ip1": ip1, "ip2": ip2, "cell": await d.cell_info()})


async def s_faults(d, args):
    # the test armed the simulator: reset on AT+CIMI, storm on AT+CGSN, mute one AT+CEREG?
    out = {}
    await d.init()
    out["imsi"] = await d.imsi()          # modem reboots mid-command, retried after re-init
    out["resets"] = d.at.resets
    gc.collect()
    heap0 = gc.mem_alloc()
    out["imei"] = await d.imei()          # a URC storm arrives before the answer
    gc.collect()
    out["storm_heap_delta"] = gc.mem_alloc() - heap0
    try:
        await d.at.cmd("AT+CEREG?", 500, "+CEREG")  # the modem does not answer this one
        out["mute"] = "answered"
    except AtTimeout:
        out["mute"] = "timeout"
    await d.at.resync()
    ok = 0
    for i in range(int(args[0]) if args else 40):
        try:
            await d.at.cmd("AT+CGSN", 1000)
            ok += 1
        except (AtTimeout, AtError):
            await d.at.resync()
    out["ok"] = ok
    u = Uicc(d.at, d.UICC_QUIRKS, d)
    for i in range(3):
        ch = await u.open(ISDR)
        await ch.transmit(b"\x80\xAA\x00\x00\x00")
        await ch.close()
    leftover = await u.open(ISDR)  # deinit closes what is still open
    await u.deinit()
    out["channels_left"] = len(u.channels) + (0 if leftover.closed else 1)
    out["lock_free"] = not d.at._lock.locked()
    out["pending"] = d.at._pending is not None
    out["stats"] = d.at.stats()
    result(out)


async def s_stale(d, args):
    # a previous run left channels open in the modem; Uicc cleans them at first open
    await d.init()
    u = Uicc(d.at, d.UICC_QUIRKS, d)
    ch = await u.open(ISDR)
    if args and args[0] == "leak":
        result({"leaked": True, "csim": ch.csim})
        return
    await ch.close()
    result({"closed": True})


async def s_bench_storm(d, args):
    # heap retained by the engine after URC storms of growing length (gc'd before reading)
    await d.init()
    rows = []
    for n in [int(a) for a in args] or (500, 2000, 8000):
        gc.collect()
        a0 = gc.mem_alloc()
        t0 = asyncio.ticks()
        await d.at.cmd("AT+XSTORM=%d" % n, 120000)
        ms = asyncio.ticks_diff(asyncio.ticks(), t0)
        gc.collect()
        rows.append([n, gc.mem_alloc() - a0, ms])
    result({"rows": rows, "engine_bytes": ENGINE_BYTES[0], "heap_total": gc.mem_alloc() + gc.mem_free(),
            "stats": d.at.stats()})


async def s_bench_apdu(d, args):
    # AT round trips per STORE DATA chain of each size, and per single short APDU
    quirks = args[0]
    await d.init()
    u = Uicc(d.at, quirks, d)
    rows = []
    async with await u.open(ISDR) as ch:
        u.round_trips = 0
        t0 = asyncio.ticks()
        for i in range(20):
            await ch.transmit(b"\x80\xAA\x00\x00\x00")
        rows.append(["short", 20, u.round_trips, asyncio.ticks_diff(asyncio.ticks(), t0)])
        for size in [int(a) for a in args[1:]]:
            payload = bytes(size)
            u.round_trips = 0
            t0 = asyncio.ticks()
            data, sw = await ch.store_data(payload)
            rows.append([size, len(data), u.round_trips, asyncio.ticks_diff(asyncio.ticks(), t0)])
    result({"segment": u.max_segment, "csim": ch.csim, "rows": rows})


ENGINE_BYTES = [0]

async def s_silent_reboot(d, args):
    await d.init()
    try:
        await d.cmd("AT+CIMI", 1500)
        first = "answered"
    except AtTimeout:
        first = "AtTimeout"
    imsi = await d.imsi()
    try:
        await d.cmd("AT+USOCL=9")  # no such socket: +CME ERROR: 21 in numeric mode
        numeric = None
    except AtError as e:
        numeric = isinstance(e.code, int)  # CMEE=1 again after the re-init
    result({"first": first, "imsi": imsi, "cmee_errors_numeric": numeric})


async def s_coap(d, args):
    # CoAP (the firmware's endpoint) over the modem's UDP socket to a host CoAP server
    from coap import numbers as N
    from coap.endpoint import Endpoint
    from coap.message import Message
    from modem.socket_at import AtUdpTransport

    await d.attach("iot.nordnett", 10000)
    ep = Endpoint(await AtUdpTransport.open(d)).start()
    remote = ep.resolve(args[0], int(args[1]))
    resp = await ep.request(remote, Message(code=N.GET).set_uri_path("/blob"), block_size=512)
    echo = await ep.request(remote, Message(code=N.POST, payload=b"\r\nOK\r\n> \x00").set_uri_path("/echo"))
    out = {"code": resp.code, "len": len(resp.payload), "sha": _sha(resp.payload),
           "echo": echo.payload == b"\r\nOK\r\n> \x00", "stats": d.at.stats(), "coap": ep.stats}
    await ep.close()
    result(out)


async def s_udp_burst(d, args):
    # sendto() never blocks: a burst beyond the 4-deep queue is dropped and counted
    from modem.socket_at import AtUdpTransport

    await d.attach("iot.nordnett", 10000)
    t = await AtUdpTransport.open(d)
    remote = t.resolve(args[0], int(args[1]))
    for i in range(10):
        t.sendto(b"burst %d" % i, remote)
    buf = bytearray(t.max_datagram)
    got = []
    for _ in range(4):
        n, frm = await asyncio.wait_for_ms(t.recvfrom(buf), 8000)
        got.append(bytes(buf[:n]).decode())
    t.close()
    await asyncio.sleep_ms(50)
    result({"dropped_tx": t.dropped_tx, "got": sorted(got)})


SCENARIOS = {"udp_burst": s_udp_burst, "coap": s_coap, "silent_reboot": s_silent_reboot, "es10": s_es10, "bench_storm": s_bench_storm, "bench_apdu": s_bench_apdu, "basic": s_basic, "udp": s_udp, "udp_probe": s_udp_probe, "apdu": s_apdu, "refresh": s_refresh,
             "faults": s_faults, "stale": s_stale}


async def main(argv):
    dialect, link, scenario = argv[0], argv[1], argv[2]
    cls = dialect_class(dialect)  # imported on demand: the storm bench runs in a 64K heap
    gc.collect()
    a0 = gc.mem_alloc()
    r, w = await open_link(link)
    d = cls.connect(r, w)
    gc.collect()
    ENGINE_BYTES[0] = gc.mem_alloc() - a0
    try:
        await SCENARIOS[scenario](d, argv[3:])
    except Exception as e:
        print("FAIL %s: %s" % (type(e).__name__, e))
        sys.print_exception(e)
    finally:
        d.deinit()


asyncio.run(main(sys.argv[1:]))
