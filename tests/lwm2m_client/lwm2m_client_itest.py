"""Helpers for the integration tests: the firmware client on the Unix port (a process) against the
host LwM2M server (in this process, asyncio)."""

import asyncio
import contextlib
import functools

import harness
from host_tools.lwm2m_server import LwM2MServer

TEST_TIMEOUT_S = 90


def async_test(fn):
    """Run an `async def` test under asyncio.run, bounded, with a `processes` list to reap."""

    @functools.wraps(fn)
    def wrapper(processes, *args, **kwargs):
        async def bounded():
            return await asyncio.wait_for(fn(processes, *args, **kwargs), TEST_TIMEOUT_S)
        return asyncio.run(bounded())
    return wrapper


def start_client(processes, ep, server_port=None, bootstrap_port=None, lifetime=60, heapsize=None,
                 extra=(), extra_path=()):
    args = ["--ep", ep, "--lifetime", lifetime]
    if server_port is not None:
        args += ["--server", "coap://127.0.0.1:%d" % server_port]
    if bootstrap_port is not None:
        args += ["--bootstrap", "coap://127.0.0.1:%d" % bootstrap_port]
    args += list(extra)
    dev = harness.start_micropython("lwm2m.client", args, heapsize=heapsize, name=ep,
                                    extra_path=extra_path)
    processes.append(dev)
    return dev


async def expect(dev, pattern, timeout=20.0):
    """DeviceProcess.expect without blocking the event loop the server runs on."""
    return await asyncio.to_thread(dev.expect, pattern, timeout)


async def registered(processes, ep, server_kw=None, **kw):
    """A started server and a client registered to it."""
    server = await LwM2MServer.start(host="127.0.0.1", port=0, timeout=15.0, **(server_kw or {}))
    dev = start_client(processes, ep, server.port, **kw)
    try:
        await server.wait_registered(ep, 20)
        # the server answered; wait until the device has taken the answer in as well
        await expect(dev, r"lwm2m registered /rd/")
    except (asyncio.TimeoutError, TimeoutError, EOFError):
        await server.stop()
        raise AssertionError("no registration; device output:\n" + dev.output())
    return server, dev


@contextlib.asynccontextmanager
async def session(processes, ep, **kw):
    """`async with session(processes, "ep") as (server, dev):` -- registered, and the server is
    stopped afterwards whatever happens (the device process is reaped by `processes`)."""
    server, dev = await registered(processes, ep, **kw)
    try:
        yield server, dev
    finally:
        await server.stop()


class RejectingServer:
    """An aiocoap server whose /rd answers every Register with one fixed code (4.03, 5.00...),
    counting the attempts: a server the client cannot register with."""

    def __init__(self, code):
        self.code = code
        self.attempts = 0
        self.ctx = None
        self.port = None

    async def start(self):
        import aiocoap
        import aiocoap.resource as resource

        outer = self

        class Rd(resource.Resource):
            async def render_post(self, request):
                outer.attempts += 1
                return aiocoap.Message(code=outer.code)

        site = resource.Site()
        site.add_resource(["rd"], Rd())
        self.port = harness.free_port()
        self.ctx = await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", self.port),
                                                              transports=["udp6"])
        return self

    async def stop(self):
        await self.ctx.shutdown()
