# The codecs and the data model on an MCU-class target: this file also runs on the QEMU
# Cortex-M3 image (about 140 KB heap, single-precision floats, firmware frozen), so it is
# self-contained (no helper modules) and uses only values every float width represents exactly.
# mpy-targets: unix qemu
import binascii

from lwm2m import cbor, fmt_lwm2m_cbor, fmt_senml_cbor, fmt_senml_json, fmt_tlv, model


def _h(s):
    return binascii.unhexlify(s.replace(" ", ""))


def _raises(code, fn, *args):
    try:
        fn(*args)
    except model.Error as exc:
        assert exc.code == code, (exc.code, str(exc))
        return
    raise AssertionError("no Error")


_DEVICE_TLV = (
    "c800144f70656e204d6f62696c6520416c6c69616e6365"
    "c801164c69676874776569676874204d324d20436c69656e74"
    "c80209333435303030313233 c303312e30 8606410001410105 88070842000ed842011388"
    "870841007d42010384 c10964 c10a0f 830b410000 c40d5182428f c60e2b30323a3030 c11055")


class _FixedClock:
    # The bare QEMU image has no time module; the Device object only needs time()/set_time().
    def time(self):
        return 1367491215

    def set_time(self, unix_s):
        pass


def _registry():
    from objects import obj_connmon, obj_device, obj_security, obj_server

    reg = model.Registry()
    obj_security.create(reg)
    obj_server.create(reg)
    obj_device.create(reg, clock=_FixedClock(), manufacturer="Open Mobile Alliance",
                      model="Lightweight M2M Client", serial="345000123", firmware_version="1.0",
                      binding="U", utc_offset="+02:00")
    obj_connmon.create(reg)
    obj_server.add_account(reg, 0, 101, lifetime=300)
    reg.set((3, 0, 6), [1, 5])
    reg.set((3, 0, 7), [3800, 5000])
    reg.set((3, 0, 8), [125, 900])
    reg.set((3, 0, 9), 100)
    return reg


def _device_records(reg):
    # Memory free/total come from the heap: pin them to the TS example's value.
    return [((3, 0, 10), 15) if r[0] == (3, 0, 10) else r for r in reg.read((3, 0))
            if r[0] != (3, 0, 21)]


def test_mcu_tlv_device_read_is_the_ts_example():
    reg = _registry()
    recs = _device_records(reg)
    assert fmt_tlv.encode(recs, (3, 0), reg.type_of) == _h(_DEVICE_TLV)
    assert fmt_tlv.decode(_h(_DEVICE_TLV), (3, 0), reg.type_of) == recs


def test_mcu_senml_and_lwm2m_cbor_roundtrip_device_read():
    reg = _registry()
    recs = _device_records(reg)
    for codec in (fmt_senml_json, fmt_senml_cbor, fmt_lwm2m_cbor):
        data = codec.encode(recs, (3, 0), reg.type_of)
        assert codec.decode(data, (3, 0), reg.type_of) == recs, codec


def test_mcu_cbor_vectors_and_malformed_input():
    for value, enc in ((0, "00"), (1000000, "1a000f4240"), (-1000, "3903e7"), (1.5, "f93e00"),
                       (100000.0, "fa47c35000"), (-4.0, "f9c400"), ("IETF", "6449455446"),
                       ([1, [2, 3], [4, 5]], "8301820203820405"), ({1: 2, 3: 4}, "a201020304")):
        assert cbor.dumps(value) == _h(enc), value
        assert cbor.loads(_h(enc)) == value, enc
    for bad in ("", "18", "5f01ff", "ff", "a2010201", "9f", "62c3"):
        _raises(model.BAD_REQUEST, cbor.loads, _h(bad))


def test_mcu_transactional_write_and_security_guard():
    reg = _registry()
    before = dict(reg.get_object(1).instances[0])
    _raises(model.BAD_REQUEST, reg.write, (1, 0), [((1, 0, 1), 60), ((1, 0, 7), "X")])
    assert reg.get_object(1).instances[0] == before
    reg.write((1, 0), [((1, 0, 1), 60)])
    assert reg.get((1, 0, 1)) == 60
    _raises(model.UNAUTHORIZED, reg.read, (0,))


def test_mcu_tlv_decoder_survives_garbage():
    reg = _registry()
    seed = 12345
    for _ in range(200):
        n = seed % 24
        data = bytearray()
        for _ in range(n):
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
            data.append(seed >> 16 & 0xFF)
        try:
            fmt_tlv.decode(bytes(data), (3, 0), reg.type_of)
        except model.Error as exc:
            assert exc.code in (model.BAD_REQUEST, model.NOT_FOUND)
