"""The IPAd on the MicroPython Unix port with the ESipa HTTPS binding (SGP.32 v1.2 §6.1 ASN.1
over TLS) against the host eIM, and the eUICC simulator reached through the modem simulator
(AT+CCHO/+CGLA). SGP.32 v1.2 §3.5 eUICC Package procedure: GetEimPackage -> PSMO enable
(LoadEuiccPackage over STORE DATA) -> REFRESH, re-attach, ISD-R reopened -> ProvideEimPackageResult
over the new profile -> eimAcknowledgements -> RemoveNotificationFromList."""

import json

import pytest

from ipa_io_rig import EID, OP1, OP2, Rig, lines


@pytest.fixture
def rig(tmp_path, processes):
    r = Rig(tmp_path, processes)
    r.start_eim()
    r.start_modem()
    return r


def _done(dev):
    m = lines(dev, r"^IPA DONE (.*)$")
    assert m, dev.output()
    return json.loads(m[-1].group(1))


def test_sgp32_3_5_psmo_enable_over_https_reaches_card_and_result_is_acknowledged(rig):
    pid = rig.core.queue(EID, "euiccPackage", {"psmo": [{"op": "enable", "iccid": OP2}]})
    assert rig.enabled_iccid() == OP1
    dev = rig.run_ipad(polls=2)
    polls = _done(dev)
    first = polls[0]["handled"][0]
    assert first["package"] == "euiccPackageRequest" and first["result"] == "signed"
    assert first["results"] == [["enable", 0]]
    assert first["seqNumber"] in first["acks"]
    assert polls[1] == {"idle": True, "retry_ms": 400, "handled": []}
    # the switch was noticed, the modem re-attached and the channel reopened before the result
    # went out over the new profile
    assert lines(dev, r"^ipa attached stat=1") and lines(dev, r"^ipa refreshed channel reopened")
    assert rig.enabled_iccid() == OP2
    row = [p for p in rig.packages() if p["id"] == pid][0]
    assert row["state"] == "acknowledged"
    assert "enableResult=ok(0) (verified" in row["result"]


def test_keep_alive_lasts_one_procedure(rig):
    rig.core.queue(EID, "euiccPackage", {"psmo": [{"op": "getRAT"}]})
    dev = rig.run_ipad(polls=2)
    m = lines(dev, r"^ipa https requests=(\d+) connects=(\d+)")[0]
    # poll 1: GetEimPackage, ProvideEimPackageResult, GetEimPackage on one connection;
    # poll 2: GetEimPackage on a new one
    assert (int(m.group(1)), int(m.group(2))) == (4, 2)
    assert rig.packages()[0]["state"] == "acknowledged"


def test_untrusted_eim_certificate_is_a_tls_failure_and_backs_off(rig, tmp_path):
    import ipa_io_tls

    other = ipa_io_tls.make(str(tmp_path / "other"))
    bad = tmp_path / "other.der"
    bad.write_bytes(other)
    rig.core.queue(EID, "euiccPackage", {"psmo": [{"op": "enable", "iccid": OP2}]})
    dev = rig.run_ipad(polls=2, ca=str(bad))
    polls = _done(dev)
    assert [p["retry_ms"] for p in polls] == [200, 400]
    assert all(p["unreachable"] for p in polls)
    errs = lines(dev, r"^ipa eim-unreachable (.*)$")
    assert errs and all("ESipa HTTPS tls" in m.group(1) for m in errs), dev.output()
    assert rig.enabled_iccid() == OP1
    assert rig.packages()[0]["state"] == "queued"


def test_eim_not_listening_is_a_connect_failure(rig):
    import harness

    port = harness.free_port(kind=__import__("socket").SOCK_STREAM)
    dev = rig.run_ipad(polls=1, eim="https://127.0.0.1:%d" % port)
    assert _done(dev)[0]["unreachable"] is True
    errs = lines(dev, r"^ipa eim-unreachable (.*)$")
    assert errs and "ESipa HTTPS connect" in errs[0].group(1), dev.output()


def test_sgp32_add_initial_eim_at_first_boot_then_psmo(tmp_path, processes):
    """Init sequence on a factory eUICC: GetEimConfigurationData finds no eIM, AddInitialEim
    associates ours (its signing certificate, counter 0, its address), and the next poll runs a
    package that eIM signed."""
    import os

    rig = Rig(tmp_path, processes, association_token=None)
    rig.card_without_eim()
    url = rig.start_eim()
    rig.start_modem()
    rig.core.queue(EID, "euiccPackage", {"psmo": [{"op": "enable", "iccid": OP2}]})
    rig.eim_url = None    # the address comes from the configuration given to AddInitialEim
    dev = rig.run_ipad("--initial-eim", "test-eim,%s,%s" % (
        url[len("https://"):], os.path.join(rig.pki, "eim.pem")), polls=1)
    started = lines(dev, r"^ipa started eid=\w+ (.*)$")[0].group(1)
    assert "'added': 1" in started, dev.output()
    polls = _done(dev)
    assert polls[0]["handled"][0]["results"] == [["enable", 0]], dev.output()
    assert rig.enabled_iccid() == OP2
    assert rig.packages()[0]["state"] == "acknowledged"


def test_sgp32_indirect_profile_download_bpp_streamed_over_https(tmp_path, processes):
    """ProfileDownloadTrigger: InitiateAuthentication, AuthenticateClient, GetBoundProfilePackage
    relayed by the eIM to its SM-DP+; the ~68 KB BPP answer is read from the HTTPS stream piece
    by piece and split into STORE DATA segments to the card, on one kept-alive connection."""
    rig = Rig(tmp_path, processes)
    rig.start_eim(smdp=True)
    rig.start_modem()
    pid = rig.core.queue(EID, "profileDownloadTrigger", {"activationCode": "1$127.0.0.1:8443$"})
    dev = rig.run_ipad(polls=1, timeout=180)
    done = _done(dev)[0]["handled"][0]
    assert done["package"] == "profileDownloadTriggerRequest" and done["installed"] is True
    assert done["segments"] > 60 and done["seqNumber"] in done["acks"]
    m = lines(dev, r"^ipa https requests=(\d+) connects=(\d+) .* body_rx=(\d+)")[0]
    assert int(m.group(2)) == 1 and int(m.group(3)) > 64 * 1024
    profiles = rig.profiles()
    assert len(profiles) == 3 and list(profiles.values()).count("enabled") == 1
    row = [p for p in rig.packages() if p["id"] == pid][0]
    assert row["state"] == "acknowledged" and "profile installed" in row["result"]


@pytest.mark.parametrize("dialect", ["nrf91_slm", "sim7080", "sara_r5"])
def test_psmo_enable_channel_reopened_after_refresh_on_each_modem_dialect(tmp_path, processes,
                                                                          dialect):
    """The same enable through the other dialects' UICC paths (nRF91 +CGLA falling back to
    +CSIM, SIM7080 bare +CCHO, SARA-R5 +CSIM with MANAGE CHANNEL): the ISD-R is reopened after
    the REFRESH and the result reaches the eIM."""
    rig = Rig(tmp_path, processes)
    rig.start_eim()
    rig.start_modem(dialect)
    pid = rig.core.queue(EID, "euiccPackage", {"psmo": [{"op": "enable", "iccid": OP2}]})
    dev = rig.run_ipad(polls=1)
    assert _done(dev)[0]["handled"][0]["results"] == [["enable", 0]], dev.output()
    assert lines(dev, r"^ipa refreshed channel reopened")
    assert rig.enabled_iccid() == OP2
    assert [p for p in rig.packages() if p["id"] == pid][0]["state"] == "acknowledged"


def test_sara_r5_store_data_blocks_fit_the_csim_line_cap(tmp_path, processes):
    """`micropython -m ipa --dialect sara_r5`: +CSIM lines are capped at 300 characters, so the
    IPAd takes its STORE DATA block size from the Uicc (131 bytes) instead of 255; a signed
    enable with rollbackFlag (several blocks) reaches the card and nothing is refused as too
    long."""
    rig = Rig(tmp_path, processes)
    rig.start_eim()
    rig.start_modem("sara_r5")
    rig.core.queue(EID, "euiccPackage", {"psmo": [{"op": "enable", "iccid": OP2,
                                                   "rollback": True}]})
    dev = rig.run_ipad(polls=1)
    assert _done(dev)[0]["handled"][0]["results"] == [["enable", 0]], dev.output()
    assert rig.enabled_iccid() == OP2
    rig.modem.send_line("stats")
    stats = json.loads(rig.modem.expect(r"^ok stats (.*)", 10).group(1))
    assert stats["counters"]["too_long"] == 0 and stats["counters"]["csim"] > 10, stats
