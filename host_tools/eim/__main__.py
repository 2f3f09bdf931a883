"""python -m host_tools.eim — run the eIM or drive its queue.

    serve    --port 8443 --pki DIR --db eim.sqlite [--eim-id ID] [--host 127.0.0.1]
             [--smdp host_tools.eim.smdp_adapter] [--redeliver-after S]
    register --db FILE --eid EID [--pki DIR] [--euicc-cert FILE] [--counter N] [--token N]
    queue    --db FILE --eid EID <op> ...      (or --url https://127.0.0.1:8443 [--cafile F])
             enable --iccid I [--rollback] | disable --iccid I | delete --iccid I
             list [--iccid I] | getRAT | addEim --target ID [--fqdn F] [--pubkey-file PEM]
             deleteEim --target ID | updateEim --target ID [--fqdn F] | listEim
             download (--activation-code AC | --default-smdp | --smds ADDR)
             data [--tag-list HEX] [--result-seq N] [--notification-seq N]
    packages|audit --db FILE --eid EID          (or --url …)

Queueing writes the package spec; it is signed (and gets its counterValue) when delivered, so the
CLI needs no key and may share the SQLite file with a running server."""

import argparse
import asyncio
import json
import os
import ssl
import sys
import urllib.error
import urllib.request

from . import crypto, packages
from .core import EimCore
from .http_server import EsipaHttpServer
from .store import Store

DEFAULT_EIM_ID = "eim.test.invalid"


def _pki_file(pki_dir, name):
    path = os.path.join(pki_dir, name)
    return path if os.path.exists(path) else None


def _psmo_or_eco(args):
    """The JSON body a `queue` sub-command means."""
    op = args.op
    if op in ("enable", "disable", "delete"):
        item = {"op": op, "iccid": args.iccid}
        if op == "enable" and args.rollback:
            item["rollback"] = True
        return {"psmo": [item]}
    if op == "list":
        item = {"op": "listProfileInfo"}
        if args.iccid:
            item["iccid"] = args.iccid
        return {"psmo": [item]}
    if op == "getRAT":
        return {"psmo": [{"op": "getRAT"}]}
    if op in ("addEim", "updateEim"):
        item = {"op": op, "eimId": args.target}
        if args.fqdn:
            item["eimFqdn"] = args.fqdn
        if args.pubkey_file:
            cert = crypto.load_certificate(args.pubkey_file)
            item["eimPublicKey"] = crypto.public_key_info_der(cert.public_key()).hex()
        return {"eco": [item]}
    if op == "deleteEim":
        return {"eco": [{"op": "deleteEim", "eimId": args.target}]}
    if op == "listEim":
        return {"eco": [{"op": "listEim"}]}
    if op == "download":
        if args.activation_code:
            return {"download": {"activationCode": args.activation_code}}
        if args.smds:
            return {"download": {"smdsAddress": args.smds}}
        return {"download": {"contactDefaultSmdp": True}}
    if op == "data":
        spec = {"tagList": args.tag_list or packages.DEFAULT_TAG_LIST}
        if args.result_seq is not None:
            spec["resultSeq"] = args.result_seq
        if args.notification_seq is not None:
            spec["notificationSeq"] = args.notification_seq
        return {"ipaEuiccData": spec}
    raise SystemExit("unknown op %s" % op)


def _rest(args, method, path, body=None):
    ctx = ssl.create_default_context(cafile=args.cafile) if args.url.startswith("https") else None
    if ctx is not None and not args.cafile:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # loopback test tool; pass --cafile to verify
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(args.url.rstrip("/") + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return json.loads(resp.read().decode())
    except urllib.error.HTTPError as exc:
        raise SystemExit("eIM answered %d: %s" % (exc.code, exc.read().decode(errors="replace")))


def _core(args):
    store = Store(args.db)
    key = None
    if getattr(args, "pki", None):
        path = _pki_file(args.pki, "eim.key")
        key = crypto.load_private_key(path) if path else None
    return EimCore(args.eim_id, key, store)


def cmd_serve(args):
    if not args.pki:
        raise SystemExit("serve needs --pki DIR (python -m host_tools.pki make DIR)")
    from host_tools import pki as _pki
    _pki.make(args.pki)  # idempotent: creates what is missing, keeps what exists
    core = _core(args)
    if core.signing_key is None:
        raise SystemExit("no eim.key in %s" % args.pki)
    core.smdp = _smdp_adapter(args)
    core.redeliver_after_s = args.redeliver_after
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(args.pki, "eim_tls.pem"), os.path.join(args.pki, "eim_tls.key"))

    async def run():
        server = await EsipaHttpServer(core, args.host, args.port, ctx).start()
        print("eIM %s listening on https://%s:%d (db %s)" % (args.eim_id, args.host, server.port,
                                                            args.db), flush=True)
        await server.serve_forever()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    return 0


def _smdp_adapter(args):
    """The in-process SM-DP+ if host_tools.smdp offers the SmdpApi duck type, else None."""
    if not args.smdp:
        return None
    module_name, _, attr = args.smdp.partition(":")
    mod = __import__(module_name, fromlist=[attr or "make_eim_adapter"])
    return getattr(mod, attr or "make_eim_adapter")(args.pki)


def cmd_register(args):
    core = _core(args)
    cert = args.euicc_cert
    if cert is None and args.pki:
        cert = _pki_file(args.pki, "euicc_%s.pem" % args.eid)
    core.register_euicc(args.eid, euicc_cert=cert, counter=args.counter,
                        association_token=args.token)
    print("registered %s%s" % (args.eid, " with eUICC certificate" if cert else ""))
    return 0


def cmd_queue(args):
    body = _psmo_or_eco(args)
    if args.url:
        out = _rest(args, "POST", "/api/eids/%s/packages" % args.eid, body)
        print("queued package %d" % out["id"])
        return 0
    try:
        pid = _core(args).queue_body(args.eid, body)
    except packages.SpecError as exc:
        raise SystemExit("refused: %s" % exc)
    print("queued package %d" % pid)
    return 0


def cmd_show(args):
    what = args.cmd
    if args.url:
        out = _rest(args, "GET", "/api/eids/%s/%s" % (args.eid, what))
    else:
        core = _core(args)
        out = core.package_list(args.eid) if what == "packages" else core.audit_log(args.eid)
    print(json.dumps(out, indent=1))
    return 0


def _target(p):
    p.add_argument("--db", default="eim.sqlite")
    p.add_argument("--url", help="talk to a running eIM's REST instead of the SQLite file")
    p.add_argument("--cafile", help="CA to verify the eIM's TLS certificate (REST)")
    p.add_argument("--eim-id", default=DEFAULT_EIM_ID)
    p.add_argument("--pki")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m host_tools.eim")
    sub = ap.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("serve", help="run the ESipa HTTPS server")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8443)
    s.add_argument("--pki", required=True)
    s.add_argument("--db", default="eim.sqlite")
    s.add_argument("--eim-id", default=DEFAULT_EIM_ID)
    s.add_argument("--smdp", help="module[:factory] returning an SmdpApi object for the relay")
    s.add_argument("--redeliver-after", type=float, metavar="S",
                   help="offer a delivered package again if unanswered for S seconds")
    s.set_defaults(func=cmd_serve)

    r = sub.add_parser("register", help="make an EID known (and its eUICC certificate)")
    _target(r)
    r.add_argument("--eid", required=True)
    r.add_argument("--euicc-cert")
    r.add_argument("--counter", type=int)
    r.add_argument("--token", type=int)
    r.set_defaults(func=cmd_register)

    q = sub.add_parser("queue", help="queue a package for an EID")
    _target(q)
    q.add_argument("--eid", required=True)
    ops = q.add_subparsers(dest="op", required=True)
    for name in ("enable", "disable", "delete"):
        o = ops.add_parser(name)
        o.add_argument("--iccid", required=True)
        if name == "enable":
            o.add_argument("--rollback", action="store_true")
    o = ops.add_parser("list")
    o.add_argument("--iccid")
    ops.add_parser("getRAT")
    for name in ("addEim", "updateEim", "deleteEim"):
        o = ops.add_parser(name)
        o.add_argument("--target", required=True, help="eimId the eCO is about")
        if name != "deleteEim":
            o.add_argument("--fqdn")
            o.add_argument("--pubkey-file", help="PEM certificate whose key signs for that eIM")
    ops.add_parser("listEim")
    o = ops.add_parser("download")
    g = o.add_mutually_exclusive_group(required=True)
    g.add_argument("--activation-code")
    g.add_argument("--default-smdp", action="store_true")
    g.add_argument("--smds")
    o = ops.add_parser("data")
    o.add_argument("--tag-list")
    o.add_argument("--result-seq", type=int, help="only the EuiccPackageResult with this seqNumber")
    o.add_argument("--notification-seq", type=int, help="only the notification with this seqNumber")
    q.set_defaults(func=cmd_queue)

    for name in ("packages", "audit"):
        v = sub.add_parser(name, help="show the %s of an EID" % name)
        _target(v)
        v.add_argument("--eid", required=True)
        v.set_defaults(func=cmd_show)

    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
