# Network-entry change state machine (firmware/ops/entry_change.py) on MicroPython and on the
# Cortex-M3 image: issue -> acknowledge -> prove -> commit, or roll back to the last known good.
# mpy-targets: unix qemu
import json

from ops.entry_change import EntryChange, EntryChangeError


def _kinds(actions):
    return [a[0] for a in actions]


def _steps(actions):
    return [a[1]["step"] for a in actions if a[0] == "audit"]


def _switch_started():
    ec = EntryChange(proof_window_s=100, enable_timeout_s=10)
    ec.adopt_current("8901A", 0)
    actions = ec.request("c1", "8902B", "ctx1", 1)
    assert _kinds(actions) == ["persist", "audit", "enable"], actions
    assert actions[-1] == ("enable", "8902B")
    return ec


def test_switch_committed_when_all_proof_arrives():
    ec = _switch_started()
    assert _steps(ec.enable_result(True, "ok", 2)) == ["acknowledged"]
    ec.fact("attached", "8902B", 3)
    ec.fact("registered", True, 4)
    ec.fact("telemetry", True, 5)
    actions = ec.fact("context", "ctx1", 6)
    assert actions[-1] == ("done", "committed"), actions
    assert ec.last_good == "8902B" and ec.state == "idle"


def test_persist_is_always_the_first_action():
    ec = _switch_started()
    for actions in (ec.enable_result(True, "ok", 2), ec.tick(500), ec.rollback_result(True, "ok", 501)):
        assert actions[0][0] == "persist", actions


def test_proof_timeout_rolls_back_to_last_known_good():
    ec = _switch_started()
    ec.enable_result(True, "ok", 2)
    ec.fact("attached", "8902B", 3)
    assert ec.tick(50) == []
    actions = ec.tick(102)
    assert _steps(actions) == ["proof_timeout", "rollback_issued"], actions
    assert actions[-1] == ("rollback", "8901A")
    assert _steps(ec.rollback_result(True, "ok", 103)) == ["rollback_acknowledged"]
    ec.fact("attached", "8901A", 104)
    actions = ec.fact("registered", True, 105)
    assert actions[-1] == ("done", "rolled_back")
    assert ec.last_good == "8901A"


def test_context_lost_rolls_back_without_waiting_for_deadline():
    ec = _switch_started()
    ec.enable_result(True, "ok", 2)
    actions = ec.fact("context", "other", 3)
    assert _steps(actions) == ["context_lost", "rollback_issued"]
    assert ec.state == "rolling_back"


def test_attach_on_wrong_profile_is_not_proof():
    ec = _switch_started()
    ec.enable_result(True, "ok", 2)
    actions = ec.fact("attached", "8901A", 3)
    assert _steps(actions) == ["attached_elsewhere"]
    assert "attached" not in ec.record["change"]["facts"]


def test_enable_refused_keeps_old_profile():
    ec = _switch_started()
    actions = ec.enable_result(False, "profileNotInDisabledState", 2)
    assert actions[-1] == ("done", "rejected")
    assert ec.last_good == "8901A" and ec.state == "idle"


def test_rollback_retried_then_failed():
    ec = _switch_started()
    ec.enable_result(True, "ok", 2)
    ec.tick(200)
    assert ec.record["change"]["tries"] == 1
    ec.rollback_result(False, "undefinedError", 201)
    ec.tick(300)
    actions = ec.rollback_result(False, "undefinedError", 301)
    assert actions[-1] == ("done", "failed"), actions


def test_second_request_while_busy_names_state():
    ec = _switch_started()
    try:
        ec.request("c2", "8903C", "ctx", 2)
    except EntryChangeError as exc:
        assert exc.field == "state"
    else:
        raise AssertionError("accepted a second change")


def test_reset_while_enabling_reissues_enable():
    ec = _switch_started()
    stored = json.dumps(ec.record)
    again = EntryChange(json.loads(stored), proof_window_s=100, enable_timeout_s=10)
    actions = again.resume(5)
    assert actions[-1] == ("enable", "8902B")


def test_reset_while_proving_discards_stale_facts_but_keeps_eim_ack():
    ec = EntryChange(proof_window_s=100, enable_timeout_s=10)
    ec.adopt_current("8901A", 0)
    ec.request("c1", "8902B", "ctx1", 1, require=("attached", "registered", "eim_ack"))
    ec.enable_result(True, "ok", 2)
    ec.fact("attached", "8902B", 3)
    ec.fact("eim_ack", True, 3)
    again = EntryChange(json.loads(json.dumps(ec.record)), proof_window_s=100)
    again.resume(4)
    assert again.state == "proving" and again.record["change"]["facts"] == ["eim_ack"]
    again.fact("attached", "8902B", 5)
    assert again.fact("registered", True, 6)[-1] == ("done", "committed")


def test_audit_ring_is_bounded():
    ec = EntryChange()
    for i in range(40):
        ec.adopt_current("89%02d" % i, i)
    assert len(ec.record["audit"]) == 16
    assert ec.record["audit"][-1]["iccid"] == "8939"
