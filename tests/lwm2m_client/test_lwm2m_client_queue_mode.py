"""Queue Mode (OMA-TS-LightweightM2M_Core-V1_1 §6.5) and Notification Storing When Disabled or
Offline (/1/x/6), end to end: the device sleeps after its RX window, keeps notifications, and on
waking sends an Update first, then the stored notifications."""

import asyncio

from lwm2m_client_itest import async_test, expect, session

RSSI = "/4/0/2"


@async_test
async def test_queue_mode_stores_notification_while_asleep_wakes_and_flushes_after_update(processes):
    async with session(processes, "qm1", extra=["--queue", "--rx-window", "1500"]) as (server, dev):
        assert server.registration("qm1").queue_mode
        obs = server.observe("qm1", RSSI)
        await obs.established()
        await obs.next(5)
        await expect(dev, r"lwm2m sleeping")
        dev.send_line("set %s -51" % RSSI)
        await expect(dev, r"lwm2m notify-stored %s \(1 held\)" % RSSI)
        await expect(dev, r"lwm2m awake")
        await server.wait_update("qm1", 1, 10)
        await expect(dev, r"lwm2m notify-flushed 1")
        assert (await obs.next(10)).values == {RSSI: -51}


@async_test
async def test_queue_mode_server_request_held_until_device_wakes(processes):
    """A Read for a sleeping device is held by the server and answered once the device is heard
    from again (its Update on waking, here forced from the device's side)."""
    async with session(processes, "qm2", extra=["--queue", "--rx-window", "1000"],
                                   server_kw={"awake_time": 1.0}) as (server, dev):
        await expect(dev, r"lwm2m sleeping")
        read = asyncio.ensure_future(server.read("qm2", "/3/0/0", accept=0))
        await server.wait_for(lambda: server.pending("qm2") == 1, 5)
        dev.send_line("update")
        res = await asyncio.wait_for(read, 15)
        assert (res.code, res.payload) == ("2.05", b"cellfw")
        await expect(dev, r"lwm2m awake")
