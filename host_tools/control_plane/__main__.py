"""Control plane CLI: host the LwM2M server, bootstrap server and eIM, and drive devices.

    python -m host_tools.control_plane [--run-dir build/run/cp] [--lifetime 30]

Prints the addresses a device needs (`micropython -m ops --bootstrap ... --eim ... --ca ...`),
then takes commands on stdin, one per line, and answers each with one JSON line:
    wait EP                         until EP is registered
    switch EP ICCID [https|lwm2m] [TIMEOUT_S]
                                    queue an enable with rollback at the eIM and follow the
                                    device to its verdict (committed / rolled_back / ...)
    audit EP                        the audit trail the device reported
    read EP PATH                    an LwM2M Read (e.g. /3/0)
    packages                        the eIM's package list for the EID
    quit"""

import argparse
import asyncio
import json
import os
import sys

from host_tools import pki as _pki

from .plane import ControlPlane


async def _command(cp, eid, words):
    cmd = words[0]
    if cmd == "wait":
        reg = await cp.wait_registered(words[1], 60)
        return {"registered": words[1], "location": reg.location}
    if cmd == "switch":
        via = words[3] if len(words) > 3 else "https"
        timeout = float(words[4]) if len(words) > 4 else 120.0
        out = await cp.switch(words[1], eid, words[2], via=via, timeout=timeout)
        return {"outcome": out.outcome, "change": out.change, "steps": out.steps(),
                "seconds": round(out.seconds, 1), "server_confirmed": out.server_confirmed()}
    if cmd == "audit":
        return {"audit": cp.audit(words[1])}
    if cmd == "read":
        res = await cp.server.read(words[1], words[2])
        return {"code": res.code, "values": {k: _plain(v) for k, v in (res.values or {}).items()}}
    if cmd == "packages":
        return {"packages": cp.eim.package_list(eid)}
    return {"error": "unknown command %r" % cmd}


def _plain(v):
    return v.hex() if isinstance(v, (bytes, bytearray)) else v


async def _main(a):
    cp = await ControlPlane.start(a.run_dir, lifetime=a.lifetime, eid=a.eid)
    print(json.dumps({"lwm2m": cp.lwm2m_uri, "bootstrap": cp.bootstrap_uri, "eim": cp.eim_url,
                      "ca": cp.ca_der_path, "eid": a.eid}), flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while True:
            raw = await reader.readline()
            if not raw:
                break
            words = raw.decode().split()
            if not words:
                continue
            if words[0] == "quit":
                break
            try:
                out = await _command(cp, a.eid, words)
            except Exception as e:  # noqa: BLE001 - one bad command must not stop the servers
                out = {"error": "%s: %s" % (type(e).__name__, e)}
            print(json.dumps(out, default=str), flush=True)
    finally:
        await cp.close()


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m host_tools.control_plane")
    ap.add_argument("--run-dir", default=os.path.join("build", "run", "cp"))
    ap.add_argument("--lifetime", type=int, default=30)
    ap.add_argument("--eid", default=_pki.DEFAULT_EID)
    a = ap.parse_args(argv)
    try:
        asyncio.run(_main(a))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
