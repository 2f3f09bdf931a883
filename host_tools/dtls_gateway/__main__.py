"""python -m host_tools.dtls_gateway --backend 127.0.0.1:5683 --cert server.pem --key server.key
       --ca ca.pem [--listen 127.0.0.1:5684] [--ciphers LIST] [--idle-timeout 300]
       [--handshake-timeout 10] [--max-sessions 64] [--mtu 1232] [--max-seconds N] [-v]

Prints "dtls-gateway: listening on HOST:PORT ..." once, then one line per session event; ends
on SIGINT/SIGTERM or after --max-seconds, closing every session with close_notify."""

import argparse
import signal
import sys
import threading

from host_tools.dtls_gateway import DEFAULT_CIPHERS, DEFAULT_MTU, DtlsError, Gateway, parse_hostport


def _say(text):
    print("dtls-gateway: " + text, flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="python -m host_tools.dtls_gateway",
        description="DTLS 1.2 (certificates) in front of a plain CoAP server")
    ap.add_argument("--listen", default="127.0.0.1:5684",
                    help="HOST:PORT ([v6]:PORT), port 0 = any")
    ap.add_argument("--backend", required=True, help="HOST:PORT of the plain CoAP server")
    ap.add_argument("--cert", required=True, help="gateway certificate (chain), PEM")
    ap.add_argument("--key", required=True, help="gateway private key, PEM")
    ap.add_argument("--ca", required=True, help="CA(s) client certificates must chain to, PEM")
    ap.add_argument("--ciphers", default=DEFAULT_CIPHERS, help="OpenSSL cipher list, server order")
    ap.add_argument("--idle-timeout", type=float, default=300.0, metavar="S")
    ap.add_argument("--handshake-timeout", type=float, default=10.0, metavar="S")
    ap.add_argument("--max-sessions", type=int, default=64)
    ap.add_argument("--mtu", type=int, default=DEFAULT_MTU, help="largest datagram to a device")
    ap.add_argument("--max-seconds", type=float, default=None, help="stop after this long")
    ap.add_argument("-v", "--verbose", action="store_true", help="also cookie exchanges and drops")
    args = ap.parse_args(argv)

    gw = Gateway(args.cert, args.key, args.ca, parse_hostport(args.backend),
                 listen=parse_hostport(args.listen), ciphers=args.ciphers,
                 idle_timeout=args.idle_timeout, handshake_timeout=args.handshake_timeout,
                 max_sessions=args.max_sessions, mtu=args.mtu, log=_say, verbose=args.verbose)
    try:
        gw.start()
    except (DtlsError, OSError) as exc:
        _say("cannot start: %s" % exc)
        return 1
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    try:
        if not done.wait(args.max_seconds):
            _say("--max-seconds %g reached" % args.max_seconds)
    finally:
        gw.stop()
        _say("stopped %s" % " ".join("%s=%d" % kv for kv in sorted(gw.stats().items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
