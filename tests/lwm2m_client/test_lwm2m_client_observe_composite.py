"""Observe-Composite (OMA-TS-LightweightM2M_Core-V1_1 §6.4.3, §6.4.4: FETCH with Observe=0 and
a SenML path list; RFC 8132 FETCH observed as RFC 7641 allows), end to end against the host
server's observe_composite. Named after the OMA ETS 1.1 interoperability cases int-304/305."""

from lwm2m_client_itest import async_test, expect, session

RSSI = "/4/0/2"
PATHS = [RSSI, "/3/0/0", "/1/0/1"]


async def _set(dev, path, value):
    dev.send_line("set %s %s" % (path, value))
    await expect(dev, r"lwm2m set %s" % path)


@async_test
async def test_LightweightM2M_1_1_int_304_observe_composite(processes):
    """LightweightM2M-1.1-int-304 - Observe-Composite Operation: the answer carries every listed
    value; a change under any listed path sends a notification with all of them again."""
    async with session(processes, "oc304", lifetime=60) as (server, dev):
        obs = server.observe_composite("oc304", PATHS)
        first = await obs.established()
        assert first.code == "2.05"
        assert first.values == {RSSI: 0, "/3/0/0": "cellfw", "/1/0/1": 60}
        await expect(dev, r"lwm2m observe /4/0/2\|/3/0/0\|/1/0/1")
        await obs.next(5)  # the answer itself is the first item
        await _set(dev, RSSI, -71)
        note = await obs.next(10)
        assert note.code == "2.05" and note.content_format == 112
        assert note.values == {RSSI: -71, "/3/0/0": "cellfw", "/1/0/1": 60}
        # A server write to another listed path is a change too.
        assert (await server.write("oc304", "/1/0/1", 120, content_format=0)).code == "2.04"
        note = await obs.next(10)
        assert note.values == {RSSI: -71, "/3/0/0": "cellfw", "/1/0/1": 120}
        await _set(dev, RSSI, -72)
        assert (await obs.next(10)).values[RSSI] == -72


@async_test
async def test_LightweightM2M_1_1_int_305_cancel_observe_composite(processes):
    """LightweightM2M-1.1-int-305 - Cancel Observation-Composite Operation: FETCH with Observe=1
    and the same token and path list ends it on the device, while a plain observation of one of
    the same resources keeps notifying."""
    async with session(processes, "oc305") as (server, dev):
        comp = server.observe_composite("oc305", PATHS)
        await comp.established()
        await expect(dev, r"lwm2m observe /4/0/2\|")
        single = server.observe("oc305", RSSI)
        await single.established()
        await single.next(5)
        await comp.cancel(explicit=True)
        await expect(dev, r"lwm2m observe-cancel /4/0/2\|/3/0/0\|/1/0/1")
        await _set(dev, RSSI, -80)
        assert (await single.next(10)).values == {RSSI: -80}
        dev.send_line("mem")
        await expect(dev, r"lwm2m mem ")
        assert not any("observe-gone" in line for line in dev.output().splitlines())
