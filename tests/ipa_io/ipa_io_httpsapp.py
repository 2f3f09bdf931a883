# Device side of the ESipa HTTPS binding tests (MicroPython Unix port):
#   micropython ipa_io_httpsapp.py URL CA_DER_FILE OP [OP ...]
# OP: x<hex>  exchange() with that body;  s<hex>  open_stream() and read it all in 256-byte
# pieces;  c  close().  Prints per OP one line: `OK <answer hex>`, `STREAM <n> <sha256 hex>
# <peak retained heap growth>`, or `ERR <kind> <status> <detail>`; then `STATS <json>`.
import binascii
import gc
import hashlib
import json
import sys

import asyncio

from ipa.esipa_https import EsipaHttps, EsipaHttpsError


async def main(url, ca_file, ops):
    with open(ca_file, "rb") as f:
        ca = f.read()
    eim = EsipaHttps(url, cadata=ca, timeout_ms=3000, connect_timeout_ms=3000)
    for op in ops:
        try:
            if op == "c":
                await eim.close()
                print("CLOSED")
            elif op[0] == "x":
                ans = await eim.exchange(binascii.unhexlify(op[1:]))
                print("OK " + binascii.hexlify(ans).decode())
            elif op[0] == "s":
                s = await eim.open_stream(binascii.unhexlify(op[1:]))
                h = hashlib.sha256()
                n = 0
                gc.collect()
                base = gc.mem_alloc()
                peak = 0
                while True:
                    piece = await s.read(256)
                    if not piece:
                        break
                    h.update(piece)
                    n += len(piece)
                    if n % 4096 < 256:
                        piece = None
                        gc.collect()    # what stays allocated while the body flows through
                        peak = max(peak, gc.mem_alloc() - base)
                print("STREAM %d %s %d" % (n, binascii.hexlify(h.digest()).decode(), peak))
        except EsipaHttpsError as e:
            print("ERR %s %s %s" % (e.kind, e.status, e.detail))
    print("STATS " + json.dumps({"requests": eim.requests, "connects": eim.connects,
                                 "tx": eim.bytes_tx, "rx": eim.bytes_rx}))
    await eim.close()


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
