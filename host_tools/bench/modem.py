"""Modem layer figures, measured with the firmware on the MicroPython Unix port against the
modem simulator:

  * AT round trips per APDU and per KB of STORE DATA against the floor at the negotiated
    segment size (floor = one command per segment + one GET RESPONSE per 256 response bytes);
  * heap retained by the AT engine after URC storms of growing length (gc'd), engine size.

Run: python -m host_tools.bench modem   (or python -m host_tools.bench.modem)."""

import glob
import json
import os
import shutil
import subprocess
import tempfile
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTS = os.path.join(ROOT, "tests", "modem")
MICROPYTHON = os.path.join(ROOT, "build", "bin", "micropython")
MPY_CROSS = os.path.join(ROOT, "build", "bin", "mpy-cross")
FAKECARD = os.path.join(TESTS, "modem_fakecard.py") + ":Card"
_STORE_SIZES = (1024, 4096)
_RESPONSE = 300  # bytes the test card answers to a STORE DATA chain


class _Sim:
    def __init__(self, dialect, quirks=None):
        args = [sys.executable, "-u", "-m", "host_tools.modem_sim", "--dialect", dialect, "--tcp", "0",
                "--card", FAKECARD]
        if quirks:
            args += ["--quirks", quirks]
        env = dict(os.environ, PYTHONPATH=ROOT)
        self.p = subprocess.Popen(args, cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, start_new_session=True)
        deadline = time.monotonic() + 20
        line = ""
        while "tcp" not in line and time.monotonic() < deadline:
            line = self.p.stdout.readline()
        self.link = "tcp:" + line.split()[-1]

    def stop(self):
        self.p.terminate()
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(timeout=5)


def _compile(dest):
    # bytecode, as on a board: compiling source on import would dominate a small heap
    os.makedirs(os.path.join(dest, "modem"))
    for src in glob.glob(os.path.join(ROOT, "firmware", "modem", "*.py")):
        out = os.path.join(dest, "modem", os.path.basename(src)[:-3] + ".mpy")
        subprocess.run([MPY_CROSS, "-o", out, src], check=True, cwd=ROOT)
    subprocess.run([MPY_CROSS, "-o", os.path.join(dest, "modem_devapp.mpy"),
                    os.path.join(TESTS, "modem_devapp.py")], check=True, cwd=ROOT)


def _device(dialect, link, scenario, args, heapsize="256K", path=None):
    path = path or [TESTS, os.path.join(ROOT, "firmware")]
    env = dict(os.environ, MICROPYPATH=os.pathsep.join(path + [".frozen"]))
    out = subprocess.run([MICROPYTHON, "-X", "heapsize=" + heapsize, "-m", "modem_devapp", dialect, link,
                          scenario] + [str(a) for a in args], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=180).stdout
    for line in out.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError("device %s %s failed:\n%s" % (dialect, scenario, out[-2000:]))


def _apdu_figures():
    print("AT round trips (RT) for UICC access; floor = ceil(size/segment) + ceil(%d/256)" % _RESPONSE)
    print("%-10s %-10s %5s %4s %8s %6s %6s %7s %9s" % ("dialect", "quirks", "seg", "csim", "payload",
                                                     "RT", "floor", "ratio", "ms/RT"))
    for dialect, quirks in (("nrf91_slm", "nrf91_slm"), ("bg95", "bg95"), ("sim7080", "standard"),
                            ("sara_r5", "sara_r5")):
        sim = _Sim(dialect, quirks)
        try:
            r = _device(dialect, sim.link, "bench_apdu", [quirks] + list(_STORE_SIZES))
        finally:
            sim.stop()
        seg = r["segment"]
        for kind, n, rt, ms in r["rows"]:
            if kind == "short":
                floor = n
                label = "%dx APDU" % n
            else:
                floor = -(-kind // seg) + -(-_RESPONSE // 256)
                label = "%d B" % kind
            print("%-10s %-10s %5d %4s %8s %6d %6d %7.3f %9.1f" % (dialect, quirks, seg, "y" if r["csim"] else "n",
                                                                  label, rt, floor, rt / floor, ms / rt))
            if kind != "short":
                print("%-10s %-10s %5s %4s %8s %6.2f  (AT round trips per KB of STORE DATA)"
                      % ("", "", "", "", "", rt * 1024 / kind))


def _storm_figures():
    print()
    print("URC storm: heap retained by the engine after the storm (gc.collect); firmware as .mpy, "
          "-X heapsize=64K")
    tmp = tempfile.mkdtemp(prefix="bench_modem_")
    try:
        _compile(tmp)
        for dialect in ("bg95", "nrf91_slm"):
            sim = _Sim(dialect)
            try:
                r = _device(dialect, sim.link, "bench_storm", [500, 2000, 8000, 20000], heapsize="64K",
                            path=[tmp])
            finally:
                sim.stop()
            _print_storm(dialect, r)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _print_storm(dialect, r):
    if True:
        print("%s: link+engine+dialect objects %d bytes (heap %d)" % (dialect, r["engine_bytes"], r["heap_total"]))
        for n, delta, ms in r["rows"]:
            print("  storm %5d URCs: retained %+6d bytes, %6d ms (%.0f URC/s)" % (n, delta, ms, n * 1000.0 / max(ms, 1)))
        st = r["stats"]
        print("  engine counters: urcs=%d unsolicited=%d garbled=%d overlong=%d"
              % (st["urcs"], st["unsolicited"], st["garbled"], st["overlong"]))


def main():
    _apdu_figures()
    _storm_figures()


if __name__ == "__main__":
    main()
