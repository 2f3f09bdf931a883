"""Properties of the entry-change state machine over arbitrary event sequences (hypothesis),
including a reset (persist -> reload -> resume) between any two events."""

import json

from hypothesis import given, settings, strategies as st

from ops.entry_change import EntryChange, EntryChangeError, IDLE

ICCIDS = ["8901", "8902", "8903"]
events = st.lists(
    st.one_of(
        st.tuples(st.just("request"), st.sampled_from(ICCIDS)),
        st.tuples(st.just("enable_result"), st.booleans()),
        st.tuples(st.just("rollback_result"), st.booleans()),
        st.tuples(st.just("fact"), st.sampled_from(["attached", "registered", "telemetry", "context"]),
                  st.sampled_from(ICCIDS + ["ctx", "bad", True])),
        st.tuples(st.just("tick"), st.integers(0, 400)),
        st.tuples(st.just("reset"),),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(events)
def test_invariants_hold_for_any_event_sequence(seq):
    ec = EntryChange(proof_window_s=100, enable_timeout_s=10)
    ec.adopt_current("8901", 0)
    now = 1
    committed_targets = {"8901"}
    for ev in seq:
        now += 1
        before_good = ec.last_good
        try:
            if ev[0] == "request":
                actions = ec.request("c%d" % now, ev[1], "ctx", now)
            elif ev[0] == "enable_result":
                actions = ec.enable_result(ev[1], "r", now)
            elif ev[0] == "rollback_result":
                actions = ec.rollback_result(ev[1], "r", now)
            elif ev[0] == "fact":
                actions = ec.fact(ev[1], ev[2], now)
            elif ev[0] == "tick":
                now += ev[1]
                actions = ec.tick(now)
            else:
                ec = EntryChange(json.loads(json.dumps(ec.record)), proof_window_s=100, enable_timeout_s=10)
                actions = ec.resume(now)
        except EntryChangeError as exc:
            assert exc.field == "state" and ec.busy()
            continue
        if actions:
            assert actions[0] == ("persist", ec.record)
            assert sum(1 for a in actions if a[0] == "persist") == 1
        outcomes = [a[1] for a in actions if a[0] == "done"]
        if ec.last_good != before_good:
            # The last known good only moves on a proven switch.
            assert outcomes == ["committed"], actions
            committed_targets.add(ec.last_good)
        assert (ec.state == IDLE) == (ec.record["change"] is None)
        assert ec.last_good in committed_targets
        assert len(ec.record["audit"]) <= 16
