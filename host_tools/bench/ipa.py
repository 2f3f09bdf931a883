"""IPAd benchmark, measured on the MicroPython Unix port with the firmware modules imported:
heap taken by importing the ipa package, peak live heap while streaming a 16 KB and a 64 KB
Bound Profile Package through the §5.7.6 splitter (it must not grow with the size), STORE DATA
blocks sent against the floor the segment boundaries allow, and splitter throughput.
Prints figures, asserts nothing. Run: python -m host_tools.bench ipa"""

import os
import subprocess
import sys
import tempfile

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_MPY = os.path.join(_ROOT, "build", "bin", "micropython")
_MPY_CROSS = os.path.join(_ROOT, "build", "bin", "mpy-cross")
_HEAP = "96K"
# The IPAd core measured here (the HTTPS binding and other I/O layers are not).
_MODULES = ("__init__", "tlv", "apdu", "bpp", "es10b", "esipa", "state", "procedures")

_SCRIPT = r"""
import gc, time
gc.collect()
before = gc.mem_alloc()
import ipa.tlv, ipa.apdu, ipa.bpp, ipa.es10b, ipa.esipa, ipa.state, ipa.procedures
gc.collect()
print("import_heap_bytes", gc.mem_alloc() - before)
from ipa_bppgen import measure
for kb in (16, 64):
    t0 = time.ticks_ms()
    m = measure(kb, 1020, 1024)
    dt = time.ticks_diff(time.ticks_ms(), t0)
    print("bpp_kb", kb, "bytes", m["bytes"], "segments", m["segments"], "blocks", m["blocks"],
          "floor", m["floor"], "peak_heap_bytes", m["peak"], "ms", dt)
gc.collect()
print("heap_total_bytes", gc.mem_alloc() + gc.mem_free())
"""


def _compile(out):
    """Precompile to .mpy (as the image would freeze them) so the heap holds no compiler state."""
    os.makedirs(os.path.join(out, "ipa"))
    srcs = [os.path.join(_ROOT, "firmware", "ipa", m + ".py") for m in _MODULES]
    srcs.append(os.path.join(_ROOT, "tests", "ipa", "ipa_bppgen.py"))
    for src in srcs:
        rel = os.path.basename(src)[:-3] + ".mpy"
        dst = os.path.join(out, "ipa", rel) if "firmware" in src else os.path.join(out, rel)
        subprocess.run([_MPY_CROSS, "-o", dst, src], check=True, timeout=120)


def run_device():
    with tempfile.TemporaryDirectory() as tmp:
        _compile(tmp)
        env = dict(os.environ)
        env["MICROPYPATH"] = tmp
        proc = subprocess.run([_MPY, "-X", "heapsize=" + _HEAP, "-c", _SCRIPT], env=env,
                              capture_output=True, text=True, timeout=300, cwd=tmp)
    if proc.returncode != 0:
        raise RuntimeError("micropython failed (rc=%d): %s" % (proc.returncode,
                                                               proc.stdout + proc.stderr))
    return proc.stdout.splitlines()


def main():
    lines = run_device()
    print("IPAd on MicroPython (heap %s)" % _HEAP)
    for line in lines:
        parts = line.split()
        if parts[0] == "import_heap_bytes":
            print("  heap used by importing ipa.* (.mpy bytecode in RAM; frozen would be less): %s bytes" % parts[1])
        elif parts[0] == "bpp_kb":
            f = dict(zip(parts[0::2], parts[1::2]))
            ms = max(int(f["ms"]), 1)
            print("  BPP %3s KB of '86': %6s bytes in %3s segments, STORE DATA blocks %s "
                  "(floor %s), peak live heap %s bytes (after gc, per 1 KB chunk), %s ms "
                  "(%.0f KB/s through the splitter incl. fake eUICC)" % (f["bpp_kb"], f["bytes"], f["segments"], f["blocks"],
                                         f["floor"], f["peak_heap_bytes"], f["ms"],
                                         int(f["bytes"]) / 1.024 / ms))
        elif parts[0] == "heap_total_bytes":
            print("  heap size: %s bytes" % parts[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
