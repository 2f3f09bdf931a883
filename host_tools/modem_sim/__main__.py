"""CLI: serve one simulated modem over TCP (127.0.0.1) or a pty.

    python -m host_tools.modem_sim --dialect bg95 --tcp 0 [--euicc-state PATH] [--no-route PLMN[,PLMN]]

--no-route: the networks of these PLMNs (MCC+MNC, e.g. 00103) attach and give an IP address, but
UDP sent or received while on them is lost (an operator without a route to the servers).

Prints `modem_sim: tcp 127.0.0.1:PORT` or `modem_sim: pty /dev/pts/N` when ready.  Lines on
stdin control fault injection (one per line, answered with `ok ...` on stdout):
    mute N            no answer to the next N commands   mute_on PREFIX  no answer to that command
    reset             reboot now (boot URCs)         reset_on PREFIX  reboot when that command comes
    garble RATE       noise line before an output line with probability RATE
    drop_urc RATE     drop URCs with probability RATE
    delay SECONDS     answer every command that much later
    storm N           N URCs back to back         storm_on PREFIX N  storm before answering that command
    refresh           the card signals REFRESH (profile switch done by the card)
    switch ICCID      (fake cards) enable another profile, then REFRESH
    stats             print counters and open UICC sessions/sockets
    no_route PLMN[,PLMN] | none   replace the set of networks without a route
"""

import argparse
import asyncio
import importlib
import importlib.util
import json
import os
import sys
import tty

from .dialects import DIALECTS


class _TcpLink:
    def __init__(self, writer):
        self.w = writer

    def write(self, data):
        if not self.w.is_closing():
            self.w.write(data)


class _PtyLink:
    def __init__(self, fd):
        self.fd = fd

    def write(self, data):
        try:
            os.write(self.fd, data)
        except OSError:
            pass


def load_card(spec, state):
    """`module:Class` or, by default, the eUICC simulator's Card (None if absent)."""
    if spec == "none":
        return None
    if spec is None:
        try:
            mod = importlib.import_module("host_tools.euicc_sim.card")
        except ImportError:
            return None
        cls = mod.Card
    else:
        modname, _, clsname = spec.rpartition(":") if spec.count(":") else (spec, "", "Card")
        if modname.endswith(".py"):
            loc = importlib.util.spec_from_file_location("modem_sim_card", modname)
            mod = importlib.util.module_from_spec(loc)
            loc.loader.exec_module(mod)
        else:
            mod = importlib.import_module(modname)
        cls = getattr(mod, clsname or "Card")
    card = cls(state) if state else cls()
    card.power_on()
    return card


async def _serve_tcp(modem, port):
    async def client(reader, writer):
        link = _TcpLink(writer)
        modem.attach_link(link)
        try:
            while True:
                data = await reader.read(4096)
                if not data:
                    break
                modem.feed(data)
        finally:
            modem.detach_link(link)
            writer.close()

    server = await asyncio.start_server(client, "127.0.0.1", port)
    print("modem_sim: tcp 127.0.0.1:%d" % server.sockets[0].getsockname()[1], flush=True)
    return server


def _serve_pty(modem):
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    loop = asyncio.get_running_loop()
    link = _PtyLink(master)
    modem.attach_link(link)

    def readable():
        try:
            data = os.read(master, 4096)
        except OSError:
            # no reader on the other side (EIO): look again later instead of spinning
            loop.remove_reader(master)
            loop.call_later(0.2, loop.add_reader, master, readable)
            return
        if data:
            modem.feed(data)

    loop.add_reader(master, readable)
    print("modem_sim: pty %s" % path, flush=True)
    return master, slave


def parse_plmns(text):
    """`00103,26295` -> set of PLMN strings; `none` or empty -> empty set."""
    if not text or text == "none":
        return set()
    plmns = set(p.strip() for p in text.split(","))
    for p in plmns:
        if not (p.isdigit() and len(p) in (5, 6)):
            raise ValueError("PLMN %r: MCC+MNC, 5 or 6 digits" % p)
    return plmns


def control(modem, line):
    parts = line.split()
    if not parts:
        return None
    cmd, args = parts[0], parts[1:]
    f = modem.faults
    if cmd == "mute":
        f["mute"] = int(args[0]) if args else 1
    elif cmd == "reset":
        asyncio.get_running_loop().create_task(modem.reboot())
    elif cmd == "mute_on":
        f["mute_on"] = args[0].upper()
    elif cmd == "reset_on":
        f["reset_on"] = args[0].upper()
    elif cmd in ("garble", "drop_urc", "delay"):
        f[cmd] = float(args[0])
    elif cmd == "storm_on":
        f["storm_on"] = (args[0].upper(), int(args[1]))
    elif cmd == "storm":
        modem.storm(int(args[0]))
    elif cmd == "refresh":
        modem._card_refresh()
    elif cmd == "switch":
        modem.card.switch(args[0])
    elif cmd == "no_route":
        try:
            modem.no_route = parse_plmns(args[0] if args else "none")
        except ValueError as e:
            return "error %s" % e
        return "ok no_route %s dropped=%d" % (",".join(sorted(modem.no_route)) or "none",
                                               modem.counters["no_route_dropped"])
    elif cmd == "stats":
        open_ch = modem.card.open_channels() if hasattr(modem.card, "open_channels") else None
        return "ok stats " + json.dumps({"counters": modem.counters, "sessions": len(modem.sessions),
                                         "sockets": len(modem.sockets), "card_channels": open_ch,
                                         "stat": modem.stat, "faults": f})
    else:
        return "error unknown control %r" % cmd
    return "ok " + cmd


async def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m host_tools.modem_sim")
    ap.add_argument("--dialect", required=True, choices=sorted(DIALECTS))
    ap.add_argument("--tcp", type=int, help="serve on 127.0.0.1:PORT (0 = any free port)")
    ap.add_argument("--pty", action="store_true", help="serve on a new pty")
    ap.add_argument("--euicc-state", help="state file handed to the Card")
    ap.add_argument("--card", help="module:Class of the card (default: host_tools.euicc_sim.card:Card, "
                                   "'none' for no card)")
    ap.add_argument("--quirks", help="UICC quirk profile (default: the dialect's own)")
    ap.add_argument("--reg-delay", type=float, default=0.05, help="seconds from CFUN=1 to registered")
    ap.add_argument("--garble", type=float, default=0.0)
    ap.add_argument("--drop-urc", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-route", type=parse_plmns, default=set(), metavar="PLMN[,PLMN]",
                    help="networks that attach but carry no UDP (e.g. 00103)")
    a = ap.parse_args(argv)
    card = load_card(a.card, a.euicc_state)
    modem = DIALECTS[a.dialect](card, a.quirks, a.reg_delay, a.seed, no_route=a.no_route)
    modem.faults["garble"] = a.garble
    modem.faults["drop_urc"] = a.drop_urc
    if a.pty:
        _serve_pty(modem)
    else:
        await _serve_tcp(modem, a.tcp or 0)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        raw = await reader.readline()
        if not raw:
            await asyncio.sleep(3600 * 24)  # stdin closed: keep serving until killed
            continue
        out = control(modem, raw.decode().strip())
        if out:
            print(out, flush=True)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
