"""Run every benchmark module in this package (or those named on the command line).

A failing benchmark is reported and the others still run; the exit status is non-zero if any
failed, so `make bench` shows a broken measurement instead of hiding it."""

import importlib
import os
import sys
import time
import traceback


def _names():
    here = os.path.dirname(os.path.abspath(__file__))
    return sorted(f[:-3] for f in os.listdir(here) if f.endswith(".py") and not f.startswith("_"))


def main(argv):
    wanted = argv or _names()
    failed = []
    for name in wanted:
        print("=" * 72)
        print("bench: %s" % name)
        print("=" * 72, flush=True)
        start = time.monotonic()
        try:
            importlib.import_module("host_tools.bench." + name).main()
        except Exception:  # keep going: one broken bench must not hide the others' figures
            traceback.print_exc()
            failed.append(name)
        print("(%s took %.1f s)\n" % (name, time.monotonic() - start), flush=True)
    if failed:
        print("bench: FAILED: %s" % ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
