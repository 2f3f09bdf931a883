# The asyncio Endpoint on MicroPython over an in-memory link: separate responses, CON
# retransmission after loss, duplicate answered from the cache, observe notify and RST,
# block-wise with a streaming sink, and a clean close().
# mpy-heapsize: 256K
import asyncio

from coap import block as B
from coap import error as E
from coap import numbers as N
from coap.endpoint import Endpoint
from coap.message import Message
from coap_memlink import pair


def _handler(calls):
    async def slow(req):
        await asyncio.sleep_ms(1300)
        return Message(code=N.CONTENT, payload=b"late")

    def h(req, remote):
        calls.append(req.path_str())
        p = req.path_str()
        if p == "/slow":
            return slow(req)
        if p == "/obs":
            calls.append(getattr(req, "is_notification", False))
            return Message(code=N.CONTENT, payload=str(len(calls)).encode())
        if p == "/post":
            return Message(code=N.CREATED, payload=b"made")
        raise E.NotFound(p)
    return h


def _eps(calls):
    a, b = pair()
    server = Endpoint(a, _handler(calls)).start()
    client = Endpoint(b).start()
    return a, b, server, client


async def test_separate_response_empty_ack_then_con():
    calls = []
    a, b, server, client = _eps(calls)
    resp = await client.request("A", Message(code=N.GET).set_uri_path("/slow"))
    assert resp.code == N.CONTENT and resp.payload == b"late"
    assert resp.mtype == N.CON  # the response came on its own after an empty ACK
    first = Message.decode(a.sent[0])
    assert first.mtype == N.ACK and first.code == N.EMPTY
    await client.close()
    await server.close()


async def test_con_retransmitted_after_loss_and_duplicate_served_from_cache():
    calls = []
    a, b, server, client = _eps(calls)
    lost = []

    def drop_first_response(data):
        if not lost:
            lost.append(data)
            return True
        return False

    a.drop = drop_first_response  # the server's first answer is lost
    resp = await client.request("A", Message(code=N.POST).set_uri_path("/post"))
    assert resp.code == N.CREATED and resp.payload == b"made"
    assert client.stats["retransmit"] == 1
    assert calls == ["/post"]  # the retransmitted POST did not run the handler again
    assert server.stats["dup"] == 1 and a.sent[1] == lost[0]
    await client.close()
    await server.close()


async def test_observe_notify_then_rst_removes_observer():
    calls = []
    a, b, server, client = _eps(calls)
    removed = []
    server.on_observer_removed = lambda obs, why: removed.append((obs.key, why))
    resp = await client.request("A", Message(code=N.GET, options=[(N.OBSERVE, 0)]).set_uri_path("/obs"))
    assert resp.opt(N.OBSERVE) is not None and len(server.observers) == 1
    assert server.notify("/obs") == 1
    await asyncio.sleep_ms(20)
    note = Message.decode(a.sent[-1])
    assert note.mtype == N.NON and note.token == resp.token and note.opt(N.OBSERVE) > resp.opt(N.OBSERVE)
    # The client has no exchange for that token any more: a CON notification gets RST.
    server.notify("/obs", True)
    await asyncio.sleep_ms(20)
    assert Message.decode(b.sent[-1]).mtype == N.RST
    assert len(server.observers) == 0
    assert removed == [("/obs", "reset")]
    assert calls == ["/obs", False, "/obs", True, "/obs", True]  # notifications are marked
    await client.close()
    await server.close()


async def test_blockwise_streaming_both_ways_small_blocks():
    got = []

    class Sink:
        def __init__(self):
            self.n = 0

        def write(self, offset, mv):
            assert offset == self.n
            self.n += len(mv)

    sinks = []

    def opener(req, remote):
        s = Sink()
        sinks.append(s)
        return s

    def h(req, remote):
        got.append((req.code, getattr(req, "body_size", None)))
        if req.code == N.GET:
            r = Message(code=N.CONTENT)
            r.body_reader = B.BytesReader(bytes(3000))
            return r
        return Message(code=N.CHANGED)

    a, b = pair()
    server = Endpoint(a, h, open_sink=opener).start()
    client = Endpoint(b).start()
    resp = await client.request("A", Message(code=N.PUT).set_uri_path("/x"), block_size=64,
                                body_reader=B.BytesReader(bytes(5000)))
    assert resp.code == N.CHANGED and sinks[0].n == 5000 and got == [(N.PUT, 5000)]
    sink = Sink()
    resp = await client.request("A", Message(code=N.GET).set_uri_path("/x"), block_size=32, body_sink=sink)
    assert (resp.code, sink.n, resp.body_size) == (N.CONTENT, 3000, 3000), (resp, sink.n, resp.body_size)
    await client.close()
    await server.close()


async def test_close_leaves_no_tasks_and_fails_open_requests():
    a, b = pair()
    a.drop = lambda d: True  # nothing ever arrives
    client = Endpoint(b).start()
    task = asyncio.create_task(client.request("A", Message(code=N.GET).set_uri_path("/x")))
    await asyncio.sleep_ms(10)
    await client.close()
    try:
        await task
        raise AssertionError("request did not fail")
    except E.RequestTimeout:
        pass
    assert client._tasks == [] and client._spawned == []


async def test_client_follows_server_smaller_block_size():
    # RFC 7959 §2.5 in both directions between two of our endpoints: server max 64 B.
    got = []

    def h(req, remote):
        got.append(len(req.payload))
        return Message(code=N.CHANGED, payload=b"ok")

    a, b = pair()
    server = Endpoint(a, h, max_szx=2).start()
    client = Endpoint(b).start()
    resp = await client.request("A", Message(code=N.PUT).set_uri_path("/x"), block_size=1024,
                                body_reader=B.BytesReader(bytes(3000)))
    assert (resp.code, got, resp.payload) == (N.CHANGED, [3000], b"ok"), (resp, got)
    puts = [Message.decode(d) for d in b.sent if Message.decode(d).code == N.PUT]
    assert puts[-1].opt(N.BLOCK1) & 7 == 2  # the client switched to 64 B blocks
    await client.close()
    await server.close()


async def test_block1_and_block2_combined_post_runs_handler_once():
    # RFC 7959 §2.7: a big POST body up, a big answer down; follow-up Block2 requests are
    # answered from the held response, the handler runs exactly once.
    runs = []

    def h(req, remote):
        runs.append(len(req.payload))
        return Message(code=N.CHANGED, payload=bytes(range(200)) * 10)

    a, b = pair()
    server = Endpoint(a, h, max_szx=3).start()
    client = Endpoint(b).start()
    resp = await client.request("A", Message(code=N.POST).set_uri_path("/p"), block_size=128,
                                body_reader=B.BytesReader(bytes(1000)))
    assert runs == [1000]
    assert resp.code == N.CHANGED and resp.payload == bytes(range(200)) * 10
    await client.close()
    await server.close()


async def test_nstart_one_outstanding_request_per_peer():
    # RFC 7252 §4.7: three concurrent requests to one peer go out one after the other.
    seen = []

    async def slowish(req):
        seen.append(("start", req.path_str()))
        await asyncio.sleep_ms(30)
        seen.append(("end", req.path_str()))
        return Message(code=N.CONTENT)

    a, b = pair()
    server = Endpoint(a, lambda req, remote: slowish(req)).start()
    client = Endpoint(b).start()
    rs = await asyncio.gather(*[client.request("A", Message(code=N.GET).set_uri_path("/%d" % i))
                                for i in range(3)])
    assert [r.code for r in rs] == [N.CONTENT] * 3
    kinds = [k for k, _ in seen]
    assert kinds == ["start", "end"] * 3, seen  # never two in flight at once
    assert client._nstart == {}
    await client.close()
    await server.close()


async def test_rfc7641_notification_con_after_24h_without_confirmation():
    import time

    calls = []
    a, b, server, client = _eps(calls)
    resp = await client.request("A", Message(code=N.GET, options=[(N.OBSERVE, 0)]).set_uri_path("/obs"))
    obs = server.observers.find("B", resp.token)
    server.notify("/obs")
    assert Message.decode(a.sent[-1]).mtype == N.NON  # recently confirmed: NON is fine
    # Pretend the last confirmed exchange with this observer was just over 24 h ago.
    obs.last_con = time.ticks_add(time.ticks_ms(), -(24 * 3600 * 1000 + 1))
    server.notify("/obs")
    note = Message.decode(a.sent[-1])
    assert note.mtype == N.CON and note.token == resp.token
    await client.close()
    await server.close()


async def test_failing_transport_is_retried_with_backoff_not_spun():
    import time

    stamps = []

    class Broken:
        max_datagram = 1280

        async def recvfrom(self, buf):
            stamps.append(time.ticks_ms())
            raise OSError(5)

        def sendto(self, data, remote):
            pass

        def close(self):
            pass

    ep = Endpoint(Broken()).start()
    for _ in range(100):  # bounded wait for five attempts
        if len(stamps) >= 5:
            break
        await asyncio.sleep_ms(50)
    await ep.close()
    gaps = [time.ticks_diff(b, a) for a, b in zip(stamps, stamps[1:5])]
    # Sleeps never end early, so the doubling pauses are lower bounds: 50, 100, 200, 400 ms.
    assert all(g >= 49 * (1 << i) for i, g in enumerate(gaps)), gaps
    assert ep.stats["errors"] >= 5


async def test_small_datagram_transport_negotiates_block2_early():
    # A client on a 600-byte transport (socket over AT) asks for 256 B blocks up front, so the
    # server never sends a datagram the client could not take (RFC 7959 §2.4).
    a, b = pair()
    b.max_datagram = 600
    server = Endpoint(a, lambda req, remote: Message(code=N.CONTENT, payload=bytes(range(250)) * 8)).start()
    client = Endpoint(b).start()
    assert client.max_szx == 4
    resp = await client.request("A", Message(code=N.GET).set_uri_path("/x"))
    assert resp.code == N.CONTENT and resp.payload == bytes(range(250)) * 8
    assert max(len(d) for d in a.sent) <= 600
    await client.close()
    await server.close()
