"""The main job (`make run`): the whole product on loopback, narrated step by step.

    python -m host_tools.demo [--run-dir build/run] [--proof-window 12] [--timeout 110] [-v]

Starts the modem simulator (eUICC simulator behind it; operator network 001-03 has no route
out), the control plane (LwM2M server + bootstrap server, eIM over HTTPS and over object 3443,
test SM-DP+), and the device on the Unix port (frozen firmware when the image carries it). Then:
modem attach, EID, bootstrap, registration, a Read and an Observe; an eIM-issued profile
enable over HTTPS proven and committed; the same over /3443; a switch to the isolated network:
no proof, rollback, re-registered on the last good profile. Prints a summary; exit 0 only if
every step passed. Every process it started is stopped; bounded by --timeout."""

import argparse
import asyncio
import os
import shutil
import sys
import time

from host_tools import pki as _pki
from host_tools.control_plane import ControlPlane, netsim

from . import rig

OP1 = "8900101000000000017"
OP2 = "8900102000000000025"
EP = "demo-device"


class Narrator:
    def __init__(self, verbose):
        self.t0 = time.monotonic()
        self.verbose = verbose
        self.results = []

    def say(self, text):
        print("[%5.1f s] %s" % (time.monotonic() - self.t0, text), flush=True)

    def echo(self, name, line):
        quiet = ("device: ipa poll", "device: lwm2m send /20/", "device: lwm2m updated")
        if self.verbose or line.startswith("device: ") and not line.startswith(quiet):
            print("          %s| %s" % (name, line), flush=True)

    def step(self, name, ok, detail=""):
        self.results.append((name, ok, detail))
        self.say("%s %s%s" % ("PASS" if ok else "FAIL", name, (": " + detail) if detail else ""))
        return ok


async def scenario(n, run_dir, proof_window, procs):
    eid = _pki.DEFAULT_EID
    modem, port = rig.start_modem(run_dir, echo=None)
    procs.append(modem)
    n.say("modem simulator (BG95 dialect) on tcp 127.0.0.1:%d; networks 001-01, 001-02 routed, "
          "001-03 isolated" % port)
    cp = await ControlPlane.start(run_dir)
    try:
        n.say("LwM2M server %s, bootstrap server %s, eIM %s" % (cp.lwm2m_uri, cp.bootstrap_uri,
                                                             cp.eim_url))
        frozen = await asyncio.to_thread(rig.frozen_has_ops)
        n.say("device firmware: %s" % ("frozen into the image (MICROPYPATH=.frozen)" if frozen
                                        else "source tree (the image predates ops.device)"))
        dev = rig.start_device(cp, run_dir, port, EP, esipa="https", proof_window=proof_window,
                               frozen=frozen, echo=n.echo)
        procs.append(dev)
        m = await asyncio.to_thread(dev.expect, r"device: modem attached iccid=(\d+)", 30)
        n.step("modem attach", True, "iccid %s" % m.group(1))
        m = await asyncio.to_thread(dev.expect, r"device: eid ([0-9A-Fa-f]+)", 30)
        n.step("EID read from the eUICC", m.group(1).upper() == eid.upper(), m.group(1))
        run = await cp.bootstrap.wait_finished(EP) if hasattr(cp.bootstrap, "wait_finished") else None
        n.step("bootstrap", run is None or run.get("result") == "finished",
               run and run.get("result") or "")
        reg = await cp.wait_registered(EP, 30)
        n.step("registration", reg is not None, "location %s" % (reg and reg.location))
        if not dev.grep(r"lwm2m (registered|updated)"):
            await asyncio.to_thread(dev.expect, r"lwm2m (registered|updated)", 10)
        res = await cp.server.read(EP, "/3/0")
        n.step("read /3/0", res.code == "2.05", "firmware %s" % (res.values or {}).get("/3/0/3"))
        obs = cp.observe(EP, "/4/0/2")
        first = await obs.established()
        n.step("observe /4/0/2", first.ok, "rssi %s dBm" % first.value)

        out = await cp.switch(EP, eid, OP2, via="https", timeout=60)
        n.step("eIM enable over HTTPS -> proof -> committed", out.outcome == "committed",
               "%s steps=%s in %.1f s" % (OP2, ",".join(out.steps()), out.seconds))
        again = out.reobserved.get("/4/0/2")
        n.step("monitoring follows: /4/0/2 observed again from the new address",
               again is not None and again.ok,
               "rssi %s dBm on the new network" % (again.value if again is not None else "?"))

        # The same over object 3443: the device restarts with the LwM2M binding of ESipa (its
        # state persists: registration, last good profile, IPAd counters).
        dev = await restart(n, cp, run_dir, port, dev, procs, "lwm2m", proof_window, frozen)
        await cp.attach_3443(EP, eid)
        out = await cp.switch(EP, eid, OP1, via="lwm2m", timeout=60)
        n.step("eIM enable over /3443 -> proof -> committed", out.outcome == "committed",
               "%s steps=%s in %.1f s" % (OP1, ",".join(out.steps()), out.seconds))

        dev = await restart(n, cp, run_dir, port, dev, procs, "https", proof_window, frozen)
        out = await cp.switch(EP, eid, netsim.ISOLATED_ICCID, via="https",
                              timeout=proof_window + 60)
        n.step("switch to an isolated network -> proof timeout -> rollback",
               out.outcome == "rolled_back" and "proof_timeout" in out.steps(),
               "steps=%s in %.1f s" % (",".join(out.steps()), out.seconds))
        back = [e for e in out.entries if e.get("step") == "rollback_issued"]
        done = [e for e in out.entries if e.get("step") == "rolled_back"]
        n.step("re-registered on the last known good profile",
               bool(back and done and "registered" in done[-1].get("facts", ())
                    and back[-1].get("to") == OP1),
               "back on %s, proven by %s" % (back and back[-1].get("to"),
                                             done and ",".join(done[-1].get("facts", ()))))
        dev.send("quit")
        await asyncio.to_thread(dev.expect, r"device: stopped", 15)
    finally:
        await cp.close()


async def restart(n, cp, run_dir, port, dev, procs, esipa, proof_window, frozen):
    dev.send("quit")
    await asyncio.to_thread(dev.expect, r"device: stopped", 15)
    dev.stop()
    n.say("device restarting with ESipa over %s" % ("LwM2M object 3443" if esipa == "lwm2m"
                                                    else "HTTPS"))
    t0 = time.monotonic()
    dev = rig.start_device(cp, run_dir, port, EP, esipa=esipa, proof_window=proof_window,
                           frozen=frozen, echo=n.echo)
    procs.append(dev)
    await asyncio.to_thread(dev.expect, r"device: running", 30)
    ok = await cp.wait(lambda: any(e[1] in ("updated", "registered")
                                   for e in cp.events_since(t0, EP)), 30)
    n.step("restart: registration resumed", ok)
    return dev


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m host_tools.demo")
    ap.add_argument("--run-dir", default=os.path.join(rig.ROOT, "build", "run"))
    ap.add_argument("--proof-window", type=int, default=12)
    ap.add_argument("--timeout", type=float, default=110.0)
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    if os.path.isdir(a.run_dir):
        shutil.rmtree(a.run_dir)   # each run starts from factory state
    os.makedirs(a.run_dir)
    n = Narrator(a.verbose)
    procs = []
    error = None
    try:
        asyncio.run(asyncio.wait_for(scenario(n, a.run_dir, a.proof_window, procs), a.timeout))
    except Exception as e:  # noqa: BLE001 - reported in the summary, exit code says it
        error = "%s: %s" % (type(e).__name__, e)
    finally:
        for p in procs:
            p.stop()
    print("\nSummary")
    for name, ok, detail in n.results:
        print("  %-4s %s" % ("ok" if ok else "FAIL", name))
    if error:
        print("  FAIL aborted: %s" % error)
    passed = not error and n.results and all(ok for _, ok, _ in n.results)
    print("%s in %.1f s" % ("ALL STEPS PASSED" if passed else "DEMO FAILED", time.monotonic() - n.t0))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
