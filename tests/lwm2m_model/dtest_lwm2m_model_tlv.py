# OMA TLV (content-format 11542), OMA-TS-LightweightM2M_Core-V1_1 §7.4.3, on MicroPython.
import binascii

from lwm2m import fmt_tlv, model
from lwm2m_model_fixture import DEVICE_RECORDS, device_tlv, make_registry, raises


def _hex(s):
    return binascii.unhexlify(s.replace(" ", ""))


def test_tlv_read_device_instance_matches_ts_7_4_3_example():
    reg, _ = make_registry()
    assert fmt_tlv.encode(DEVICE_RECORDS, (3, 0), reg.type_of) == device_tlv()


def test_tlv_read_device_object_wraps_one_instance_ts_example():
    # The same example read on /3: one Object Instance TLV, 8-bit id 0, 8-bit length 121.
    reg, _ = make_registry()
    data = fmt_tlv.encode(DEVICE_RECORDS, (3,), reg.type_of)
    assert data == _hex("08 00 79") + device_tlv()
    assert fmt_tlv.decode(data, (3,), reg.type_of) == DEVICE_RECORDS


def test_tlv_decode_device_instance_ts_example():
    reg, _ = make_registry()
    assert fmt_tlv.decode(device_tlv(), (3, 0), reg.type_of) == DEVICE_RECORDS


def test_tlv_multiple_resource_read_on_resource_path():
    reg, _ = make_registry()
    recs = [((3, 0, 6, 0), 1), ((3, 0, 6, 1), 5)]
    assert fmt_tlv.encode(recs, (3, 0, 6), reg.type_of) == _hex("86 06 41 00 01 41 01 05")
    assert fmt_tlv.decode(_hex("86 06 41 00 01 41 01 05"), (3, 0, 6), reg.type_of) == recs
    # Resource instances without the Multiple Resource wrapper are accepted on a resource path.
    assert fmt_tlv.decode(_hex("41 00 01 41 01 05"), (3, 0, 6), reg.type_of) == recs


def test_tlv_resource_instance_path():
    reg, _ = make_registry()
    assert fmt_tlv.encode([((3, 0, 6, 1), 5)], (3, 0, 6, 1), reg.type_of) == _hex("41 01 05")


def test_tlv_object_level_wraps_object_instances():
    reg, _ = make_registry()
    recs = [((1, 0, 0), 101), ((1, 0, 1), 300), ((1, 3, 0), 102)]
    got = fmt_tlv.encode(recs, (1,), reg.type_of)
    assert got == _hex("07 00 c1 00 65 c2 01 01 2c" "03 03 c1 00 66"), got
    assert fmt_tlv.decode(got, (1,), reg.type_of) == recs


def test_tlv_16bit_identifier_and_24bit_length():
    big = bytes(70000)
    out = fmt_tlv.encode([((5, 0, 300), big)], (5, 0), lambda p: model.T_OPAQUE)
    # 11 1 11 000: resource, 16-bit id, 24-bit length
    assert out[:6] == _hex("f8 01 2c 01 11 70")
    assert fmt_tlv.decode(out, (5, 0), lambda p: model.T_OPAQUE) == [((5, 0, 300), big)]


def test_tlv_8_and_16bit_lengths():
    t = lambda p: model.T_OPAQUE  # noqa: E731
    assert fmt_tlv.encode([((5, 0, 5), bytes(8))], (5, 0), t)[:3] == _hex("c8 05 08")
    assert fmt_tlv.encode([((5, 0, 5), bytes(256))], (5, 0), t)[:4] == _hex("d0 05 01 00")
    assert fmt_tlv.encode([((5, 0, 5), bytes(7))], (5, 0), t)[:2] == _hex("c7 05")


def test_tlv_integer_minimal_widths_signed_and_unsigned():
    v = fmt_tlv.value_bytes
    assert v(127) == b"\x7f" and v(128) == b"\x00\x80" and v(-128) == b"\x80"
    assert v(-129) == b"\xff\x7f" and v(65536) == b"\x00\x01\x00\x00"
    assert v(1 << 40) == b"\x00\x00\x01\x00\x00\x00\x00\x00"
    assert v(200, model.T_UINT) == b"\xc8"
    assert v(0xFFFFFFFFFFFFFFFF, model.T_UINT) == b"\xff" * 8
    assert fmt_tlv.value_from(b"\xc8", model.T_UINT, "x") == 200
    assert fmt_tlv.value_from(b"\xc8", model.T_INT, "x") == -56


def test_tlv_float_bool_objlnk_values():
    v = fmt_tlv.value_bytes
    assert v(1.5) == _hex("3f c0 00 00")
    assert v(1.1) == _hex("3f f1 99 99 99 99 99 9a")
    assert v(True) == b"\x01" and v((3, 0)) == _hex("00 03 00 00")
    assert fmt_tlv.value_from(_hex("3f c0 00 00"), model.T_FLOAT, "x") == 1.5
    assert fmt_tlv.value_from(_hex("00 03 00 01"), model.T_OBJLNK, "x") == (3, 1)


def test_tlv_malformed_is_bad_request():
    reg, _ = make_registry()
    for bad in ("c8 00 20 41", "c1", "e1 00", "c3 0d 01 02 03", "c0 09",
                "86 06 c1 00 01", "86 09 41 00 01", "41 00 01"):
        raises(model.BAD_REQUEST, fmt_tlv.decode, _hex(bad), (3, 0), reg.type_of)


def test_tlv_bool_value_other_than_0_1_rejected():
    raises(model.BAD_REQUEST, fmt_tlv.value_from, b"\x02", model.T_BOOL, "/1/0/6")


def test_tlv_create_payload_without_instance_gets_no_iid():
    reg, _ = make_registry()
    recs = fmt_tlv.decode(_hex("c1 00 66 c2 01 01 2c c1 06 00 c1 07 55"), (1,), reg.type_of)
    assert recs[0] == ((1, model.NO_IID, 0), 102)
    iid = reg.create(1, recs, bootstrap=True)
    assert iid == 1 and reg.get((1, 1, 1)) == 300
