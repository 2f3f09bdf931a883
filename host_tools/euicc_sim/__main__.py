"""python -m host_tools.euicc_sim show|reset|set-eim --state PATH [--pki DIR] [--eid EID]
                                  [--eim-id ID] [--fqdn HOST[:PORT]] [--counter N]

set-eim points an associated eIM (default the seeded "test-eim") at another address, e.g. the
port a test's eIM server got, before the modem simulator loads the state file."""

import argparse
import json
import sys

from host_tools import pki as _pki
from host_tools.euicc_sim import state as st


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m host_tools.euicc_sim")
    ap.add_argument("cmd", choices=("show", "reset", "set-eim"))
    ap.add_argument("--state", required=True, help="JSON state file (created if missing)")
    ap.add_argument("--pki", default=None, help="test PKI directory (default: per-user temp dir)")
    ap.add_argument("--eid", default=None)
    ap.add_argument("--eim-id", default=st.DEFAULT_EIM_ID)
    ap.add_argument("--fqdn", default=None)
    ap.add_argument("--counter", type=int, default=None)
    args = ap.parse_args(argv)
    pki = _pki.make(args.pki, eid=args.eid or _pki.DEFAULT_EID)
    state = st.State(args.state, eid=args.eid, pki=pki)
    if args.cmd == "reset":
        state.reset()
        print("reset %s (EID %s)" % (args.state, state.eid))
        return 0
    if args.cmd == "set-eim":
        eim = state.eim(args.eim_id)
        if eim is None:
            print("no eIM %r in %s" % (args.eim_id, args.state), file=sys.stderr)
            return 2
        if args.fqdn is not None:
            eim["fqdn"] = args.fqdn
        if args.counter is not None:
            eim["counter"] = args.counter
        state.save()
        print("eim %s fqdn=%s counter=%d" % (eim["eim_id"], eim["fqdn"], eim["counter"]))
        return 0
    d = state.data
    print("EID %s" % d["eid"])
    for p in d["profiles"]:
        print("profile %-20s %-8s class=%d %s/%s imsi=%s apn=%s aid=%s%s" % (
            p["iccid"], p["state"], p["class"], p["mcc"], p["mnc"], p["imsi"], p["apn"],
            p["isdp_aid"], " fallback" if p["fallback"] else ""))
    for e in d["eims"]:
        print("eim %s fqdn=%s counter=%d token=%s" % (e["eim_id"], e.get("fqdn"), e["counter"],
                                                     e.get("association_token")))
    for n in d["notifications"]:
        print("notification seq=%d event=%d iccid=%s" % (n["seq"], n["event"], n["iccid"]))
    for r in d["package_results"]:
        print("package result seq=%d eim=%s" % (r["seq"], r["eim_id"]))
    print(json.dumps({k: d[k] for k in ("default_dp_address", "immediate_enable", "rollback")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
