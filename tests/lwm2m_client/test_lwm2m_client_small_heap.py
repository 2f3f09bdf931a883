"""The whole registration + DM flow on a constrained heap, with the firmware as it ships: frozen
into the MicroPython image (bytecode in flash, only runtime state on the heap). 64 KB is the
budget proven here (the issue's goal): Register, Read /3/0 as SenML CBOR, Write, Read, Observe
and a Notify, an Update from Execute /1/0/8, De-register. host_tools/bench/lwm2m.py prints the
smallest heap for its own (slightly smaller) flow, the import RAM per module and the runtime
state after registration."""

import asyncio
import subprocess

import harness
from lwm2m_client_itest import async_test, expect, session

HEAP = "64K"


def _frozen_client_available():
    env = dict(harness.micropython_env())
    env["MICROPYPATH"] = ".frozen"
    out = subprocess.run([harness.MICROPYTHON, "-c", "import lwm2m.client; print('frozen')"],
                         env=env, capture_output=True, text=True, timeout=20, cwd="/")
    return out.stdout.strip() == "frozen", out.stdout + out.stderr


@async_test
async def test_registration_and_dm_flow_in_64K_heap_frozen_image(processes):
    ok, why = _frozen_client_available()
    assert ok, ("lwm2m.client is not frozen into %s (firmware/manifest.py must list "
                "package(\"lwm2m\") and the image must be rebuilt): %s" % (harness.MICROPYTHON, why))
    async with session(processes, "small", heapsize=HEAP, extra_path=[".frozen"]) as (server, dev):
        res = await server.read("small", "/3/0", accept=112)
        assert res.code == "2.05" and res.values["/3/0/0"] == "cellfw"
        assert (await server.write("small", "/1/0/3", 120, content_format=0)).code == "2.04"
        assert (await server.read("small", "/1/0/3")).values == {"/1/0/3": 120}
        obs = server.observe("small", "/4/0/2")
        await obs.established()
        await obs.next(5)
        dev.send_line("set /4/0/2 -77")
        assert (await obs.next(10)).values == {"/4/0/2": -77}
        assert (await server.execute("small", "/1/0/8")).code == "2.04"
        await server.wait_update("small", 1, 10)
        dev.send_line("mem")
        m = await expect(dev, r"lwm2m mem alloc=(\d+) free=(\d+)")
        assert int(m.group(1)) + int(m.group(2)) <= 64 * 1024
        dev.send_line("quit")
        await server.wait_deregistered("small", 10)
        assert await asyncio.to_thread(dev.wait, 10) == 0
