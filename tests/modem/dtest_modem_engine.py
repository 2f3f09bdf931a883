# The AT engine on MicroPython, driven through a scripted byte stream (modem_fakeline): the
# real framing and routing run, nothing above the stream is mocked.
# mpy-heapsize: 128K
import asyncio
import gc

from modem.at import At, AtError, AtReset, AtTimeout
from modem_fakeline import FakeLine


def _start(respond, boot=(), inline=()):
    f = FakeLine(respond)
    return f, At(f, f, boot, inline).start()


async def test_ok_returns_as_soon_as_final_arrives():
    f, at = _start(lambda c: b"\r\n490154203237518\r\n\r\nOK\r\n")
    t0 = asyncio.ticks()
    lines = await at.cmd("AT+CGSN", 5000)
    assert lines == ["490154203237518"]
    assert asyncio.ticks_diff(asyncio.ticks(), t0) < 1000  # not the 5 s timeout
    at.deinit()


async def test_cme_error_carries_command_and_code():
    f, at = _start(lambda c: b"\r\n+CME ERROR: 13\r\n")
    try:
        await at.cmd('AT+CGLA=1,10,"80CA005A00"')
    except AtError as e:
        assert e.code == 13 and e.kind == "+CME ERROR" and e.command.startswith("AT+CGLA")
    else:
        raise AssertionError("no AtError")
    at.deinit()


async def test_urc_inside_response_goes_to_handler_not_command():
    f, at = _start(lambda c: b'\r\n+CSCON: 1\r\n+CGPADDR: 1,"10.0.0.7"\r\n%XSIM: 1\r\n\r\nOK\r\n')
    seen = []
    at.on_urc("+CSCON", seen.append)
    at.on_urc("%XSIM", seen.append)
    p = await at.query("AT+CGPADDR=1", "+CGPADDR")
    assert p == [1, "10.0.0.7"]
    assert seen == ["+CSCON: 1", "%XSIM: 1"]
    at.deinit()


async def test_error_text_in_urc_does_not_fail_command():
    f, at = _start(lambda c: b'\r\n+QIURC: "ERROR",1\r\n\r\nOK\r\n')
    at.on_urc("+QIURC", lambda line: None)
    assert await at.cmd("AT+QIACT=1") == []
    at.deinit()


async def test_echo_tolerated():
    f, at = _start(lambda c: c.encode() + b"\r\r\n242010000000123\r\n\r\nOK\r\n")
    assert await at.cmd("AT+CIMI") == ["242010000000123"]
    at.deinit()


async def test_timeout_then_stray_final_counted_and_next_command_ok():
    answers = {"AT+SLOW": None, "AT": b"\r\nOK\r\n"}
    f, at = _start(lambda c: answers.get(c, b"\r\nOK\r\n"))
    try:
        await at.cmd("AT+SLOW", 100)
    except AtTimeout as e:
        assert e.command == "AT+SLOW" and e.timeout_ms == 100
    else:
        raise AssertionError("no timeout")
    f.feed(b"\r\nOK\r\n")  # the late answer to AT+SLOW
    await asyncio.sleep_ms(10)
    assert await at.cmd("AT") == []
    assert at.stray_finals == 1 and at.timeouts == 1
    at.deinit()


async def test_prompt_then_payload_then_send_ok():
    def respond(c):
        if isinstance(c, bytes):
            return b"\r\nSEND OK\r\n"
        if c.startswith("AT+QISEND"):
            f.payload_next = 1
            return b"\r\n> "
        return b"\r\nOK\r\n"

    f, at = _start(respond)
    await at.cmd('AT+QISEND=0,5,"127.0.0.1",5683', payload=b"\r\nOK\n")
    assert f.written[-1] == b"\r\nOK\n"
    at.deinit()


async def test_raw_block_announced_by_qird():
    f, at = _start(lambda c: b'\r\n+QIRD: 8,"127.0.0.1",5683\r\n\r\nERROR\r\n\r\nOK\r\n')
    lines = await at.cmd("AT+QIRD=0", None, "+QIRD", raw_prefix="+QIRD")
    assert lines == ['+QIRD: 8,"127.0.0.1",5683']
    assert at.last_raw == b"\r\nERROR\r"[:8] or at.last_raw == b"\r\nERROR\r\n"[:8]
    at.deinit()


async def test_inline_raw_carecv():
    f, at = _start(lambda c: b"\r\n+CARECV: 3,O\r\n\r\nOK\r\n", inline=(b"+CARECV:",))
    lines = await at.cmd("AT+CARECV=0,1460", None, "+CARECV")
    assert lines == ["+CARECV: 3"] and at.last_raw == b"O\r\n"
    at.deinit()


async def test_boot_line_fails_command_with_reset():
    booted = []
    f, at = _start(lambda c: b"\r\nRDY\r\n" if c == "AT+CIMI" else b"\r\nOK\r\n", boot=("RDY",))
    at.on_boot(booted.append)
    try:
        await at.cmd("AT+CIMI")
    except AtReset as e:
        assert e.kind == "RESET" and e.command == "AT+CIMI"
    else:
        raise AssertionError("no AtReset")
    assert booted == ["RDY"] and at.resets == 1
    assert await at.cmd("AT") == []
    at.deinit()


async def test_prefixed_noise_not_taken_as_bare_answer():
    f, at = _start(lambda c: b"\r\n+CSCON: 1\r\n490154203237518\r\n\r\nOK\r\n")
    assert await at.cmd("AT+CGSN") == ["490154203237518"]
    assert at.unsolicited == 1
    at.deinit()


async def test_overlong_and_garbled_lines_ignored():
    f, at = _start(lambda c: b"\r\n" + b"Z" * 1500 + b"\r\n\x02\x9f\x00\r\n+CSQ: 20,99\r\n\r\nOK\r\n")
    assert await at.cmd("AT+CSQ", None, "+CSQ") == ["+CSQ: 20,99"]
    assert at.overlong == 1 and at.garbled == 1
    at.deinit()


async def test_resync_after_garbage():
    f, at = _start(lambda c: b"\r\nOK\r\n")
    f.feed(b"\x00\x00garbage without end")
    assert await at.resync()
    at.deinit()


async def test_link_lost_fails_pending_command():
    f, at = _start(lambda c: None)
    task = asyncio.create_task(at.cmd("AT+COPS=?", 60000))
    await asyncio.sleep_ms(20)
    f.close()
    try:
        await task
    except AtError as e:
        assert e.kind == "LINK"
    else:
        raise AssertionError("no LINK error")


async def test_urc_storm_heap_bounded():
    f, at = _start(lambda c: b"\r\nOK\r\n")
    count = [0]

    def on_cereg(line):
        count[0] += 1

    at.on_urc("+CEREG", on_cereg)

    async def storm(n):
        for i in range(n):
            f.feed(b'\r\n+CEREG: 5,"00B7","%08X",7\r\n\r\n+XUNKNOWN: %d\r\n' % (i, i))
            if i % 50 == 0:
                await asyncio.sleep_ms(0)
        await at.cmd("AT", None, "+NONE")

    gc.collect()
    await storm(200)
    gc.collect()
    small = gc.mem_alloc()
    await storm(2000)
    gc.collect()
    big = gc.mem_alloc()
    assert count[0] == 2200 and at.unsolicited == 2200, (count[0], at.unsolicited, at.garbled, at.overlong)
    assert big - small < 2048, (small, big)
    at.deinit()


async def test_resync_calls_reset_hook_when_modem_stays_silent():
    state = {"alive": False, "hook": 0}
    f, at = _start(lambda c: b"\r\nOK\r\n" if state["alive"] else None)

    async def power_cycle():
        state["hook"] += 1
        state["alive"] = True

    at.reset_hook = power_cycle
    assert await at.resync(tries=2, timeout_ms=50)
    assert state["hook"] == 1 and at.timeouts == 2
    at.deinit()


async def test_resync_gives_up_with_timeout_without_hook():
    f, at = _start(lambda c: None)
    try:
        await at.resync(tries=2, timeout_ms=30)
    except AtTimeout as e:
        assert e.command == "AT"
    else:
        raise AssertionError("no AtTimeout")
    assert not at._lock.locked() and at._pending is None
    at.deinit()
