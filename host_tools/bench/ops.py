"""Benchmark of the operating loop (device application + control plane), printed, not asserted.

    python -m host_tools.bench ops

Figures:
  * heap held by the ops modules once imported (loop, facts, context, entry_change), as source
    compiled in RAM and as frozen bytecode (when the image carries them);
  * the device application's heap after start-up and after a committed switch (gc.mem_alloc
    after a collect, `mem` on its stdin), at the default heap and at the smallest of a few
    -X heapsize values that still completes a committed switch;
  * heap after 30 s of idle eIM polling (it must not grow with the number of rounds);
  * wall time of a committed switch (queued at the eIM → device verdict seen upstream) over
    HTTPS, and of a rolled-back one (no route) with a 6 s proof window."""

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import time

from host_tools import pki as _pki
from host_tools.control_plane import ControlPlane, netsim
from host_tools.demo import rig

EP = "bench-ops"
_SOAK_S = 30
OP1 = "8900101000000000017"
OP2 = "8900102000000000025"
_IMPORT = ("import gc; gc.collect(); a = gc.mem_alloc()\n"
           "import ops.entry_change, ops.loop, ops.facts, ops.context\n"
           "gc.collect(); print('held', gc.mem_alloc() - a)")


def import_cost(frozen):
    env = dict(os.environ, MICROPYPATH=".frozen" if frozen else "firmware:.frozen")
    r = subprocess.run([rig.MICROPYTHON, "-X", "heapsize=1M", "-c", _IMPORT], env=env,
                       cwd=rig.ROOT, capture_output=True, text=True, timeout=30)
    m = re.search(r"held (\d+)", r.stdout)
    return int(m.group(1)) if m else None


async def _mem(dev):
    dev.send("mem")
    m = await asyncio.to_thread(dev.expect, r"device: mem alloc=(\d+) free=(\d+)", 10)
    return int(m.group(1)), int(m.group(2))


async def one_run(heapsize, frozen, with_rollback):
    run_dir = tempfile.mkdtemp(prefix="bench-ops-")
    procs = []
    cp = None
    out = {"heapsize": heapsize}
    try:
        modem, port = await asyncio.to_thread(rig.start_modem, run_dir)
        procs.append(modem)
        cp = await ControlPlane.start(run_dir)
        t0 = time.monotonic()
        dev = rig.start_device(cp, run_dir, port, EP, heapsize=heapsize, frozen=frozen,
                               proof_window=6)
        procs.append(dev)
        await asyncio.to_thread(dev.expect, r"device: running", 30)
        await cp.wait_registered(EP, 30)
        out["boot_to_registered_s"] = time.monotonic() - t0
        out["mem_started"] = await _mem(dev)
        sw = await cp.switch(EP, _pki.DEFAULT_EID, OP2, via="https", timeout=60)
        out["commit"] = (sw.outcome, sw.seconds)
        out["mem_after_commit"] = await _mem(dev)
        if with_rollback:
            # idle polling (HTTPS every 1-3 s): heap must not grow with the number of rounds
            await asyncio.sleep(_SOAK_S)
            out["mem_after_soak"] = await _mem(dev)
            out["polls"] = len(dev.grep(r"device: ipa poll"))
        if with_rollback:
            sw = await cp.switch(EP, _pki.DEFAULT_EID, netsim.ISOLATED_ICCID, via="https",
                                 timeout=90)
            out["rollback"] = (sw.outcome, sw.seconds)
        out["alive"] = dev.alive()
    except Exception as e:  # noqa: BLE001 - a heap too small shows up as a failed run
        out["error"] = "%s: %s" % (type(e).__name__, e)
    finally:
        if cp is not None:
            await cp.close()
        for p in procs:
            p.stop()
        shutil.rmtree(run_dir, ignore_errors=True)
    return out


def main():
    frozen = rig.frozen_has_ops()
    print("ops modules held after import: source %s bytes, frozen %s" % (
        import_cost(False), "%s bytes" % import_cost(True) if frozen else "n/a (image predates ops)"))
    print("device firmware loaded %s" % ("frozen" if frozen else "from source (.py compiled in RAM)"))
    r = asyncio.run(one_run("2M", frozen, True))
    if "error" in r:
        print("full run failed: %s" % r["error"])
    else:
        print("boot to registered: %.1f s" % r["boot_to_registered_s"])
        print("heap (2M): after start %d B, after a committed switch %d B" % (
            r["mem_started"][0], r["mem_after_commit"][0]))
        print("committed switch (HTTPS, eIM queue -> verdict upstream): %s in %.1f s" % r["commit"])
        print("idle %d s (%d eIM polls so far): heap %d B -> %d B" % (
            _SOAK_S, r["polls"], r["mem_after_commit"][0], r["mem_after_soak"][0]))
        print("rolled-back switch (no route, 6 s proof window): %s in %.1f s" % r["rollback"])
    # Source modules compile into the heap; frozen ones stay in flash (the image).
    sizes = ("384K", "256K", "192K", "160K") if frozen else ("1M", "768K", "640K", "512K")
    for size in sizes:
        r = asyncio.run(one_run(size, frozen, False))
        ok = "error" not in r and r["commit"][0] == "committed" and r["alive"]
        print("-X heapsize=%s: %s%s" % (size, "committed switch ok" if ok else "FAILED",
                                        (", heap after commit %d B used / %d B free" %
                                         r["mem_after_commit"]) if ok else
                                        " (%s)" % (r.get("error") or str(r.get("commit")))))
        if not ok:
            break
