"""Runs on MicroPython (the Unix port) as `-m ipa_device_bridge STATE_PATH CHANNEL VERSION OP...`:
the real IPAd procedures and STORE DATA framing, with the card and the eIM on the host side of
a line protocol over stdin/stdout:

  device -> host  "@APDU <hex>"     host answers "<data hex> <sw hex>"
                  "@ESIPA <hex>"    host answers "<hex>" or "!unreachable"
                  "@STREAM <hex>"   host answers with the first chunk "<hex>" (or "!unreachable")
                  "@MORE"           host answers with the next chunk ("" at the end)
                  "@DONE <op> <json>"
"""

import json
import sys

from binascii import hexlify, unhexlify

from ipa import apdu, procedures
from ipa.state import IpaState


def _ask(line):
    print(line)
    got = sys.stdin.readline().strip()
    if got == "!unreachable":
        raise procedures.EimUnreachable("host says unreachable")
    return got


def _apdu(a):
    got = _ask("@APDU " + hexlify(bytes(a)).decode())
    data, sw = got.split(" ") if " " in got else ("", got)
    return unhexlify(data), int(sw, 16)


def _es10b(sd, cmd):
    g = apdu.transact(sd, cmd)
    a = next(g)
    while True:
        try:
            a = g.send(_apdu(a))
        except StopIteration as e:
            return e.value


def handler(sd):
    def handle(action):
        if "es10b" in action:
            return _es10b(sd, action["es10b"])
        if "apdu" in action:
            return _apdu(action["apdu"])
        if "esipa" in action:
            return unhexlify(_ask("@ESIPA " + hexlify(action["esipa"]).decode()))
        if "esipa_stream" in action:
            return unhexlify(_ask("@STREAM " + hexlify(action["esipa_stream"]).decode()))
        if "more" in action:
            return unhexlify(_ask("@MORE"))
        raise ValueError("unknown action")
    return handle


def _jsonable(v):
    if isinstance(v, (bytes, bytearray)):
        return hexlify(v).decode()
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def main(argv):
    path, channel, version = argv[0], int(argv[1]), int(argv[2])
    ipa = procedures.Ipa(IpaState(path), eim_version=version, channel=channel)
    h = handler(ipa.sd)
    for op in argv[3:]:
        result = procedures.drive(getattr(ipa, op)(), h)
        print("@DONE %s %s" % (op, json.dumps(_jsonable(result))))


main(sys.argv[1:])
