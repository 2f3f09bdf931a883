"""python -m host_tools.pki make DIR [--eid EID]   (idempotent: existing files are kept)"""

import argparse
import sys

from host_tools import pki


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m host_tools.pki")
    sub = ap.add_subparsers(dest="cmd", required=True)
    mk = sub.add_parser("make", help="create or complete the test PKI in DIR")
    mk.add_argument("dir")
    mk.add_argument("--eid", default=pki.DEFAULT_EID)
    args = ap.parse_args(argv)
    p = pki.make(args.dir, args.eid)
    for ent in (p.ci, p.eum, p.euicc, p.dpauth, p.dppb, p.eim, p.tls_ca, p.eim_tls, p.smdp_tls):
        print("%-40s %s" % (ent.cert_path, ent.cert.subject.rfc4514_string()))
    print("CI SKI %s" % p.ci_ski.hex())
    return 0


if __name__ == "__main__":
    sys.exit(main())
