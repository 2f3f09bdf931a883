"""IPAd procedures against the eUICC simulator (host_tools/euicc_sim Card) over real STORE DATA
framing, with a fake eIM that signs packages like the host eIM and decodes every ESipa request
with the independent SGP.32 v1.2 codec. Flows per SGP.32 v1.2 §3.x (eIM package retrieval,
generic eUICC package execution with acknowledgements, IpaEuiccDataRequest, rollback)."""

import pytest

from host_tools import sgp32_oracle as oracle
from host_tools.euicc_sim import package
from host_tools.euicc_sim.card import Card
from host_tools.euicc_sim.pytest_fixtures import test_pki  # noqa: F401
from host_tools.euicc_sim.state import iccid_to_bytes
from ipa import es10b, esipa, procedures, tlv
from ipa.state import IpaState

import ipa_testkit as kit

OP1 = "8900101000000000017"
OP2 = "8900102000000000025"


def _card(tmp_path, pki):
    return Card(state_path=str(tmp_path / "euicc.json"), pki=pki)


class Env:
    def __init__(self, card, tmp_path, **ipa_kw):
        self.card = card
        self.path = str(tmp_path / "ipa_state.json")
        self.eim = kit.FakeEim()
        self.eim.acks = kit.seqs_in_result
        self.link = kit.CardLink(card)
        self.rig = kit.Rig(self.link, self.eim)
        self.ipa_kw = ipa_kw
        self.counter = 0
        self.new_ipa()

    def new_ipa(self):
        self.state = IpaState(self.path)
        self.ipa = procedures.Ipa(self.state, channel=self.link.channel, **self.ipa_kw)

    def reset(self):
        """Device reset: new IPAd from persisted state, card power-cycled, channel reopened."""
        self.link = kit.CardLink(self.card)
        self.rig.link = self.link
        self.new_ipa()

    def request(self, pkg, counter=None, tamper=False, txid=None):
        if counter is None:
            self.counter += 1
            counter = self.counter
        return package.build_request(self.card.pki.eim.key, "test-eim", self.card.state.eid,
                                     counter, pkg, association_token=1, transaction_id=txid,
                                     tamper=tamper)

    def queue(self, der):
        self.eim.packages.append(("euiccPackageRequest", oracle.decode("EuiccPackageRequest", der)))


@pytest.fixture
def env(tmp_path, test_pki):  # noqa: F811
    return Env(_card(tmp_path, test_pki), tmp_path, backoff_min_ms=1000, backoff_max_ms=4000)


def _epr_of(result):
    res = result["eimPackageResult"]
    if res[0] == "ePRAndNotifications":
        return res[1]["euiccPackageResult"]
    assert res[0] == "euiccPackageResult", res[0]
    return res[1]


def test_startup_keeps_existing_eim_and_learns_eid(env):
    r = env.rig.run(env.ipa.startup())
    assert r["initial_eim"] == {"added": 0, "existing": ["test-eim"]}
    env.rig.run(env.ipa.poll())
    assert env.state["eid"] == env.card.state.eid.lower()
    assert env.state["initial_eim_done"] is True


def test_add_initial_eim_at_first_boot(tmp_path, test_pki):  # noqa: F811
    card = _card(tmp_path, test_pki)
    card.state.data["eims"] = []
    card.state.save()
    cfg = es10b.eim_configuration_data("eim-first", fqdn="127.0.0.1", id_type=2, counter=0,
                                       certificate=test_pki.eim.cert_der, indirect=True)
    env = Env(card, tmp_path, eim_configs=[cfg])
    r = env.rig.run(env.ipa.startup())
    assert r["initial_eim"]["added"] == 1
    assert [e["eim_id"] for e in card.state.data["eims"]] == ["eim-first"]
    # Second boot: nothing to add any more.
    env.reset()
    assert "initial_eim" not in env.rig.run(env.ipa.startup())
    assert env.state["initial_eim_done"] is True


def test_get_eim_package_notifies_state_change_once(env):
    seen = []
    env.eim.handlers["getEimPackageRequest"] = lambda v: (seen.append(v), oracle.encode(
        "EsipaMessageFromEimToIpa", ("getEimPackageResponse", ("eimPackageError", 1))))[1]
    env.rig.run(env.ipa.poll(esipa.CAUSE_FALLBACK, b"\x00\xf1\x10"))
    env.rig.run(env.ipa.poll())
    assert seen[0]["notifyStateChange"] == 0 and seen[0]["stateChangeCause"] == 1
    assert seen[0]["rPLMN"] == b"\x00\xf1\x10"
    assert "notifyStateChange" not in seen[1]


def test_get_eim_package_no_package_backs_off(env):
    got = [env.rig.run(env.ipa.poll())["retry_ms"] for _ in range(4)]
    assert got == [1000, 2000, 4000, 4000]
    assert env.eim.log == ["getEimPackageRequest"] * 4


def test_euicc_package_enable_then_acks_remove_notifications(env):
    env.queue(env.request(("psmoList", [("enable", {"iccid": iccid_to_bytes(OP2)})])))
    r = env.rig.run(env.ipa.poll())
    handled = r["handled"][0]
    assert handled["result"] == "signed" and handled["results"] == [("enable", 0)]
    assert env.card.enabled_profile()["iccid"] == OP2
    # The eIM saw the signed EPR together with the enable/disable notifications...
    res = env.eim.results[0]
    assert res["eidValue"] == bytes.fromhex(env.card.state.eid)
    epr = _epr_of(res)
    assert epr[0] == "euiccPackageResultSigned"
    assert epr[1]["euiccPackageResultDataSigned"]["euiccResult"] == [("enableResult", 0)]
    # ...acknowledged all of them, and the IPAd removed each from the eUICC.
    assert handled["acks"] == kit.seqs_in_result(res)
    assert env.card.state.data["package_results"] == []
    assert env.card.state.data["notifications"] == []
    assert env.state.pending() == []
    assert r["retry_ms"] == 1000     # then the queue was empty


def test_euicc_package_replay_error_delivered(env):
    der = env.request(("psmoList", [("disable", {"iccid": iccid_to_bytes(OP1)})]))
    env.queue(der)
    env.queue(der)      # the same counter again
    r = env.rig.run(env.ipa.poll())
    assert [h["result"] for h in r["handled"]] == ["signed", "errorSigned"]
    assert r["handled"][1]["errorCode"] == es10b.EPE_REPLAY
    epr = _epr_of(env.eim.results[1])
    assert epr[0] == "euiccPackageErrorSigned"
    assert epr[1]["euiccPackageErrorDataSigned"]["euiccPackageErrorCode"] == 4


def test_euicc_package_bad_signature_gives_unsigned_error(env):
    env.queue(env.request(("psmoList", [("enable", {"iccid": iccid_to_bytes(OP2)})]),
                          tamper=True))
    r = env.rig.run(env.ipa.poll())
    assert r["handled"][0]["result"] == "errorUnsigned"
    assert _epr_of(env.eim.results[0])[0] == "euiccPackageErrorUnsigned"
    assert env.card.enabled_profile()["iccid"] == OP1


def test_rollback_when_eim_unreachable_after_enable_with_rollback_flag(env):
    env.queue(env.request(("psmoList", [("enable", {"iccid": iccid_to_bytes(OP2),
                                                    "rollbackFlag": 0})])))
    # The new profile has no way to the eIM: the result cannot be delivered.
    env.rig.fail_on = lambda kind, p: (
        procedures.EimUnreachable("no route")
        if kind == "esipa" and env.card.enabled_profile()["iccid"] == OP2 else None)
    r = env.rig.run(env.ipa.poll())
    assert r["handled"][0]["undelivered"] is True and r["unreachable"] is True
    assert env.card.enabled_profile()["iccid"] == OP2
    assert env.state["rollback"] == {"iccid": iccid_to_bytes(OP1).hex(), "fails": 1}
    r = env.rig.run(env.ipa.poll())
    assert r["unreachable"] is True and r["rollback"] == 0
    assert env.card.enabled_profile()["iccid"] == OP1
    assert env.state["rollback"] is None
    # Back on the old profile: both EPRs (enable, rollback) reach the eIM and get acknowledged.
    env.rig.run(env.ipa.poll())
    kinds = [_epr_of(x)[1]["euiccPackageResultDataSigned"]["euiccResult"][0][0]
             for x in env.eim.results]
    assert sorted(kinds) == ["enableResult", "rollbackResult"]
    assert env.state.pending() == []


def test_enable_with_rollback_flag_confirmed_when_eim_reached(env):
    env.queue(env.request(("psmoList", [("enable", {"iccid": iccid_to_bytes(OP2),
                                                    "rollbackFlag": 0})])))
    env.rig.run(env.ipa.poll())
    assert env.state["rollback"] is None
    assert env.state["last_good_iccid"] == iccid_to_bytes(OP2).hex()


def test_reset_after_load_resumes_and_delivers_stored_result(env):
    env.queue(env.request(("psmoList", [("enable", {"iccid": iccid_to_bytes(OP2)})])))
    # Reset right after the eUICC ran the package, before the IPAd saw the response.
    state = {"armed": False}

    def fail(kind, payload):
        if kind == "es10b" and bytes(payload[:2]) == b"\xbf\x51":
            state["armed"] = True
            return None
        if state["armed"]:
            return kit.PowerLoss()
        return None
    env.rig.fail_on = fail
    with pytest.raises(kit.PowerLoss):
        env.rig.run(env.ipa.poll())
    assert env.card.enabled_profile()["iccid"] == OP2
    env.rig.fail_on = None
    env.reset()
    assert env.state["phase"]["proc"] == "euicc_package"
    env.rig.run(env.ipa.startup())
    r = env.rig.run(env.ipa.poll())
    assert r["handled"][0] == {"package": "pending", "delivered": 1}
    assert any(_epr_of(x)[0] == "euiccPackageResultSigned" for x in env.eim.results)
    assert env.state.pending() == []
    assert env.state["phase"] is None


def test_reset_during_load_resumes_from_euicc_stored_results(env):
    env.queue(env.request(("psmoList", [("enable", {"iccid": iccid_to_bytes(OP2)})])))
    real = env.link.transmit

    def transmit(a):
        rsp = real(a)
        if a[1] == 0xE2 and a[2] == 0x91 and env.card.enabled_profile()["iccid"] == OP2:
            raise kit.PowerLoss()      # executed, response lost
        return rsp
    env.link.transmit = transmit
    with pytest.raises(kit.PowerLoss):
        env.rig.run(env.ipa.poll())
    env.reset()
    assert env.state["phase"]["step"] == "load"
    r = env.rig.run(env.ipa.startup())
    assert r["resumed"]["pending"] == 1
    env.rig.run(env.ipa.poll())
    assert _epr_of(env.eim.results[0])[1]["euiccPackageResultDataSigned"]["euiccResult"] == \
        [("enableResult", 0)]
    assert env.card.state.data["package_results"] == []


def test_ipa_euicc_data_request(env):
    env.eim.packages.append(("ipaEuiccDataRequest", {
        "tagList": b"\xa0\xbf\x20\xbf\x22\x83\x84\xa8\xa9", "eimTransactionId": b"\x07" * 16}))
    env.rig.run(env.ipa.poll())
    res = env.eim.results[0]["eimPackageResult"]
    assert res[0] == "ipaEuiccDataResponse" and res[1][0] == "ipaEuiccData"
    data = res[1][1]
    assert set(data) >= {"notificationsList", "euiccInfo1", "euiccInfo2", "rootSmdsAddress",
                         "ipaCapabilities", "deviceInfo",
                         "eimTransactionId"}
    assert data["rootSmdsAddress"] == "lpa.ds.example"
    # The simulator's GetEimConfigurationData does not reveal the association token, so the
    # IPAd has none to report: the field is left out rather than invented.
    assert "associationToken" not in data


def test_ipa_euicc_data_request_unknown_tag_is_incorrect_tag_list(env):
    env.eim.packages.append(("ipaEuiccDataRequest", {"tagList": b"\x99"}))
    env.rig.run(env.ipa.poll())
    res = env.eim.results[0]["eimPackageResult"]
    assert res[1] == ("ipaEuiccDataResponseError", {"ipaEuiccDataErrorCode": 1})


def test_handle_notifications_sent_then_removed(env):
    # An enable outside any eIM exchange leaves notifications behind.
    env.queue(env.request(("psmoList", [("enable", {"iccid": iccid_to_bytes(OP2)})])))
    env.eim.acks = lambda v: []
    env.rig.run(env.ipa.poll())
    assert env.card.state.data["notifications"]
    r = env.rig.run(env.ipa.handle_notifications())
    assert r["left"] == 0 and len(env.eim.notifications) == len(r["sent"]) > 0
    assert env.card.state.data["notifications"] == []


def test_transfer_eim_package_push_returns_result_inline(env):
    der = env.request(("psmoList", [("enable", {"iccid": iccid_to_bytes(OP2)})]))
    msg = oracle.encode("EsipaMessageFromEimToIpa", (
        "transferEimPackageRequest", ("euiccPackageRequest",
                                      oracle.decode("EuiccPackageRequest", der))))
    r = env.rig.run(env.ipa.transfer(msg))
    name, val = oracle.decode("EsipaMessageFromIpaToEim", r["reply"])
    assert name == "transferEimPackageResponse" and val[0] == "euiccPackageResult"
    assert env.card.enabled_profile()["iccid"] == OP2
    bad = esipa.transfer_eim_package_response(error=esipa.TEP_INVALID_PACKAGE_FORMAT)
    assert env.rig.run(env.ipa.transfer(b"\xbf\x4e\x05\x01"))["reply"] == bad


class V10Eim(kit.FakeEim):
    """An eIM speaking SGP.32 v1.0 ESipa: decodes with the v1.0 ASN.1 module (the IPAd is
    configured per eIM with eim_version=V10)."""

    def __init__(self):
        super().__init__()
        from test_ipa_oracle import _v10
        self.defs = _v10()

    def __call__(self, msg):
        m = self.defs.EsipaMessageFromIpaToEim
        m.from_ber(msg)
        assert m.to_ber() == msg
        name, value = m.get_val()
        self.log.append(name)
        out = self.defs.EsipaMessageFromEimToIpa
        if name == "getEimPackageRequest":
            if self.packages:
                # EuiccPackageRequest is [81]: the CHOICE alternative is the signed TLV itself.
                return tlv.encode(0xBF4F, self.packages.pop(0))
            out.set_val(("getEimPackageResponse", ("eimPackageError", 1)))
            return out.to_ber()
        assert name == "provideEimPackageResult", name
        self.results.append(value)
        out.set_val(("provideEimPackageResultResponse",
                     {"eimAcknowledgements": kit.seqs_in_result(value)}))
        return out.to_ber()


def test_euicc_package_with_v1_0_eim(tmp_path, test_pki):  # noqa: F811
    env = Env(_card(tmp_path, test_pki), tmp_path, eim_version=esipa.V10)
    env.eim = V10Eim()
    env.rig.eim = env.eim
    env.eim.packages.append(env.request(("psmoList", [("enable",
                                                       {"iccid": iccid_to_bytes(OP2)})])))
    r = env.rig.run(env.ipa.poll())
    assert r["handled"][0]["result"] == "signed"
    res = env.eim.results[0]
    assert res[0] == "ePRAndNotifications"
    assert res[1]["notificationList"][0] == "notificationList"
    assert r["handled"][0]["acks"] and env.card.state.data["notifications"] == []
    assert env.eim.log == ["getEimPackageRequest", "provideEimPackageResult",
                           "getEimPackageRequest"]


def test_reset_during_rollback_recovers_rollback_result(env):
    env.queue(env.request(("psmoList", [("enable", {"iccid": iccid_to_bytes(OP2),
                                                    "rollbackFlag": 0})])))
    env.rig.fail_on = lambda kind, p: (
        procedures.EimUnreachable("no route")
        if kind == "esipa" and env.card.enabled_profile()["iccid"] == OP2 else None)
    env.rig.run(env.ipa.poll())
    real = env.link.transmit

    def transmit(a):
        rsp = real(a)
        if a[1] == 0xE2 and env.card.enabled_profile()["iccid"] == OP1:
            raise kit.PowerLoss()      # rolled back, response lost
        return rsp
    env.link.transmit = transmit
    with pytest.raises(kit.PowerLoss):
        env.rig.run(env.ipa.poll())
    env.rig.fail_on = None
    env.reset()
    assert env.state["phase"]["proc"] == "rollback"
    env.rig.run(env.ipa.startup())
    assert env.state["rollback"] is None
    env.rig.run(env.ipa.poll())
    kinds = sorted(_epr_of(x)[1]["euiccPackageResultDataSigned"]["euiccResult"][0][0]
                   for x in env.eim.results)
    assert kinds == ["enableResult", "rollbackResult"]
    assert env.card.state.data["package_results"] == []
