"""RFC 7959 §3.4 with RFC 7641: a notification bigger than one block arrives as its first block
(Block2 M=1); the server fetches the rest with the same request, Observe removed, and hands the
observer the whole value. The explicit cancel still reuses the observation's token."""

import asyncio

import cbor2
from aiocoap import Message
from aiocoap.numbers.codes import Code

from lwm2m_server_fakedev import async_test, connected

# /3443/0/3 carries IPA messages; 2-3 KB is the size of an ES10b answer the device pushes
_PATH = "/3443/0/3"


def _blob(size, seed):
    return bytes((i * 7 + seed) & 0xFF for i in range(size))


def _block_requests(device, since):
    return [r for r in device.requests[since:] if r.opt.block2 is not None]


async def _observing(server, device, szx, value):
    """An established observation of _PATH whose current value was consumed."""
    device.add_resource(_PATH, block_szx=szx)
    device.answer("GET", _PATH, Code.CONTENT, value, 42)
    obs = server.observe("dev1", _PATH, accept="opaque")
    await obs.established()
    await obs.next(5)
    return obs


@async_test
async def test_observe_notification_3KB_assembled_from_block2():
    async with connected() as (server, device):
        device.add_resource(_PATH, block_szx=6)
        first_value = _blob(2300, 1)
        device.answer("GET", _PATH, Code.CONTENT, first_value, 42)
        obs = server.observe("dev1", _PATH, accept="opaque")
        first = await obs.established()
        observe_req = device.requests[0]
        assert observe_req.opt.observe == 0
        # the answer to the Observe itself was 3 blocks of 1024: all of it reached the caller
        assert first.value == first_value
        assert [r.opt.block2.block_number for r in _block_requests(device, 0)] == [1, 2]
        assert (await obs.next(5)).value == first_value
        since = len(device.requests)
        value = _blob(3072 + 17, 2)
        device.notify(_PATH, value, 42)
        got = await obs.next(5)
        assert got.value == value and got.code == "2.05"
        blocks = _block_requests(device, since)
        assert [r.opt.block2.block_number for r in blocks] == [1, 2, 3]
        for r in blocks:
            # the rest is fetched by plain GETs with the request's options, not new observations
            assert r.code == Code.GET and r.opt.observe is None and int(r.opt.accept) == 42
            assert r.token != observe_req.token
        stored = server.store.notifications("dev1")
        assert stored[-1]["values"] == {_PATH: value}
        res = await obs.cancel(explicit=True)
        cancel_req = device.requests[-1]
        assert cancel_req.opt.observe == 1 and cancel_req.token == observe_req.token
        assert res.code == "2.05" and device.resource(_PATH).observers() == 0


@async_test
async def test_observe_small_notification_takes_no_block_request():
    async with connected() as (server, device):
        obs = await _observing(server, device, 6, b"\x01")
        since = len(device.requests)
        device.notify(_PATH, _blob(1024, 3), 42)  # exactly one block: no Block2 at all
        assert (await obs.next(5)).value == _blob(1024, 3)
        assert _block_requests(device, since) == []
        await obs.cancel()


@async_test
async def test_observe_composite_large_notification_repeats_fetch_body():
    async with connected() as (server, device):
        device.add_resource("/", block_szx=6)
        small = cbor2.dumps([{0: "/3/0/9", 2: 80}, {0: _PATH, 8: b""}])
        device.answer("FETCH", "/", Code.CONTENT, small, 112)
        obs = server.observe_composite("dev1", ["/3/0/9", _PATH])
        await obs.established()
        await obs.next(5)
        body = device.requests[0].payload
        since = len(device.requests)
        blob = _blob(2600, 4)
        device.notify("/", cbor2.dumps([{0: "/3/0/9", 2: 79}, {0: _PATH, 8: blob}]), 112)
        got = await obs.next(5)
        assert got.values == {"/3/0/9": 79, _PATH: blob}
        blocks = _block_requests(device, since)
        assert [r.opt.block2.block_number for r in blocks] == [1, 2]
        # RFC 8132 §2.3.2: each block of a FETCH answer is asked for with the same body
        assert all(r.code == Code.FETCH and r.payload == body and r.opt.observe is None for r in blocks)
        await obs.cancel(explicit=True)


@async_test
async def test_observe_notification_changed_between_blocks_is_dropped_not_fatal():
    async with connected() as (server, device):
        obs = await _observing(server, device, 5, b"\x00")
        big = _blob(2500, 5)

        def changing(request):
            # later blocks come from another representation (another ETag): they cannot be joined
            msg = Message(code=Code.CONTENT, payload=big, content_format=42)
            msg.opt.etag = b"A" if request.opt.block2 is None else b"B"
            return msg

        device.answers[("GET", _PATH)] = changing
        device.resource(_PATH).updated_state()
        for _ in range(100):
            if any("ETag changed" in (row.get("detail") or "") for row in server.store.audit_log("dev1")):
                break
            await asyncio.sleep(0.05)
        assert any("ETag changed" in (row.get("detail") or "") for row in server.store.audit_log("dev1"))
        # the relation survives: the next whole notification is delivered
        device.notify(_PATH, b"\x02", 42)
        assert (await obs.next(5)).value == b"\x02"
        await obs.cancel()
