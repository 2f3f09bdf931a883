# The /3443 ESipa binding on MicroPython: object 3443 on the data model, the bounded queue, one
# message in flight, answers vs pushes, the wake event, timeouts, and State /0/0.
# mpy-heapsize: 256K
import asyncio

from ipa.esipa_lwm2m import EsipaLwm2m, Lwm2mEsipaError
from lwm2m import model
from objects import obj_esim_iot

GET = b"\xbf\x4f\x12\x5a\x10" + bytes(16)
NO_PACKAGE = b"\xbf\x4f\x03\x02\x01\x01"
NOTE = b"\xbf\x3d\x02\x30\x00"
PUSH = b"\xbf\x4e\x04\xbf\x53\x01\x00"


def _rig(timeout_ms=500):
    reg = model.Registry()
    obj = obj_esim_iot.create(reg, "89049032123451234512345678901041")
    return reg, obj, EsipaLwm2m(obj, answer_timeout_ms=timeout_ms)


def _server_write(reg, der):
    p = (3443, 0, 2)
    reg.write(p, [(p, der)])


async def test_exchange_observe_clear_then_answer():
    reg, obj, b = _rig()
    seen = []

    def server(path):
        # the relay: sees /0/3 change, executes /0/4, writes the answer
        if path == (3443, 0, 3) and reg.get(path):
            seen.append(reg.get(path))
            asyncio.create_task(_later(reg))

    reg.listeners.append(server)
    b.begin()
    ans = await b.exchange(GET)
    assert ans == NO_PACKAGE and seen == [GET]
    # the procedure goes on with the card: not able to receive until it ends
    assert reg.get((3443, 0, 3)) == b"" and reg.get((3443, 0, 0)) == 1
    await b.close()
    assert reg.get((3443, 0, 0)) == 0
    assert (b.messages_tx, b.messages_rx, b.bytes_tx, b.bytes_rx) == (1, 1, 21, 6)


async def _later(reg):
    await asyncio.sleep_ms(5)
    reg.execute((3443, 0, 4))
    _server_write(reg, NO_PACKAGE)


async def test_handle_notification_needs_no_answer():
    reg, obj, b = _rig()

    async def clear():
        await asyncio.sleep_ms(5)
        reg.execute((3443, 0, 4))

    asyncio.create_task(clear())
    assert await b.exchange(NOTE) == b""


async def test_send_hook_confirms_delivery_and_failure_raises():
    reg, obj, b = _rig()
    sent = []

    async def send():
        sent.append(obj.ipa_message())
        asyncio.create_task(_answer(reg))
        return True

    b.send = send
    assert await b.exchange(GET) == NO_PACKAGE and sent == [GET]

    async def refused():
        return False

    b.send = refused
    assert await _failure(b.exchange(GET)) == "send"
    b.send = send
    assert await b.exchange(GET) == NO_PACKAGE     # nothing left in flight


async def _answer(reg):
    await asyncio.sleep_ms(5)
    _server_write(reg, NO_PACKAGE)


async def test_no_answer_is_a_timeout_oserror():
    reg, obj, b = _rig(timeout_ms=50)

    async def send():
        return True

    b.send = send
    assert await _failure(b.exchange(GET)) == "timeout"


async def _failure(aw):
    """The .kind of the Lwm2mEsipaError (an OSError, for the runner) that aw raises."""
    try:
        await aw
    except OSError as e:
        assert isinstance(e, Lwm2mEsipaError), repr(e)
        return e.kind
    raise AssertionError("no error")


async def test_push_while_idle_is_not_taken_for_an_answer():
    reg, obj, b = _rig()
    _server_write(reg, PUSH)          # eIM-initiated, IPA idle

    async def send():
        asyncio.create_task(_answer(reg))
        return True

    b.send = send
    assert await b.exchange(GET) == NO_PACKAGE
    assert await b.next_push(10) == PUSH
    assert await b.next_push(10) is None


async def test_next_push_woken_by_event_and_by_write():
    reg, obj, b = _rig()
    wake = asyncio.Event()

    async def poke():
        await asyncio.sleep_ms(10)
        wake.set()

    asyncio.create_task(poke())
    t0 = asyncio.ticks()
    assert await b.next_push(5000, wake) is None
    assert asyncio.ticks_diff(asyncio.ticks(), t0) < 2000

    async def write():
        await asyncio.sleep_ms(10)
        _server_write(reg, PUSH)

    asyncio.create_task(write())
    assert await b.next_push(5000, asyncio.Event()) == PUSH


async def test_state_busy_during_procedure_and_full_queue_refuses_writes():
    reg, obj, b = _rig()
    b.begin()                              # card work: not able to receive
    assert reg.get((3443, 0, 0)) == 1
    try:
        _server_write(reg, PUSH)
        raise AssertionError("write accepted while busy")
    except model.Error as e:
        assert e.code == model.METHOD_NOT_ALLOWED
    await b.close()
    assert reg.get((3443, 0, 0)) == 0
    _server_write(reg, PUSH)
    _server_write(reg, PUSH)               # queue of 2 now full
    assert reg.get((3443, 0, 0)) == 1
    assert await b.next_push(10) == PUSH
    assert reg.get((3443, 0, 0)) == 0
