"""Shared rig of the ops integration tests: modem process, control plane in this process,
device process; bounded scenarios."""

import asyncio
import json

from host_tools import pki as _pki
from host_tools.control_plane import ControlPlane
from host_tools.demo import rig

EID = _pki.DEFAULT_EID
OP1 = "8900101000000000017"
OP2 = "8900102000000000025"
EP = "ops-dev"
_BUDGET_S = 150


class Run:
    """One rig: modem process, control plane (in this process), device process."""

    def __init__(self, tmp_path, processes):
        self.dir = str(tmp_path)
        self.processes = processes
        self.cp = None
        self.dev = None
        self.modem = None
        self.port = None

    async def start(self, esipa="https", proof_window=8, dialect=("bg95", "quectel_bg95")):
        """dialect: (modem simulator's name, firmware's name)."""
        self.dialect = dialect[1]
        self.modem, self.port = await asyncio.to_thread(rig.start_modem, self.dir, dialect[0])
        self.processes.append(self.modem)
        self.cp = await ControlPlane.start(self.dir)
        await self.start_device(esipa, proof_window)
        await self.cp.wait_registered(EP, 30)
        # The server may see the Register before the device has read its answer; an Observe
        # sent in between would be dropped with the device's older observations.
        await self.seen(r"lwm2m (registered|updated)", 30)
        if esipa == "lwm2m":
            await self.cp.attach_3443(EP, EID)

    async def start_device(self, esipa="https", proof_window=8):
        self.dev = rig.start_device(self.cp, self.dir, self.port, EP, esipa=esipa,
                                    proof_window=proof_window,
                                    extra=("--dialect", getattr(self, "dialect", "quectel_bg95")))
        self.processes.append(self.dev)
        await self.expect(r"device: running", 30)

    async def expect(self, pattern, timeout=30):
        return await asyncio.to_thread(self.dev.expect, pattern, timeout)

    async def seen(self, pattern, timeout=30):
        """A line already printed, or the next one matching."""
        got = self.dev.grep(pattern)
        return got[0] if got else await self.expect(pattern, timeout)

    def enabled_iccid(self):
        with open(self.dir + "/euicc.json") as f:
            for p in json.load(f)["profiles"]:
                if p["state"] == "enabled":
                    return p["iccid"]
        return None

    async def close(self):
        if self.cp is not None:
            await self.cp.close()


def run_scenario(tmp_path, processes, scenario):
    async def main():
        r = Run(tmp_path, processes)
        try:
            await asyncio.wait_for(scenario(r), _BUDGET_S)
        finally:
            await r.close()

    asyncio.run(main())


def facts_of(out, step):
    done = [e for e in out.entries if e.get("step") == step]
    return done[-1].get("facts", []) if done else []


