# Observe on FETCH (RFC 8132 §2.4; LwM2M Observe-Composite): the endpoint registers the FETCH
# observer under the handler's observe_key, keeps the request body, and notify(key) re-runs the
# handler with that body; Observe=1 on FETCH deregisters. Over an in-memory link on MicroPython.
# mpy-heapsize: 256K
import asyncio

from coap import numbers as N
from coap.endpoint import Endpoint
from coap.message import Message
from coap_memlink import pair


def _handler(seen):
    def h(req, remote):
        seen.append(bytes(req.payload))
        resp = Message(code=N.CONTENT, payload=b"n%d" % len(seen))
        resp.observe_key = "sel:" + bytes(req.payload).decode()
        return resp
    return h


async def _observed(seen, body):
    """Server and client endpoints, and the answer to a FETCH with Observe=0 and `body`."""
    a, b = pair()
    server = Endpoint(a, _handler(seen)).start()
    client = Endpoint(b).start()
    req = Message(code=N.FETCH, options=[(N.OBSERVE, 0)], payload=body).set_uri_path("/")
    return a, server, client, await client.request("A", req)


async def test_fetch_observe_registers_and_notifies_with_the_body():
    seen = []
    a, server, client, resp = await _observed(seen, b"/4/0/2")
    assert resp.code == N.CONTENT and resp.opt(N.OBSERVE) is not None
    assert len(server.observers) == 1
    assert server.notify("sel:/4/0/2") == 1
    await asyncio.sleep_ms(20)
    note = Message.decode(a.sent[-1])
    assert note.token == resp.token and note.opt(N.OBSERVE) > resp.opt(N.OBSERVE)
    assert note.payload == b"n2" and seen == [b"/4/0/2", b"/4/0/2"]  # the body came back
    assert server.notify("/") == 0  # keyed by what the body selects, not by the path
    await client.close()
    await server.close()


async def test_fetch_observe_1_deregisters():
    seen = []
    a, server, client, resp = await _observed(seen, b"/3/0")
    assert len(server.observers) == 1
    cancel = Message(code=N.FETCH, token=resp.token, options=[(N.OBSERVE, 1)],
                     payload=b"/3/0").set_uri_path("/")
    resp2 = await client.request("A", cancel)
    assert resp2.code == N.CONTENT and resp2.opt(N.OBSERVE) is None
    assert len(server.observers) == 0 and server.notify("sel:/3/0") == 0
    await client.close()
    await server.close()
