"""Debian's libcoap client (coap-client-notls) as a second, independent CoAP peer of the device:
it reads and observes the device's objects while the device is registered with the LwM2M server
(the data model is served to any peer; /0 stays 4.01 for everyone)."""

import asyncio
import subprocess

import harness
from lwm2m_client_itest import async_test, expect, session

COAP_CLIENT = "/usr/bin/coap-client-notls"


def _coap(*args, timeout=15):
    return subprocess.run([COAP_CLIENT] + list(args), capture_output=True, text=True, timeout=timeout)


@async_test
async def test_libcoap_reads_device_objects(processes):
    port = harness.free_port()
    async with session(processes, "peer1", extra=["--port", port]) as (server, dev):
        base = "coap://127.0.0.1:%d" % port
        out = await asyncio.to_thread(_coap, "-m", "get", base + "/3/0/0")
        assert out.stdout.strip() == "cellfw", (out.stdout, out.stderr)
        out = await asyncio.to_thread(_coap, "-m", "get", "-A", "40", base + "/3/0")
        assert "</3/0/0>" in out.stdout, out.stdout
        out = await asyncio.to_thread(_coap, "-m", "get", base + "/0/0")
        assert "4.01" in out.stdout + out.stderr, (out.stdout, out.stderr)


@async_test
async def test_libcoap_observes_device_resource(processes):
    port = harness.free_port()
    async with session(processes, "peer2", extra=["--port", port]) as (server, dev):
        url = "coap://127.0.0.1:%d/4/0/2" % port
        watcher = asyncio.ensure_future(asyncio.to_thread(_coap, "-s", "6", "-m", "get", url, timeout=20))
        await expect(dev, r"lwm2m observe /4/0/2")
        for v in (-31, -32, -33):
            dev.send_line("set /4/0/2 %d" % v)
            await expect(dev, r"lwm2m notify /4/0/2")
        out = await watcher
        # libcoap prints each text payload as it comes, without separators
        assert out.stdout.strip() == "0-31-32-33", (out.stdout, out.stderr)
