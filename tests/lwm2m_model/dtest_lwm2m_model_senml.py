# SenML JSON (110), SenML CBOR (112), LwM2M CBOR (11544) codecs on MicroPython.
import binascii
import json

from lwm2m import cbor, fmt_lwm2m_cbor, fmt_senml_cbor, fmt_senml_json, model
from lwm2m_model_fixture import DEVICE_RECORDS, any_type, make_registry, raises


def _h(s):
    return binascii.unhexlify(s.replace(" ", ""))


def test_senml_json_read_instance_relative_names():
    reg, _ = make_registry()
    got = fmt_senml_json.encode(DEVICE_RECORDS[:5], (3, 0), reg.type_of)
    assert got == (b'[{"bn":"/3/0/","n":"0","vs":"Open Mobile Alliance"},'
                   b'{"n":"1","vs":"Lightweight M2M Client"},{"n":"2","vs":"345000123"},'
                   b'{"n":"3","vs":"1.0"},{"n":"6/0","v":1}]'), got


def test_senml_json_device_read_in_ts_7_4_4_style():
    # Core 1.1 §7.4.4 shows Read /3/0 as bn "/3/0/" once, then n "rid" or "rid/riid".
    got = fmt_senml_json.encode(DEVICE_RECORDS, (3, 0))
    assert got == (
        b'[{"bn":"/3/0/","n":"0","vs":"Open Mobile Alliance"},{"n":"1","vs":"Lightweight M2M Client"},'
        b'{"n":"2","vs":"345000123"},{"n":"3","vs":"1.0"},{"n":"6/0","v":1},{"n":"6/1","v":5},'
        b'{"n":"7/0","v":3800},{"n":"7/1","v":5000},{"n":"8/0","v":125},{"n":"8/1","v":900},'
        b'{"n":"9","v":100},{"n":"10","v":15},{"n":"11/0","v":0},{"n":"13","v":1367491215},'
        b'{"n":"14","vs":"+02:00"},{"n":"16","vs":"U"}]'), got
    reg, _ = make_registry()
    assert fmt_senml_json.decode(got, (3, 0), reg.type_of) == DEVICE_RECORDS


def test_senml_json_single_resource_bn_only():
    got = fmt_senml_json.encode([((3, 0, 9), 100)], (3, 0, 9))
    assert got == b'[{"bn":"/3/0/9","v":100}]'


def test_senml_json_value_kinds_and_base_time():
    recs = [((1, 0, 6), True, 1000), ((3, 0, 13), 1367491215, 1005), ((5, 0, 0), b"\xfb\xff", 1005),
            ((1, 0, 10), (11, 0), 1000), ((1, 0, 1), 2.5, 1000)]
    got = fmt_senml_json.encode(recs, ())
    assert json.loads(got) == [
        {"bn": "/1/0/", "bt": 1000, "n": "6", "vb": True},
        {"bn": "/3/0/", "t": 5, "n": "13", "v": 1367491215},
        {"bn": "/5/0/", "t": 5, "n": "0", "vd": "-_8"},
        {"bn": "/1/0/", "n": "10", "vlo": "11:0"}, {"n": "1", "v": 2.5}], got


def test_senml_json_decode_write_with_base_name_and_types():
    reg, _ = make_registry()
    data = b'[{"bn":"/1/0/","n":"1","v":60},{"n":"6","vb":true},{"n":"7","vs":"UQ"},' \
           b'{"n":"10","vlo":"11:2"}]'
    assert fmt_senml_json.decode(data, (1, 0), reg.type_of) == [
        ((1, 0, 1), 60), ((1, 0, 6), True), ((1, 0, 7), "UQ"), ((1, 0, 10), (11, 2))]


def test_senml_json_decode_vd_padded_and_unpadded():
    t = lambda p: model.T_OPAQUE  # noqa: E731
    for vd in ("AQI", "AQI=", "-_8", "+/8="):
        data = b'[{"bn":"/5/0/0","vd":"%s"}]' % vd.encode()
        assert fmt_senml_json.decode(data, (5, 0, 0), t)[0][1] in (b"\x01\x02", b"\xfb\xff")


def test_senml_json_rejects_malformed_and_mismatched():
    reg, _ = make_registry()
    for bad in (b"", b"{", b"{}", b"[1]", b'[{"n":5}]', b'[{"bn":"/1/0/","n":"1","v":"x"}]',
                b'[{"bn":"/1/0/","n":"1","vs":"60"}]', b'[{"bn":"/1/0/","n":"1","v":1.5}]',
                b'[{"bn":"/1/1/","n":"1","v":1}]', b'[{"bn":"/1/0/","n":"x","v":1}]',
                b'[{"bn":"/1/0/","n":"6","vb":1}]', b'[{"bn":"/1/0/","n":"1","v":1,"vs":"a"}]',
                b'[{"bn":"1/0/","n":"1","v":1}]', b'[{"bn":"/1/0/","n":"10","vlo":"11"}]'):
        raises(model.BAD_REQUEST, fmt_senml_json.decode, bad, (1, 0), reg.type_of)


def test_senml_json_composite_request_names_only():
    got = fmt_senml_json.decode(b'[{"n":"/3/0/9"},{"n":"/1/0"}]', (), any_type)
    assert got == [((3, 0, 9), None), ((1, 0), None)]


def test_senml_cbor_integer_labels():
    got = fmt_senml_cbor.encode([((3, 0, 9), 100), ((3, 0, 14), "+02:00")], (3, 0))
    # [{-2: "/3/0/", 0: "9", 2: 100}, {0: "14", 3: "+02:00"}]
    assert got == _h("82 a3 21 65 2f332f302f 00 61 39 02 18 64 a2 00 62 3134 03 66 2b30323a3030"), got


def test_senml_cbor_roundtrip_all_types():
    reg, _ = make_registry()
    recs = [((1, 0, 1), 300), ((1, 0, 6), False), ((1, 0, 7), "U"), ((1, 0, 10), (11, 1))]
    data = fmt_senml_cbor.encode(recs, (1, 0))
    assert fmt_senml_cbor.decode(data, (1, 0), reg.type_of) == recs
    vlo = cbor.loads(data)[3]
    assert vlo == {0: "10", "vlo": "11:1"}


def test_senml_cbor_rejects_malformed():
    reg, _ = make_registry()
    for bad in ("", "a0", "81 01", "81 a1 00 01", "81 a2 21 65 2f332f302f 00", "9f"):
        raises(model.BAD_REQUEST, fmt_senml_cbor.decode, _h(bad), (3, 0), reg.type_of)


def test_lwm2m_cbor_nested_map_with_array_keys():
    reg, _ = make_registry()
    recs = [((3, 0, 0), "OMA"), ((3, 0, 6, 0), 1), ((3, 0, 6, 1), 5), ((3, 0, 9), 100)]
    got = fmt_lwm2m_cbor.encode(recs, (3, 0))
    # {[3, 0]: {0: "OMA", 6: {0: 1, 1: 5}, 9: 100}}
    assert got == _h("a1 82 03 00 a3 00 63 4f4d41 06 a2 00 01 01 05 09 18 64"), got
    assert fmt_lwm2m_cbor.decode(got, (3, 0), reg.type_of) == recs


def test_lwm2m_cbor_single_value_collapses_to_one_key():
    got = fmt_lwm2m_cbor.encode([((3, 0, 9), 100)], (3, 0, 9))
    assert got == _h("a1 83 03 00 09 18 64")


def test_lwm2m_cbor_decode_plain_nested_and_objlnk():
    reg, _ = make_registry()
    data = cbor.dumps({1: {0: {1: 60, 10: "11:3"}}})
    assert fmt_lwm2m_cbor.decode(data, (1, 0), reg.type_of) == [((1, 0, 1), 60), ((1, 0, 10), (11, 3))]


def test_lwm2m_cbor_rejects_malformed():
    reg, _ = make_registry()
    for bad in ("", "80", "a1 01 01", "a1 61 61 01", "a1 83 01 00 01 61 61",
                "a1 84 01 01 00 01 02 03 05", "a1 82 01 01 a1 01 61 41"):
        raises(model.BAD_REQUEST, fmt_lwm2m_cbor.decode, _h(bad), (1, 0), reg.type_of)
