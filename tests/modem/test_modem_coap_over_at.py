"""The firmware's CoAP endpoint over socket-over-AT (modem/socket_at.py) reaching aiocoap on the
host: a block-wise GET (RFC 7959; 1024-byte blocks in 1152-byte datagrams) and a POST whose payload holds AT framing
bytes (CR LF, "OK", ">") that must pass the modem link untouched."""

import asyncio
import hashlib
import threading

import aiocoap
import aiocoap.resource as resource
import pytest

import harness

from modem_simctl import DIALECTS, run_device, start_sim

_BLOB = bytes((i * 13 + 5) & 0xFF for i in range(3000))


class _Blob(resource.Resource):
    async def render_get(self, request):
        return aiocoap.Message(code=aiocoap.CONTENT, payload=_BLOB)


class _Echo(resource.Resource):
    async def render_post(self, request):
        return aiocoap.Message(code=aiocoap.CHANGED, payload=request.payload)


@pytest.fixture
def coap_server():
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box = {}

    port = harness.free_port()

    async def serve():
        site = resource.Site()
        site.add_resource(["blob"], _Blob())
        site.add_resource(["echo"], _Echo())
        box["ctx"] = await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", port),
                                                                   transports=["udp6"])
        box["port"] = port
        started.set()

    th = threading.Thread(target=lambda: (loop.run_until_complete(serve()), loop.run_forever()), daemon=True)
    th.start()
    assert started.wait(10)
    yield box.get("port")
    asyncio.run_coroutine_threadsafe(box["ctx"].shutdown(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    th.join(5)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_coap_blockwise_get_and_post_over_socket_at(processes, coap_server, dialect):
    assert coap_server
    sim, link = start_sim(processes, dialect)
    r = run_device(processes, dialect, link, "coap", "127.0.0.1", coap_server, timeout=60)
    assert r["code"] == 69 and r["len"] == len(_BLOB)  # 2.05 Content
    assert r["sha"] == hashlib.sha256(_BLOB).hexdigest()
    assert r["echo"] is True
