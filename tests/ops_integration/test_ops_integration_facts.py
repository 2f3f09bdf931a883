"""The IPAd intercept's reading of eUICC packages (ops.facts) against the eUICC simulator and
the SGP.32 oracle codec (asn1play/pycrate): what the eIM signs is what EntryChange governs, and
the card's answers are read as the enable / rollback results they are."""

import pytest

from host_tools import pki as _pki
from host_tools.euicc_sim import package
from host_tools.euicc_sim import state as card_state
from host_tools.euicc_sim.card import Card
from host_tools.euicc_sim.client import IsdrClient
from ipa import es10b, tlv
from ops import facts as F

EID = _pki.DEFAULT_EID
OP1 = "8900101000000000017"
OP2 = "8900102000000000025"
TXID = bytes(range(16))


@pytest.fixture()
def isdr(tmp_path):
    card = Card(str(tmp_path / "euicc.json"), pki=_pki.make())
    card.power_on()
    client = IsdrClient(card)
    client.open()
    client.card = card
    return client


def _enable(iccid, counter, rollback=True, txid=TXID):
    args = {"iccid": card_state.iccid_to_bytes(iccid)}
    if rollback:
        args["rollbackFlag"] = 0
    return package.build_request(_pki.make().eim.key, "test-eim", EID, counter,
                                 ("psmoList", [("enable", args)]), association_token=1,
                                 transaction_id=txid)


def test_iccid_text_from_bcd_as_the_modem_prints_it():
    assert F.iccid_text(card_state.iccid_to_bytes(OP1)) == OP1
    assert F.iccid_text(bytes.fromhex("980001010000000010F7")) == OP1


def test_psmo_enable_with_rollback_flag_is_a_governed_change(isdr):
    req = _enable(OP2, 1)
    assert F.eim_enable(req) == {"change": TXID.hex(), "target": OP2, "rollback": True,
                                 "eim": "test-eim"}
    ok, detail = F.enable_outcome(isdr.es10(req))
    assert ok and detail.startswith("enableResult=0"), detail
    assert isdr.card.enabled_profile()["iccid"] == OP2


def test_psmo_enable_without_rollback_flag_is_not_governed():
    assert F.eim_enable(_enable(OP2, 1, rollback=False))["rollback"] is False


def test_other_es10b_commands_are_not_enables():
    assert F.eim_enable(es10b.profile_rollback(True)) is None
    assert F.eim_enable(es10b.get_euicc_data()) is None
    list_only = package.build_request(_pki.make().eim.key, "test-eim", EID, 1,
                                      ("psmoList", [("listProfileInfo", {})]),
                                      association_token=1)
    assert F.eim_enable(list_only) is None


def test_enable_of_the_profile_in_use_reads_as_refused(isdr):
    ok, detail = F.enable_outcome(isdr.es10(_enable(OP1, 1)))
    assert not ok and "enableResult=" in detail and "enableResult=0" not in detail


def test_replayed_package_reads_as_refused(isdr):
    isdr.es10(_enable(OP2, 5))
    ok, detail = F.enable_outcome(isdr.es10(_enable(OP2, 5)))
    assert not ok and "errorSigned" in detail, detail


def test_profile_rollback_bf58_returns_to_previous_and_keeps_a_result(isdr):
    isdr.es10(_enable(OP2, 1))
    ok, detail, epr, seq = F.rollback_outcome(isdr.es10(es10b.profile_rollback(True)))
    assert ok, detail
    assert isdr.card.enabled_profile()["iccid"] == OP1
    assert epr is not None and seq is not None
    assert es10b.parse_euicc_package_result(epr)["kind"] == "signed"
    # Nothing left to undo: refused, and the state machine counts a refused try.
    ok, detail, _, _ = F.rollback_outcome(isdr.es10(es10b.profile_rollback(True)))
    assert not ok and detail != "rollbackResult=0"


def test_unreadable_package_result_is_a_failed_enable():
    ok, detail = F.enable_outcome(b"\xbf\x51\x03\x80\x01\x00")
    assert not ok
    with pytest.raises(tlv.TlvError):
        F.eim_enable(b"\xbf\x51\x05\x30\x10")
