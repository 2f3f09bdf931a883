"""IPAd on the Unix port, for manual runs and integration tests:

    micropython -m ipa --modem tcp:127.0.0.1:PORT --dialect bg95 --eim https://127.0.0.1:8443 \\
        --ca root.der [--sni NAME] [--state ipa_state.json] [--polls N] [--apn APN]
        [--backoff-min MS] [--backoff-max MS]

The card is reached through the modem (AT over TCP or a pty: the modem simulator with the
eUICC simulator behind it); the eIM over HTTPS from the host's IP stack. Without --eim the
address is the first eIM's eimFqdn from GetEimConfigurationData. Events are printed one per
line ("ipa <event> ..."), the last line is `IPA DONE <json of the poll results>` or
`IPA FAIL <error>`. stdin is not read: --polls bounds the run (default: until killed)."""

import json
import sys

import asyncio

from ipa import es10b, esipa_https, procedures, runner
from ipa.state import IpaState

ISDR_AID = b"\xA0\x00\x00\x05\x59\x10\x10\xFF\xFF\xFF\xFF\x89\x00\x00\x01\x00"
_ATTACH_TIMEOUT_MS = 30000


def _args(argv):
    opts = {"dialect": "bg95", "state": "ipa_state.json", "apn": "iot", "polls": None,
            "quirks": None, "eim": None, "ca": None, "sni": None, "modem": None,
            "backoff-min": None, "backoff-max": None}
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

    d = await open_dialect(o["dialect"], o["modem"])
    await d.attach(o["apn"], _ATTACH_TIMEOUT_MS)
    uicc = Uicc(d.at, o["quirks"] or d.UICC_QUIRKS, d)

    async def open_channel():
        return await uicc.open(ISDR_AID)

    url = o["eim"] or await _eim_url_from_card(open_channel)
    ca = _read(o["ca"]) if o["ca"] else None
    binding = esipa_https.EsipaHttps(url, cadata=ca, server_hostname=o["sni"])
    kw = {}
    if o["backoff-min"]:
        kw["backoff_min_ms"] = int(o["backoff-min"])
    if o["backoff-max"]:
        kw["backoff_max_ms"] = int(o["backoff-max"])
    ipa = procedures.Ipa(IpaState(o["state"]), **kw)
    ipad = runner.Ipad(ipa, open_channel, binding, sim_refresh_hook(d, print), log=print)
    try:
        await ipad.start()
        results = await ipad.run(int(o["polls"]) if o["polls"] else None)
        print("ipa https requests=%d connects=%d tx=%d rx=%d body_tx=%d body_rx=%d" % (
            binding.requests, binding.connects, binding.bytes_tx, binding.bytes_rx,
            binding.body_tx, binding.body_rx))
        print("IPA DONE " + json.dumps([runner._summary(r) for r in results]))
    finally:
        await ipad.close()
        d.deinit()


def _run():
    try:
        asyncio.run(main(sys.argv[1:]))
    except Exception as e:  # noqa: BLE001 - one line for the test harness, then a non-zero exit
        sys.print_exception(e)
        print("IPA FAIL %s: %s" % (type(e).__name__, e))
        sys.exit(1)


_run()
