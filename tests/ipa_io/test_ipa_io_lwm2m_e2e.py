"""ESipa over LwM2M object 3443 end to end: the IPAd and the firmware LwM2M client on the
MicroPython Unix port (CoAP/UDP), the card through the modem simulator, and on the host the
LwM2M server (host_tools.lwm2m_server) with the eIM's 3443 relay and EimCore in this process.
A PSMO enable queued at the eIM reaches the card and its result comes back, with the IPA
message delivered by observation of /3443/0/3 (cleared by Execute /3443/0/4) or by LwM2M Send."""

import asyncio
import json

import harness
from host_tools.eim.lwm2m_relay import EimLwm2mRelay
from host_tools.lwm2m_server import LwM2MServer

from ipa_io_rig import EID, OP1, OP2, Rig, lines


async def _psmo_over_3443(tmp_path, processes, use_send, psmo):
    rig = Rig(tmp_path, processes)
    rig.start_modem()
    server = await LwM2MServer.start(host="127.0.0.1", port=0, db=":memory:", timeout=10.0)
    relay = EimLwm2mRelay(rig.core, server)
    try:
        args = ["--modem", "tcp:127.0.0.1:%d" % rig.modem_port, "--dialect", "bg95",
                "--state", rig.ipa_state, "--polls", "2", "--backoff-min", "200",
                "--lwm2m", "coap://127.0.0.1:%d" % server.port, "--ep", "ipad1",
                "--wait-trigger", "1"]
        if use_send:
            args += ["--send", "1"]
        dev = harness.start_micropython("ipa", args, name="ipad-lwm2m")
        processes.append(dev)
        await server.wait_registered("ipad1", 30)
        await asyncio.to_thread(dev.expect, r"^ipa ready", 30)
        assert await relay.attach("ipad1", observe=not use_send) == EID
        pid = rig.core.queue(EID, "euiccPackage", {"psmo": [psmo]})
        assert rig.enabled_iccid() == OP1
        dev.send_line("poll")
        await asyncio.to_thread(dev.expect, r"^IPA (DONE|FAIL)", 90)
        return rig, dev, pid, relay
    finally:
        await relay.close()
        await server.stop()


def _check(rig, dev, pid, relay, result):
    done = [m for m in lines(dev, r"^IPA DONE (.*)$")]
    assert done, dev.output()
    polls = json.loads(done[-1].group(1))
    first = polls[0]["handled"][0]
    assert first["results"] == [result] and first["seqNumber"] in first["acks"]
    row = [p for p in rig.packages() if p["id"] == pid][0]
    assert row["state"] == "acknowledged" and "(verified" in row["result"]
    assert relay.errors == []
    m = lines(dev, r"^ipa lwm2m messages_tx=(\d+) messages_rx=(\d+)")[0]
    # GetEimPackage, ProvideEimPackageResult, GetEimPackage, then GetEimPackage of poll 2
    assert (int(m.group(1)), int(m.group(2))) == (4, 4)


def test_sgp32_psmo_over_lwm2m_3443_observe_and_clear(tmp_path, processes):
    """IPA messages notified to the relay's observation of /3443/0/3, cleared by Execute
    /3443/0/4. getRAT: its result fits one CoAP block (see test below for why)."""
    out = asyncio.run(_psmo_over_3443(tmp_path, processes, False, {"op": "getRAT"}))
    _check(*out, result=["getRAT", None])
    rig, dev = out[0], out[1]
    assert rig.enabled_iccid() == OP1


def test_sgp32_psmo_enable_over_lwm2m_3443_send(tmp_path, processes):
    """An enable's result travels with two signed notifications (about 2.3 KB): LwM2M Send
    carries it block-wise (RFC 7959 Block1). Over an observation the notification is cut at
    the first 1024-byte block (the host server does not fetch the rest with Block2), so this
    size is proven over Send only."""
    out = asyncio.run(_psmo_over_3443(tmp_path, processes, True,
                                      {"op": "enable", "iccid": OP2}))
    _check(*out, result=["enable", 0])
    rig, dev = out[0], out[1]
    assert lines(dev, r"^ipa refreshed channel reopened")
    assert rig.enabled_iccid() == OP2
