"""Command line: run the LwM2M server (and bootstrap server), log what clients do and run
operations typed on stdin, one per line. Output lines start with an upper-case tag (REGISTERED,
RESULT, NOTIFY, SEND, ERROR, ...) so scripts and tests can match them."""

import argparse
import asyncio
import json
import logging
import shlex
import sys
import threading

from . import numbers
from .bootstrap import BootstrapServer, simple_config
from .codecs import ObjLnk
from .exchange import OperationError
from .server import LwM2MServer

HELP = """commands (paths like /3/0/13; fmt: tlv senml-json senml-cbor lwm2m-cbor text opaque):
  list                                  registered clients
  read <ep> <path> [fmt]                discover <ep> <path> [depth]
  write <ep> <path> <value> [fmt]       update <ep> <path> <value> [fmt]   (partial, POST)
  exec <ep> <path> [args]               delete <ep> <path>
  create <ep> /<oid> <rid>=<value>...   attr <ep> <path> pmin=10 pmax=60 ...
  observe <ep> <path>                   cancel <ep> <path> [explicit]
  cread <ep> <path>...                  cwrite <ep> <path>=<value>...
  cobserve <ep> <path>...               bootstrap <ep> [server-iid]   (Execute /1/x/9)
  bsconfig <ep> <server-uri> [lifetime] [binding]                      sends <ep>
  help    quit
values: 12  -3  1.5  true  false  "text"  hex:0a0b  objlnk:3:0  (anything else is text)"""


def parse_value(text):
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low.startswith("hex:"):
        return bytes.fromhex(text[4:])
    if low.startswith("objlnk:"):
        return ObjLnk.parse(text[7:])
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def show(value):
    """One-line JSON-ish rendering of decoded values."""
    def conv(v):
        if isinstance(v, dict):
            return {str(k): conv(x) for k, x in v.items()}
        if isinstance(v, (bytes, bytearray)):
            return "hex:" + bytes(v).hex()
        if isinstance(v, ObjLnk):
            return "objlnk:%s" % v
        return v
    return json.dumps(conv(value))


class Console:
    def __init__(self, server, bs, out=print):
        self.server = server
        self.bs = bs
        self.out = out
        self.observations = {}
        server.add_listener(self._on_event)

    def _on_event(self, kind, endpoint, detail):
        if kind == "notify":
            return  # printed by the observation's own task, with its path
        if kind == "send":
            self.out("SEND %s %s" % (endpoint, show(detail)))
        elif detail is not None and hasattr(detail, "location"):
            self.out("%s %s %s lt=%d b=%s%s remote=%s objects=%s" % (
                kind.upper(), endpoint, detail.location, detail.lifetime, detail.binding,
                " Q" if detail.queue_mode else "", detail.remote_uri, ",".join(detail.objects)))
        else:
            self.out("%s %s" % (kind.upper(), endpoint))

    def _result(self, res):
        body = show(res.values) if res.values is not None else (res.error or res.payload.hex())
        self.out("RESULT %s %s %s" % (res.code, res.path, body))

    async def _watch(self, endpoint, key, obs):
        try:
            async for res in obs:
                self.out("NOTIFY %s %s %s %s" % (endpoint, key, res.code, show(res.values)))
        finally:
            self.observations.pop((endpoint, key), None)

    async def run_line(self, line):
        try:
            args = shlex.split(line)
        except ValueError as exc:
            self.out("ERROR %s" % exc)
            return True
        if not args:
            return True
        cmd, rest = args[0].lower(), args[1:]
        try:
            return await self._dispatch(cmd, rest)
        except (OperationError, ValueError, KeyError, IndexError, asyncio.TimeoutError) as exc:
            self.out("ERROR %s: %s" % (type(exc).__name__, exc))
        return True

    async def _dispatch(self, cmd, a):
        s = self.server
        fmt = lambda i: numbers.content_format(a[i]) if len(a) > i else None  # noqa: E731
        if cmd in ("quit", "exit"):
            return False
        if cmd == "help":
            self.out(HELP)
        elif cmd == "list":
            for reg in s.registrations():
                self._on_event("client", reg.endpoint, reg)
            self.out("END list")
        elif cmd == "read":
            self._result(await s.read(a[0], a[1], accept=fmt(2)))
        elif cmd == "discover":
            self._result(await s.discover(a[0], a[1], depth=int(a[2]) if len(a) > 2 else None))
        elif cmd in ("write", "update"):
            self._result(await s.write(a[0], a[1], parse_value(a[2]), fmt(3), replace=cmd == "write"))
        elif cmd == "exec":
            self._result(await s.execute(a[0], a[1], " ".join(a[2:]) or None))
        elif cmd == "delete":
            self._result(await s.delete(a[0], a[1]))
        elif cmd == "create":
            values = {}
            for item in a[2:]:
                rid, _, text = item.partition("=")
                iid_rid = rid if "/" in rid else "0/" + rid
                values["%s/%s" % (a[1].rstrip("/"), iid_rid)] = parse_value(text)
            self._result(await s.create(a[0], a[1], values))
        elif cmd == "attr":
            attrs = dict(item.partition("=")[::2] for item in a[2:])
            self._result(await s.write_attributes(a[0], a[1], **{k: (v or None) for k, v in attrs.items()}))
        elif cmd in ("observe", "cobserve"):
            obs = s.observe(a[0], a[1]) if cmd == "observe" else s.observe_composite(a[0], a[1:])
            key = a[1] if cmd == "observe" else ",".join(a[1:])
            first = await obs.established()
            self.observations[(a[0], key)] = obs
            self._result(first)
            await obs.__anext__()  # the watcher prints notifications only
            asyncio.create_task(self._watch(a[0], key, obs))
        elif cmd == "cancel":
            obs = self.observations.pop((a[0], a[1]))
            res = await obs.cancel(explicit=len(a) > 2 and a[2] == "explicit")
            if res is not None:
                self._result(res)
            self.out("CANCELLED %s %s" % (a[0], a[1]))
        elif cmd == "cread":
            self._result(await s.read_composite(a[0], a[1:]))
        elif cmd == "cwrite":
            values = {p: parse_value(v) for p, _, v in (item.partition("=") for item in a[1:])}
            self._result(await s.write_composite(a[0], values))
        elif cmd == "bootstrap":
            self._result(await s.request_bootstrap(a[0], int(a[1]) if len(a) > 1 else None))
        elif cmd == "bsconfig":
            if self.bs is None:
                raise ValueError("no bootstrap server running (--bs-port)")
            self.bs.set_config(a[0], simple_config(a[1], lifetime=int(a[2]) if len(a) > 2 else 300,
                                                   binding=a[3] if len(a) > 3 else "U"))
            self.out("BSCONFIG %s %s" % (a[0], a[1]))
        elif cmd == "sends":
            for record in s.sends(a[0]):
                self.out("SEND %s %s" % (a[0], show(record["values"])))
            self.out("END sends")
        else:
            self.out("ERROR unknown command %r (try help)" % cmd)
        return True


async def _stdin_lines():
    # a daemon thread works for any stdin (tty, pipe, file, /dev/null) and never holds up exit
    loop = asyncio.get_running_loop()
    lines = asyncio.Queue()

    def reader():
        for raw in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, raw.strip())
        loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=reader, name="stdin", daemon=True).start()
    while True:
        line = await lines.get()
        if line is None:
            return
        yield line


async def run(args):
    server = await LwM2MServer.start(args.host, args.port, args.db, timeout=args.timeout,
                                     grace=args.grace, awake_time=args.awake)
    bs = None
    if args.bs_port is not None:
        configs = {}
        if args.bs_config:
            with open(args.bs_config) as f:
                configs = json.load(f)
        bs = await BootstrapServer.start(args.host, args.bs_port, args.db, configs=configs,
                                         timeout=args.timeout)
    out = lambda text: print(text, flush=True)  # noqa: E731
    console = Console(server, bs, out)
    out("READY lwm2m=%s:%d%s" % (args.host, server.port,
                                 " bootstrap=%s:%d" % (args.host, bs.port) if bs else ""))
    try:
        async for line in _stdin_lines():
            if not await console.run_line(line):
                break
        else:
            # stdin closed (e.g. run in the background): keep serving until killed
            await asyncio.Event().wait()
    finally:
        if bs:
            await bs.stop()
        await server.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m host_tools.lwm2m_server", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=HELP)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5683, help="LwM2M server UDP port (0: any free)")
    parser.add_argument("--bs-port", type=int, default=None, help="also run the bootstrap server here")
    parser.add_argument("--bs-config", help="JSON {endpoint: {\"/0/1\": {rid: value}, ...}}")
    parser.add_argument("--db", default=":memory:", help="SQLite file for state (default in memory)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request to a client")
    parser.add_argument("--grace", type=float, default=2.0, help="seconds past lifetime before expiry")
    parser.add_argument("--awake", type=float, default=numbers.DEFAULT_AWAKE_S,
                        help="queue mode: seconds a client listens after it was heard from")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    try:
        asyncio.run(run(args))
    except KeyboardInterrupt:
        pass
