"""python -m host_tools.smdp serve [--host H] [--port N] [--pki DIR] [--db PATH]
                                   [--profile-size BYTES] [--order MATCHING_ID ...]

Prints "SMDP listening on HOST:PORT" once ready; stops on SIGTERM/SIGINT."""

import argparse
import asyncio
import signal
import sys

from host_tools import pki as _pki
from host_tools.smdp import server
from host_tools.smdp.core import DEFAULT_PROFILE_SIZE, SmDp


async def _run(args):
    pki = _pki.make(args.pki)
    smdp = SmDp(pki, address="%s:%d" % (args.host, args.port) if args.port else args.host,
                db_path=args.db, profile_size=args.profile_size)
    for i, matching_id in enumerate(args.order or [""]):
        smdp.add_order(matching_id, iccid="89001030000000000%02d" % (33 + i * 11))
    srv = await server.serve(smdp, args.host, args.port)
    port = srv.sockets[0].getsockname()[1]
    smdp.address = "%s:%d" % (args.host, port)
    print("SMDP listening on %s:%d" % (args.host, port), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with srv:
        await stop.wait()
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m host_tools.smdp")
    ap.add_argument("cmd", choices=("serve",))
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--pki", default=None)
    ap.add_argument("--db", default=":memory:")
    ap.add_argument("--profile-size", type=int, default=DEFAULT_PROFILE_SIZE)
    ap.add_argument("--order", action="append", help="matching ID of a released order")
    return asyncio.run(_run(ap.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
