"""IPAd on the Unix port, for manual runs and integration tests:

    micropython -m ipa --modem tcp:127.0.0.1:PORT --dialect bg95 --eim https://127.0.0.1:8443 \\
        --ca root.der [--sni NAME] [--state ipa_state.json] [--polls N] [--apn APN]
        [--backoff-min MS] [--backoff-max MS] [--wait-trigger 1]
        [--initial-eim EIMID,HOST:PORT,EIM_CERT_FILE]   (AddInitialEim at first boot)
    micropython -m ipa --modem ... --lwm2m coap://127.0.0.1:5683 --ep NAME [--send 1] ...

The card is reached through the modem (AT over TCP or a pty: the modem simulator with the
eUICC simulator behind it). The eIM over HTTPS from the host's IP stack, or with --lwm2m over
object 3443 of the LwM2M client (registered to that server as NAME; IPA messages notified to
observers of /3443/0/3, or sent with LwM2M Send when --send 1). Without --eim (and --lwm2m) the
address is the first eIM's eimFqdn from GetEimConfigurationData. Events are printed one per
line ("ipa <event> ...", "lwm2m <event> ..."), the last line is `IPA DONE <json of the
newest round results (4 at most)>` or `IPA FAIL <error>`. STORE DATA blocks fit the modem's
longest AT command (`Uicc.max_segment` of the dialect's quirk profile). stdin lines: `poll`
(poll now), `quit`. --polls bounds the run; --wait-trigger 1 holds the first poll until a `poll`
line."""

import json
import sys

import asyncio

from ipa import es10b, esipa_https, procedures, runner
from ipa.state import IpaState

ISDR_AID = b"\xA0\x00\x00\x05\x59\x10\x10\xFF\xFF\xFF\xFF\x89\x00\x00\x01\x00"
_ATTACH_TIMEOUT_MS = 30000
_SRV_MUTE_SEND = 23     # /1/x/23 Mute Send: LwM2M Send is off unless the server allows it


def _args(argv):
    opts = {"dialect": "bg95", "state": "ipa_state.json", "apn": "iot", "polls": None,
            "quirks": None, "eim": None, "ca": None, "sni": None, "modem": None,
            "backoff-min": None, "backoff-max": None, "lwm2m": None, "ep": None, "send": None,
            "wait-trigger": None, "initial-eim": None}
    i = 0
    while i < len(argv):
        key = argv[i]
        if not key.startswith("--") or key[2:] not in opts or i + 1 >= len(argv):
            raise SystemExit("usage: micropython -m ipa --modem LINK [--dialect D] "
                             "[--eim URL --ca FILE] ... (bad %r)" % key)
        opts[key[2:]] = argv[i + 1]
        i += 2
    if opts["modem"] is None:
        raise SystemExit("--modem LINK is required")
    return opts


def _mem(what):
    import gc

    gc.collect()
    print("ipa mem %s alloc=%d free=%d" % (what, gc.mem_alloc(), gc.mem_free()))


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def sim_refresh_hook(dialect, log, timeout_ms=_ATTACH_TIMEOUT_MS):
    """The awaitable the runner calls after a profile switch: returns once the modem saw the
    SIM REFRESH (or reboot) and is registered again on the new profile's network."""
    seen = [dialect.sim_events]

    async def refresh():
        for _ in range(timeout_ms // 50):
            if dialect.sim_events != seen[0]:
                break
            await asyncio.sleep_ms(50)
        seen[0] = dialect.sim_events
        r = await dialect.wait_registered(timeout_ms)
        log("ipa attached stat=%s" % r.get("stat"))

    return refresh


async def _eim_url_from_card(open_channel):
    ch = await open_channel()
    try:
        resp = await runner.Runner(ch, None).es10b(es10b.get_eim_configuration_data())
    finally:
        await ch.close()
    for e in es10b.parse_eim_configuration_data(resp):
        if e.get("eimFqdn"):
            return e["eimFqdn"]
    raise SystemExit("no --eim given and no eimFqdn in the eUICC's eIM configuration")


async def main(argv):
    o = _args(argv)
    from modem.factory import open_dialect
    from modem.uicc import Uicc

    _mem("start")
    ctx = None
    if o["ca"] and not o["lwm2m"]:
        # first, while the heap is in one piece: mbedTLS wants ~40 KB contiguous
        ctx = esipa_https.make_context(_read(o["ca"]))
        _mem("tls-context")
    d = await open_dialect(o["dialect"], o["modem"])
    await d.attach(o["apn"], _ATTACH_TIMEOUT_MS)
    _mem("modem")
    uicc = Uicc(d.at, o["quirks"] or d.UICC_QUIRKS, d)

    async def open_channel():
        return await uicc.open(ISDR_AID)

    configs = []
    initial_url = None
    if o["initial-eim"]:
        eim_id, fqdn, cert = o["initial-eim"].split(",")
        configs.append(es10b.eim_configuration_data(
            eim_id, fqdn=fqdn, counter=0,
            certificate=esipa_https.pem_to_der(_read(cert))))
        initial_url = "https://" + fqdn
    client = None
    if o["lwm2m"]:
        client, binding = await _lwm2m_binding(o)
    else:
        url = o["eim"] or initial_url or await _eim_url_from_card(open_channel)
        binding = esipa_https.EsipaHttps(url, server_hostname=o["sni"], ssl_context=ctx)
    kw = {}
    if o["backoff-min"]:
        kw["backoff_min_ms"] = int(o["backoff-min"])
    if o["backoff-max"]:
        kw["backoff_max_ms"] = int(o["backoff-max"])
    ipa = procedures.Ipa(IpaState(o["state"]), eim_configs=configs, **kw)
    ipad = runner.Ipad(ipa, open_channel, binding, sim_refresh_hook(d, print), log=print,
                       max_segment=uicc.max_segment)
    cmd_task = asyncio.create_task(_commands(ipad))
    try:
        await ipad.start()
        _mem("ready")
        print("ipa ready")
        if o["wait-trigger"]:
            await ipad._wake.wait()
        results = await ipad.run(int(o["polls"]) if o["polls"] else None)
        if client is None:
            print("ipa https requests=%d connects=%d tx=%d rx=%d body_tx=%d body_rx=%d" % (
                binding.requests, binding.connects, binding.bytes_tx, binding.bytes_rx,
                binding.body_tx, binding.body_rx))
        else:
            print("ipa lwm2m messages_tx=%d messages_rx=%d tx=%d rx=%d" % (
                binding.messages_tx, binding.messages_rx, binding.bytes_tx, binding.bytes_rx))
        _mem("done")
        print("IPA DONE " + json.dumps([runner._summary(r) for r in results]))
    finally:
        cmd_task.cancel()
        await ipad.close()
        if client is not None:
            client.stop()
            await asyncio.sleep_ms(200)    # let the client de-register
        d.deinit()


async def _lwm2m_binding(o):
    """An LwM2M client with objects 0/1/3/4 and 3443, registered; and the /3443 binding."""
    from coap.transport_udp import UdpTransport
    from lwm2m.client import Client, make_registry
    from objects import obj_esim_iot
    from ipa.esipa_lwm2m import EsipaLwm2m

    reg = make_registry()
    obj = obj_esim_iot.create(reg)
    client = Client(reg, o["ep"] or "ipad", UdpTransport("0.0.0.0", 0), log=print)
    client.configure(server_uri=o["lwm2m"], lifetime=60)
    if o["send"]:
        for iid in reg.get_object(1).instances:
            reg.set((1, iid, _SRV_MUTE_SEND), False)
    asyncio.create_task(client.run())
    for _ in range(_ATTACH_TIMEOUT_MS // 50):
        if client.accounts and client.accounts[0].rd.is_registered():
            break
        await asyncio.sleep_ms(50)
    else:
        raise OSError("LwM2M registration with %s did not complete" % o["lwm2m"])
    send = None
    if o["send"]:
        async def send():
            code = await client.send([(3443, 0, 3)])
            return code is not None and code >> 5 == 2

    return client, EsipaLwm2m(obj, send=send)


async def _commands(ipad):
    reader = asyncio.StreamReader(sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            return
        word = line.decode().strip()
        if word == "poll":
            ipad.trigger()
        elif word == "quit":
            ipad.stop()


def _run():
    try:
        asyncio.run(main(sys.argv[1:]))
    except Exception as e:  # noqa: BLE001 - one line for the test harness, then a non-zero exit
        sys.print_exception(e)
        print("IPA FAIL %s: %s" % (type(e).__name__, e))
        sys.exit(1)


_run()
