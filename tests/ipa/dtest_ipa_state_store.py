# IPAd state persisted through hal.storage.Store (the device's atomic record store) on
# MicroPython, in the default heap of the harness.
from ipa.state import IpaState
from scratch import scratch_dir

EPR = b"\xbf\x51\x03\xa2\x01\x00"


def test_state_through_hal_storage_store():
    from hal.storage import Store
    d = scratch_dir("ipa_store")
    s = Store(d)
    for k in list(s.keys()):
        s.delete(k)
    st = IpaState(store=s)
    st.add_pending("epr", EPR, 9)
    st.note_counter("eim1", 5)
    again = IpaState(store=Store(d))
    assert [p["seq"] for p in again.pending()] == [9] and again["counters"] == {"eim1": 5}
    again.drop_pending(seqs=[9])
    assert IpaState(store=Store(d)).pending() == []
    for k in list(s.keys()):
        s.delete(k)
