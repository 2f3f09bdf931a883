"""python -m host_tools.dtls_pki make DIR   (keeps a complete existing set)"""

import sys

from host_tools import dtls_pki


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] != "make":
        print(__doc__.strip())
        return 2
    p = dtls_pki.make(argv[1])
    print("dtls_pki: %s (CA ca.pem, server server.pem/.key, client client.der/client.key.der)"
          % p.directory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
