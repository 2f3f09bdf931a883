"""The IPAd running as firmware on the MicroPython Unix port (a separate process), with the eUICC
simulator and the SM-DP+/eIM on the host: a whole indirect profile download with a 64 KB BPP
streamed through the device in 1 KB chunks, then an eUICC package that enables the new profile.
The device side is tests/ipa/ipa_device_bridge.py over a line protocol on stdin/stdout."""

import json
import os

import harness
from host_tools import sgp32_oracle as oracle
from host_tools.euicc_sim.pytest_fixtures import card, test_pki  # noqa: F401
from host_tools.euicc_sim.state import iccid_to_bytes
from host_tools.smdp.core import SmDp
from ipa import procedures

import ipa_testkit as kit

HERE = os.path.dirname(os.path.abspath(__file__))
NEW_ICCID = "8900103000000000033"


def _serve(dev, link, eim, ops, chunk=1024):
    """Answer the device until it reported all ops; returns {op: result}."""
    done = {}
    stream = []
    while len(done) < ops:
        m = dev.expect(r"^@(APDU|ESIPA|STREAM|MORE|DONE) ?(.*)$", timeout=60)
        kind, arg = m.group(1), m.group(2)
        if kind == "DONE":
            op, js = arg.split(" ", 1)
            done[op] = json.loads(js)
        elif kind == "APDU":
            data, sw = link.transmit(bytes.fromhex(arg))
            dev.send_line("%s %04x" % (data.hex(), sw))
        elif kind == "MORE":
            dev.send_line(stream.pop(0).hex() if stream else "")
        else:
            try:
                body = eim(bytes.fromhex(arg))
            except procedures.EimUnreachable:
                dev.send_line("!unreachable")
                continue
            if kind == "STREAM":
                stream[:] = [body[i:i + chunk] for i in range(0, len(body), chunk)]
                dev.send_line(stream.pop(0).hex())
            else:
                dev.send_line(body.hex())
    return done


def test_indirect_download_then_enable_run_on_micropython(card, test_pki, tmp_path,  # noqa: F811
                                                          processes):
    smdp = SmDp(test_pki, address="127.0.0.1", db_path=str(tmp_path / "smdp.sqlite"))
    smdp.add_order("MATCH-1")
    eim = kit.RelayEim(smdp)
    eim.packages.append(("profileDownloadTriggerRequest", {
        "profileDownloadData": ("activationCode", "1$127.0.0.1$MATCH-1"),
        "eimTransactionId": b"\x01" * 16}))
    link = kit.CardLink(card)
    dev = harness.start_micropython(
        "ipa_device_bridge", [str(tmp_path / "ipa_state.json"), link.channel, 12, "startup",
                              "poll"], heapsize="256K", extra_path=[HERE], name="ipad")
    processes.append(dev)
    done = _serve(dev, link, eim, 2)
    handled = done["poll"]["handled"][0]
    assert handled["installed"] is True and handled["iccid"] == iccid_to_bytes(NEW_ICCID).hex()
    assert card.state.profile_by_iccid(NEW_ICCID)["state"] == "disabled"
    res = eim.results[-1]["eimPackageResult"]
    assert res[0] == "profileDownloadTriggerResult"
    assert res[1]["profileDownloadTriggerResultData"][0] == "profileInstallationResult"
    # No STORE DATA block ever exceeded 255 bytes of data, and the '86's went one by one.
    assert max(len(a) for a in link.apdus) <= 5 + 255
    assert handled["segments"] > 60
    # Second run of the firmware (state persisted): the eIM enables the new profile.
    from host_tools.euicc_sim import package
    req = package.build_request(card.pki.eim.key, "test-eim", card.state.eid, 1,
                                ("psmoList", [("enable", {"iccid": iccid_to_bytes(NEW_ICCID)})]),
                                association_token=1)
    eim.packages.append(("euiccPackageRequest", oracle.decode("EuiccPackageRequest", req)))
    dev.wait(timeout=30)
    dev2 = harness.start_micropython(
        "ipa_device_bridge", [str(tmp_path / "ipa_state.json"), link.channel, 12, "poll"],
        heapsize="256K", extra_path=[HERE], name="ipad2")
    processes.append(dev2)
    done = _serve(dev2, link, eim, 1)
    assert done["poll"]["handled"][0]["result"] == "signed"
    assert card.enabled_profile()["iccid"] == NEW_ICCID
    assert card.state.data["package_results"] == []
