# Notification attributes pmin/pmax/gt/lt/st/epmin/epmax (OMA-TS-LightweightM2M_Core-V1_1 §5.1.2)
# evaluated with a controllable clock, on MicroPython.
# mpy-heapsize: 128K
from lwm2m.observe import NotificationStore, ObserveEngine, ObserveLimit

P = (3303, 0, 5700)


class World:
    def __init__(self, value=20):
        self.values = {P: value}

    def read(self, path):
        return self.values.get(path)


def _engine(attrs, value=20):
    w = World(value)
    e = ObserveEngine(w.read)
    e.add("k", P, attrs, value, 0)
    return e, w


def _set(e, w, v, now):
    w.values[P] = v
    e.changed(P, now)


def _notify_all(e, w, now):
    keys = e.due(now)
    for k in keys:
        e.notified(k, w.read(e.get(k).path), now)
    return keys


def test_any_change_notifies_without_attributes():
    e, w = _engine({})
    assert e.due(10) == []
    _set(e, w, 21, 10)
    assert _notify_all(e, w, 10) == ["k"]
    _set(e, w, 21, 20)  # same value again: not a change
    assert e.due(20) == []


def test_pmin_holds_back_changes():
    e, w = _engine({"pmin": 10})
    _set(e, w, 25, 1000)
    assert e.due(1000) == []
    assert e.next_time(1000) == 10000
    assert _notify_all(e, w, 10000) == ["k"]


def test_pmax_notifies_without_change():
    e, w = _engine({"pmax": 5})
    assert e.next_time(0) == 5000
    assert e.due(4999) == []
    assert _notify_all(e, w, 5000) == ["k"]
    assert e.next_time(5000) == 10000


def test_pmax_lower_than_pmin_is_ignored():
    e, w = _engine({"pmin": 10, "pmax": 5})
    assert e.next_time(0) is None
    assert e.due(60000) == []


def test_gt_crossing_both_directions():
    e, w = _engine({"gt": 30})
    _set(e, w, 29, 1)
    assert e.due(1) == []  # below the threshold, not crossed
    _set(e, w, 31, 2)
    assert _notify_all(e, w, 2) == ["k"]  # crossed upward
    _set(e, w, 35, 3)
    assert e.due(3) == []  # still above
    _set(e, w, 30, 4)
    assert _notify_all(e, w, 4) == ["k"]  # crossed downward (30 is not > 30)


def test_lt_crossing():
    e, w = _engine({"lt": 10})
    _set(e, w, 11, 1)
    assert e.due(1) == []
    _set(e, w, 9.5, 2)
    assert _notify_all(e, w, 2) == ["k"]


def test_step_measured_from_last_notified_value():
    e, w = _engine({"st": 5})
    _set(e, w, 23, 1)
    assert e.due(1) == []
    _set(e, w, 24.9, 2)
    assert e.due(2) == []  # 4.9 from the notified 20
    _set(e, w, 25, 3)
    assert _notify_all(e, w, 3) == ["k"]
    _set(e, w, 21, 4)
    assert e.due(4) == []  # 4 from the notified 25
    _set(e, w, 19, 5)
    assert _notify_all(e, w, 5) == ["k"]


def test_crossing_during_pmin_is_sent_when_pmin_ends():
    e, w = _engine({"gt": 30, "pmin": 2})
    _set(e, w, 40, 500)
    assert e.due(500) == []
    assert _notify_all(e, w, 2000) == ["k"]


def test_epmin_defers_evaluation():
    e, w = _engine({"epmin": 3})
    _set(e, w, 22, 1000)
    assert e.due(1000) == []
    assert e.next_time(1000) == 3000
    assert _notify_all(e, w, 3000) == ["k"]


def test_epmax_samples_without_change_event():
    e, w = _engine({"epmax": 4})
    w.values[P] = 50  # changed without a change event (a sensor nobody polls)
    assert e.due(3999) == []
    assert _notify_all(e, w, 4000) == ["k"]


def test_epmax_not_greater_than_epmin_ignored():
    e, w = _engine({"epmin": 5, "epmax": 5})
    assert e.next_time(0) is None


def test_instance_observation_any_change_inside():
    w = World()
    e = ObserveEngine(w.read)
    e.add("inst", (3303, 0), {"gt": 100}, None, 0)
    e.changed((3303, 0, 5701), 10)
    assert e.due(10) == ["inst"]
    e.changed((3304, 0, 1), 20)
    e.notified("inst", None, 10)
    assert e.due(20) == []


def test_write_attributes_reresolves_observation():
    e, w = _engine({})
    e.set_attrs((3303, 0), lambda o: {"pmax": 2}, 0)
    assert e.next_time(0) == 2000


def test_observation_limit():
    w = World()
    e = ObserveEngine(w.read, max_observations=2)
    e.add(1, P, {}, 0, 0)
    e.add(2, P, {}, 0, 0)
    e.add(2, P, {}, 0, 0)  # re-register replaces, no new slot
    try:
        e.add(3, P, {}, 0, 0)
    except ObserveLimit as exc:
        assert exc.count == 2
    else:
        raise AssertionError("limit not enforced")


def test_notification_store_bounded_fifo():
    s = NotificationStore(3)
    for i in range(5):
        s.put("k", 112, bytes([i]))
    assert len(s) == 3 and s.dropped == 2
    assert [p for _, _, p in s.drain()] == [b"\x02", b"\x03", b"\x04"]
    assert len(s) == 0
