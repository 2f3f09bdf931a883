# The management-context digest and the fact tracker, on MicroPython with the real data model.
# mpy-heapsize: 256K
from lwm2m.client import make_registry
from ops import context as CTX
from ops import facts as F


def _digest(reg, obs=("/4/0/2",), policy=None):
    return CTX.digest(CTX.snapshot(reg, list(obs), policy or {"proof_window_s": 60}))


def _registry():
    from objects import obj_security, obj_server

    reg = make_registry()
    obj_security.add_account(reg, 0, "coap://127.0.0.1:5683", ssid=101)
    obj_server.add_account(reg, 0, 101, lifetime=60)
    return reg


def test_context_digest_is_stable_for_the_same_context():
    a, b = _registry(), _registry()
    assert _digest(a) == _digest(b)
    assert len(_digest(a)) == 16


def test_context_digest_changes_when_server_account_changes():
    reg = _registry()
    before = _digest(reg)
    reg.set((1, 0, 1), 300)
    assert _digest(reg) != before
    snap_a = CTX.snapshot(_registry(), ["/4/0/2"], {})
    assert CTX.diff(snap_a, CTX.snapshot(reg, ["/4/0/2"], {})) == ["servers"]


def test_context_digest_changes_when_observations_are_lost():
    reg = _registry()
    assert _digest(reg, ("/4/0/2", "/3/0/13")) != _digest(reg, ())
    # order of the observation keys does not matter
    assert _digest(reg, ("/4/0/2", "/3/0/13")) == _digest(reg, ("/3/0/13", "/4/0/2"))


def test_context_digest_changes_with_notification_attributes():
    reg = _registry()
    assert _digest(reg, [("/4/0/2", (1000, 60000, None, None, None))]) != \
        _digest(reg, [("/4/0/2", (1000, 30000, None, None, None))])


def test_context_digest_changes_with_firmware_version_and_policy():
    reg = _registry()
    before = _digest(reg)
    reg.get_object(3).instances[0][3] = "0.2"
    assert _digest(reg) != before
    assert _digest(_registry(), policy={"proof_window_s": 30}) != _digest(_registry())


def test_canonical_form_types_values():
    assert CTX.canonical({"b": b"\x01", "a": [1, True, None, "x"]}, []) == \
        ["{", "s1:a", "[", "i1", "t", "n", "s1:x", "]", "s1:b", "b01", "}"]


def test_fact_tracker_registration_counts_only_after_this_attachment():
    t = F.FactTracker()
    assert t.lwm2m("lwm2m registered /rd/1") == []          # not attached yet
    assert t.attached("8900101000000000017") == [("attached", "8900101000000000017")]
    assert t.lwm2m("lwm2m send /4/0/2 -> 2.04") == []
    assert t.lwm2m("lwm2m updated lt=60") == [("registered", 1)]
    assert t.lwm2m("lwm2m updated lt=60") == []               # once per attachment
    assert t.sent(0x44) == [("telemetry", 1)]
    assert t.sent(0x44) == []


def test_fact_tracker_forgets_proof_of_a_lost_attachment():
    t = F.FactTracker()
    t.attached("8900101000000000017")
    t.lwm2m("lwm2m registered /rd/1")
    t.detached()
    assert not t.registered()
    assert t.sent(0x44) == []                                  # a Send from before the switch
    assert t.lwm2m("lwm2m updated lt=60") == []
    t.attached("8900102000000000025")
    assert t.sent(0x44) == []                                  # no registration yet
    assert t.lwm2m("lwm2m registered /rd/2") == [("registered", 2)]
    assert t.sent(0x84) == []                                  # 4.04 is no acknowledgement
    assert t.sent(0x44) == [("telemetry", 2)]
