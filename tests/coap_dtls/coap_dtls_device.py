"""On-device driver for the CoAP-over-DTLS tests (runs on the Unix port): a CoAP Endpoint over
DtlsClientTransport, steered one command per stdin line, one result line per command.

    micropython -m coap_dtls_device HOST PORT PKI_DIR [--ca ca.der] [--no-client-cert]
        [--stale-ms N] [--hs-timeout-ms N] [--hs-attempts N] [--ciphers NAME,NAME]
        [--server-name NAME] [--pin FILE.der] (--ca - : no CA, pin only)

Commands:  connect | get PATH [BLOCK] | put PATH SIZE [BLOCK] | stats | quit
Served to the DTLS server over the session: GET /dev/name.
Bodies follow byte i = i % 251, so the test can check them by digest."""

import sys

import asyncio
import hashlib

from coap import error as E
from coap import numbers as N
from coap.endpoint import Endpoint
from coap.message import Message
from coap.transport_dtls import DtlsClientTransport

_MOD = 251


def pattern(size):
    return bytes(i % _MOD for i in range(size))


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _opts(argv):
    o = {"ca": "ca.der", "client_cert": True, "stale": 12000, "hs_timeout": 10000, "hs_attempts": 3,
         "ciphers": None, "name": "localhost", "pin": None}
    i = 3
    while i < len(argv):
        a = argv[i]
        if a == "--no-client-cert":
            o["client_cert"] = False
            i += 1
            continue
        v = argv[i + 1]
        i += 2
        if a == "--ca":
            o["ca"] = None if v == "-" else v
        elif a == "--pin":
            o["pin"] = v
        elif a == "--stale-ms":
            o["stale"] = int(v)
        elif a == "--hs-timeout-ms":
            o["hs_timeout"] = int(v)
        elif a == "--hs-attempts":
            o["hs_attempts"] = int(v)
        elif a == "--server-name":
            o["name"] = v
        elif a == "--ciphers":
            o["ciphers"] = v.split(",")
    return o


def _say(*args):
    print("dev:", *args)


async def _run(cmd, t, ep, remote):
    words = cmd.split()
    op = words[0]
    if op == "connect":
        await t.connect()
        _say("connected " + t.cipher()[0])
    elif op == "get":
        msg = Message(N.CON, N.GET)
        msg.set_uri_path(words[1])
        block = int(words[2]) if len(words) > 2 else 1024
        resp = await ep.request(remote, msg, block_size=block, max_body=65536)
        _say("get %s -> %s %d bytes sha %s" % (words[1], N.code_str(resp.code), len(resp.payload),
                                            hashlib.sha256(resp.payload).digest().hex()[:16]))
    elif op == "put":
        size = int(words[2])
        block = int(words[3]) if len(words) > 3 else 1024
        msg = Message(N.CON, N.PUT, payload=pattern(size))
        msg.set_uri_path(words[1])
        resp = await ep.request(remote, msg, block_size=block)
        _say("put %s %d -> %s" % (words[1], size, N.code_str(resp.code)))
    elif op == "stats":
        st = t.stats
        _say("stats " + " ".join("%s=%d" % (k, st[k]) for k in sorted(st)))
    else:
        _say("unknown command", op)


def _serve(req, remote):
    """What the server may ask of the device over the session: GET /dev/name."""
    path = req.path_str()
    _say("served %s %s" % (N.code_str(req.code), path))
    if req.code == N.GET and path == "/dev/name":
        return Message(code=N.CONTENT, payload=b"dtls-device")
    raise E.NotFound(path)


async def main(argv):
    host, port, pki = argv[0], int(argv[1]), argv[2]
    o = _opts(argv)
    cert = key = None
    if o["client_cert"]:
        cert, key = _read(pki + "/client.der"), _read(pki + "/client.key.der")
    ca = _read(pki + "/" + o["ca"]) if o["ca"] else None
    pin = _read(pki + "/" + o["pin"]) if o["pin"] else None
    t = DtlsClientTransport(host, port, ca, cert, key, pinned=pin,
                            server_hostname=o["name"], handshake_timeout_ms=o["hs_timeout"],
                            handshake_attempts=o["hs_attempts"], stale_ms=o["stale"], ciphers=o["ciphers"],
                            log=lambda s: print(s))
    ep = Endpoint(t, _serve, log=lambda s: print(s)).start()
    remote = t.resolve(host, port)
    stdin = asyncio.StreamReader(sys.stdin)
    _say("ready")
    while True:
        line = (await stdin.readline()).decode().strip()
        if not line or line == "quit":
            break
        try:
            await _run(line, t, ep, remote)
        except Exception as e:
            _say("error %s: %s" % (type(e).__name__, e))
    await ep.close()
    _say("bye")


asyncio.run(main(sys.argv[1:]))
