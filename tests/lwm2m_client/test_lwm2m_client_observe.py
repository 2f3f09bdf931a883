"""Information Reporting: Observe / Notify / Cancel with notification attributes (OMA-TS-
LightweightM2M_Core-V1_1 §5.1.2, §6.4) and Send (§6.4.6), end to end against the host server.
The device's values are changed through its stdin command `set` (as a modem driver would)."""

import asyncio

from lwm2m_client_itest import async_test, expect, session

RSSI = "/4/0/2"


async def _set(dev, path, value):
    dev.send_line("set %s %s" % (path, value))
    await expect(dev, r"lwm2m set %s" % path)


@async_test
async def test_LightweightM2M_1_1_int_301_observe_notify_on_change(processes):
    async with session(processes, "ob301") as (server, dev):
        obs = server.observe("ob301", RSSI)
        first = await obs.established()
        assert first.code == "2.05" and first.values == {RSSI: 0}
        await expect(dev, r"lwm2m observe %s" % RSSI)
        await _set(dev, RSSI, -71)
        note = await obs.next(10)  # the Observe response itself is the first item
        note = await obs.next(10)
        assert note.values == {RSSI: -71}
        await _set(dev, RSSI, -72)
        assert (await obs.next(10)).values == {RSSI: -72}


@async_test
async def test_observe_pmax_notifies_without_change(processes):
    async with session(processes, "ob303") as (server, dev):
        assert (await server.write_attributes("ob303", RSSI, pmax=1)).code == "2.04"
        obs = server.observe("ob303", RSSI)
        await obs.established()
        await obs.next(5)
        for _ in range(2):
            assert (await obs.next(5)).values == {RSSI: 0}


@async_test
async def test_observe_gt_lt_thresholds(processes):
    """gt=-60 / lt=-90: only crossings notify; a change that crosses nothing does not, so the
    next notification after it carries the crossing value."""
    async with session(processes, "ob304") as (server, dev):
        assert (await server.write_attributes("ob304", RSSI, gt=-60, lt=-90)).code == "2.04"
        await _set(dev, RSSI, -70)  # below gt before the observation starts
        obs = server.observe("ob304", RSSI)
        assert (await obs.established()).values == {RSSI: -70}
        await obs.next(5)
        await _set(dev, RSSI, -80)  # between the thresholds: no notification
        await _set(dev, RSSI, -95)  # crosses lt downward
        assert (await obs.next(10)).values == {RSSI: -95}
        await _set(dev, RSSI, -85)  # crosses lt upward
        assert (await obs.next(10)).values == {RSSI: -85}
        await _set(dev, RSSI, -61)  # no crossing
        await _set(dev, RSSI, -50)  # crosses gt upward
        assert (await obs.next(10)).values == {RSSI: -50}


@async_test
async def test_observe_step_attribute(processes):
    async with session(processes, "ob305") as (server, dev):
        assert (await server.write_attributes("ob305", RSSI, st=10)).code == "2.04"
        obs = server.observe("ob305", RSSI)
        await obs.established()
        await obs.next(5)
        await _set(dev, RSSI, -5)  # 5 from the last notified 0: nothing
        await _set(dev, RSSI, -10)  # 10 from 0: notify
        assert (await obs.next(10)).values == {RSSI: -10}


@async_test
async def test_LightweightM2M_1_1_int_303_cancel_observation_explicit(processes):
    async with session(processes, "ob306") as (server, dev):
        obs = server.observe("ob306", RSSI)
        await obs.established()
        await expect(dev, r"lwm2m observe %s" % RSSI)
        res = await obs.cancel(explicit=True)
        assert res.code == "2.05"
        await expect(dev, r"lwm2m observe-cancel %s" % RSSI)


@async_test
async def test_LightweightM2M_1_1_int_302_cancel_observation_by_reset(processes):
    """The server forgets the observation; its RST to the next (CON: Default Notification Mode
    /1/0/26 = 1) notification ends it on the device."""
    async with session(processes, "ob307") as (server, dev):
        assert (await server.write("ob307", "/1/0/26", 1, content_format=0)).code == "2.04"
        obs = server.observe("ob307", RSSI)
        await obs.established()
        await obs.cancel(explicit=False)
        # the first notification after the cancel gets RST; the device then drops the observer
        # and finds nobody left to notify on the next change
        outcome = []
        for v in range(-40, -45, -1):
            await _set(dev, RSSI, v)
            m = await expect(dev, r"lwm2m (notify|observe-gone) %s" % RSSI, 20)
            outcome.append(m.group(1))
            if m.group(1) == "observe-gone":
                break
        assert outcome[-1] == "observe-gone" and outcome[0] == "notify", outcome


@async_test
async def test_observe_object_instance(processes):
    async with session(processes, "ob310") as (server, dev):
        obs = server.observe("ob310", "/4/0")
        first = await obs.established()
        assert first.values[RSSI] == 0
        await obs.next(5)
        await _set(dev, RSSI, -66)
        note = await obs.next(10)
        assert note.values[RSSI] == -66 and "/4/0/0" in note.values


@async_test
async def test_LightweightM2M_1_1_int_306_send_when_unmuted(processes):
    async with session(processes, "sd280") as (server, dev):
        assert (await server.write("sd280", "/1/0/23", False, content_format=0)).code == "2.04"
        dev.send_line("send /3/0/0,%s" % RSSI)
        sent = await server.wait_send("sd280", 1, 10)
        assert sent["values"]["/3/0/0"] == "cellfw" and sent["values"][RSSI] == 0, sent
        await expect(dev, r"lwm2m send /3/0/0,/4/0/2 -> 2.04")


@async_test
async def test_LightweightM2M_1_1_int_307_mute_send(processes):
    """Mute Send (/1/0/23) true -- or absent, the default -- refuses Send on the device."""
    async with session(processes, "sd281") as (server, dev):
        dev.send_line("send /3/0/0")
        await expect(dev, r"lwm2m send-muted")
        assert (await server.write("sd281", "/1/0/23", True, content_format=0)).code == "2.04"
        dev.send_line("send /3/0/0")
        await expect(dev, r"lwm2m send-muted")
        assert server.sends("sd281") == []
