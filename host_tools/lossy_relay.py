"""A lossy UDP relay for loopback tests: datagrams from a client to a target (and back) are
dropped, duplicated or reordered with seeded, bounded randomness, like a bad cellular link.

    python -m host_tools.lossy_relay --listen 40000 --target 127.0.0.1:5683 \
        [--seed 1] [--drop 0.1] [--dup 0.1] [--reorder 0.1] [--hold-ms 30]

The client talks to --listen; the relay forwards to --target from one socket and sends the
target's answers back to the last client address seen. A reordered datagram is held until the
next one in the same direction has gone out, or --hold-ms passed (so nothing is held forever).
Prints "relay: listening on PORT" once, then a stats line every 100 datagrams and on exit."""

import argparse
import asyncio
import random
import signal
import sys


class Impairment:
    """Decides the fate of each datagram; pure and seeded so a failing run can be replayed."""

    def __init__(self, seed, drop, dup, reorder):
        self.rng = random.Random(seed)
        self.drop, self.dup, self.reorder = drop, dup, reorder
        self.stats = {"in": 0, "out": 0, "drop": 0, "dup": 0, "reorder": 0}

    def fate(self):
        self.stats["in"] += 1
        r = self.rng.random()
        if r < self.drop:
            self.stats["drop"] += 1
            return "drop"
        r -= self.drop
        if r < self.dup:
            self.stats["dup"] += 1
            return "dup"
        r -= self.dup
        if r < self.reorder:
            self.stats["reorder"] += 1
            return "reorder"
        return "pass"


class _Direction:
    """One direction of the relay with at most one held (reordered) datagram."""

    def __init__(self, relay, name):
        self.relay = relay
        self.name = name
        self.held = None
        self.timer = None

    def push(self, data, send):
        fate = self.relay.imp.fate()
        if self.relay.verbose:
            print("relay: %s %s %s" % (self.name, fate, data[:4].hex()), flush=True)
        if fate == "drop":
            return
        if fate == "reorder" and self.held is None:
            self.held = (data, send)
            self.timer = asyncio.get_running_loop().call_later(self.relay.hold_s, self.flush)
            return
        self._out(data, send)
        if fate == "dup":
            self._out(data, send)
        self.flush()

    def flush(self):
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.held is not None:
            data, send = self.held
            self.held = None
            self._out(data, send)

    def _out(self, data, send):
        self.relay.imp.stats["out"] += 1
        send(data)
        self.relay.tick()


class Relay:
    def __init__(self, target, imp, hold_ms=30):
        self.target = target
        self.imp = imp
        self.hold_s = hold_ms / 1000
        self.client = None
        self.front = None
        self.back = None
        self.up = _Direction(self, "up")
        self.down = _Direction(self, "down")
        self._count = 0
        self.verbose = False

    def tick(self):
        self._count += 1
        if self._count % 100 == 0:
            self.report()

    def report(self):
        print("relay: " + " ".join("%s=%d" % kv for kv in self.imp.stats.items()), flush=True)

    async def start(self, listen_host, listen_port):
        loop = asyncio.get_running_loop()
        relay = self

        class Front(asyncio.DatagramProtocol):
            def datagram_received(self, data, addr):
                relay.client = addr
                relay.up.push(data, lambda d: relay.back.sendto(d, relay.target))

        class Back(asyncio.DatagramProtocol):
            def datagram_received(self, data, addr):
                if relay.client is not None:
                    relay.down.push(data, lambda d: relay.front.sendto(d, relay.client))

        self.front, _ = await loop.create_datagram_endpoint(Front, local_addr=(listen_host, listen_port))
        family = 10 if ":" in self.target[0] else 2
        self.back, _ = await loop.create_datagram_endpoint(Back, family=family,
                                                           local_addr=("::1" if family == 10 else "127.0.0.1", 0))
        return self.front.get_extra_info("sockname")[1]

    def close(self):
        self.up.flush()
        self.down.flush()
        for t in (self.front, self.back):
            if t is not None:
                t.close()


def _parse(argv):
    p = argparse.ArgumentParser(prog="python -m host_tools.lossy_relay")
    p.add_argument("--listen", type=int, required=True)
    p.add_argument("--listen-host", default="127.0.0.1")
    p.add_argument("--target", required=True, help="HOST:PORT")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--drop", type=float, default=0.1)
    p.add_argument("--dup", type=float, default=0.1)
    p.add_argument("--reorder", type=float, default=0.1)
    p.add_argument("--hold-ms", type=int, default=30)
    p.add_argument("--seconds", type=float, default=600, help="exit after this long (bounded)")
    p.add_argument("--verbose", action="store_true", help="one line per datagram and its fate")
    return p.parse_args(argv)


async def _main(args):
    host, _, port = args.target.rpartition(":")
    relay = Relay((host.strip("[]"), int(port)), Impairment(args.seed, args.drop, args.dup, args.reorder),
                  args.hold_ms)
    relay.verbose = args.verbose
    port = await relay.start(args.listen_host, args.listen)
    print("relay: listening on %d -> %s seed=%d drop=%.2f dup=%.2f reorder=%.2f"
          % (port, args.target, args.seed, args.drop, args.dup, args.reorder), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), args.seconds)
    except asyncio.TimeoutError:
        pass
    relay.report()
    relay.close()


def main(argv=None):
    asyncio.run(_main(_parse(sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    main()
