# Shared by the lwm2m_model dtests (MicroPython) and CPython tests: the Device object instance
# of the OMA-TS-LightweightM2M_Core-V1_1 §7.4.3 TLV example, as a registry with objects 0/1/3/4.
from lwm2m import model
from objects import obj_connmon, obj_device, obj_security, obj_server
from hal.clock import FakeClock

# The §7.4.3.2 example: Read /3/0 in TLV (resources 0..16 of the Device object).
DEVICE_TLV_HEX = (
    "c800144f70656e204d6f62696c6520416c6c69616e6365"
    "c801164c69676874776569676874204d324d20436c69656e74"
    "c80209333435303030313233"
    "c303312e30"
    "86064100014101 05"
    "88 07 08 42 00 0e d8 42 01 13 88"
    "87 08 41 00 7d 42 01 03 84"
    "c1 09 64"
    "c1 0a 0f"
    "83 0b 41 00 00"
    "c4 0d 51 82 42 8f"
    "c6 0e 2b 30 32 3a 30 30"
    "c1 10 55"
)


def device_tlv():
    import binascii

    return binascii.unhexlify(DEVICE_TLV_HEX.replace(" ", ""))


# Records of the same example, in path order.
DEVICE_RECORDS = [
    ((3, 0, 0), "Open Mobile Alliance"),
    ((3, 0, 1), "Lightweight M2M Client"),
    ((3, 0, 2), "345000123"),
    ((3, 0, 3), "1.0"),
    ((3, 0, 6, 0), 1),
    ((3, 0, 6, 1), 5),
    ((3, 0, 7, 0), 3800),
    ((3, 0, 7, 1), 5000),
    ((3, 0, 8, 0), 125),
    ((3, 0, 8, 1), 900),
    ((3, 0, 9), 100),
    ((3, 0, 10), 15),
    ((3, 0, 11, 0), 0),
    ((3, 0, 13), 1367491215),
    ((3, 0, 14), "+02:00"),
    ((3, 0, 16), "U"),
]


def make_registry(unix=1367491215):
    reg = model.Registry()
    obj_security.create(reg)
    obj_server.create(reg)
    clock = FakeClock(unix=unix)
    obj_device.create(reg, clock=clock, manufacturer="Open Mobile Alliance",
                      model="Lightweight M2M Client", serial="345000123",
                      firmware_version="1.0", binding="U")
    obj_connmon.create(reg, ip_addresses=["192.168.0.100"])
    obj_security.add_account(reg, 0, "coap://bs.example", bootstrap=True)
    obj_security.add_account(reg, 1, "coap://lwm2m.example", ssid=101)
    obj_server.add_account(reg, 0, 101, lifetime=300)
    return reg, clock


def any_type(path):
    """A type_of that never fails: the type follows from the rid, so fuzzers reach every path."""
    return path[2] % 9 if len(path) > 2 else model.T_OPAQUE


def raises(code, fn, *args, **kw):
    """Call fn and check it fails with model.Error carrying `code`; returns the error."""
    try:
        fn(*args, **kw)
    except model.Error as exc:
        assert exc.code == code, "code %d.%02d, expected %d.%02d: %s" % (
            exc.code >> 5, exc.code & 31, code >> 5, code & 31, exc)
        return exc
    raise AssertionError("no Error raised")
