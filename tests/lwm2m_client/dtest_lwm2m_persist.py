# Persistence of /0, /1 and the registration location (atomic store from hal.storage), on MicroPython.
# mpy-heapsize: 256K

from lwm2m import model as M
from lwm2m.persist import MemoryStore, Persist
from objects import obj_security, obj_server
from scratch import scratch_dir


def _registry():
    reg = M.Registry()
    obj_security.create(reg)
    obj_server.create(reg)
    return reg


def _configured():
    reg = _registry()
    obj_security.add_account(reg, 0, "coap://bs:5783", bootstrap=True, identity=b"\x01\x02")
    obj_security.add_account(reg, 1, "coap://srv:5683", ssid=101, secret=b"\xff" * 16)
    obj_server.add_account(reg, 0, 101, lifetime=77, binding="UQ", store=True)
    return reg


def _roundtrip(store):
    src = _configured()
    Persist(store, src).save_objects()
    dst = _registry()
    assert Persist(store, dst).load_objects()
    for oid in (0, 1):
        assert dst.get_object(oid).instances == src.get_object(oid).instances, oid


def test_objects_roundtrip_memory_store():
    _roundtrip(MemoryStore())


def test_objects_roundtrip_atomic_file_store():
    from hal.storage import Store

    _roundtrip(Store(scratch_dir("lwm2m_persist")))


def test_nothing_stored_loads_nothing():
    assert not Persist(MemoryStore(), _registry()).load_objects()


def test_registration_location_and_expiry():
    p = Persist(MemoryStore(), _registry())
    p.save_registration(101, ["rd", "abc"], 1000)
    assert p.registration(101, 999) == ["rd", "abc"]
    assert p.registration(101, 1000) is None  # expired: register anew
    assert p.registration(7, 0) is None
    p.save_registration(101, None, 0)  # de-registered
    assert p.registration(101, 0) is None


def test_corrupt_registration_record_ignored():
    store = MemoryStore()
    store.put("reg", b"{not json")
    assert Persist(store, _registry()).registration(101, 0) is None
