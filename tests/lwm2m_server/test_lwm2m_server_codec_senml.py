"""SenML JSON (110) and SenML CBOR (112) as LwM2M 1.1 uses them (Core 1.1 §7.4.4, §7.4.5)."""

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host_tools.lwm2m_server.codecs import ObjLnk, senml
from lwm2m_server_vectors import DEVICE_VALUES


def test_senml_json_device_instance_uses_base_name():
    payload = senml.encode(DEVICE_VALUES, "/3/0")
    assert payload.startswith(b'[{"bn":"/3/0/","n":"0","vs":"Open Mobile Alliance"},'
                              b'{"n":"1","vs":"Lightweight M2M Client"},')
    assert b'{"n":"6/1","v":5}' in payload and b'{"n":"13","v":1367491215}' in payload
    assert senml.decode(payload) == DEVICE_VALUES


def test_senml_cbor_exact_bytes_with_integer_labels():
    assert senml.encode({"/3/0/0": "ACME"}, "/3/0", cbor=True) == bytes.fromhex(
        "81a3" "2165" "2f332f302f" "0061" "30" "0364" "41434d45")
    assert senml.encode({"/3/0/9": 80}, "/", cbor=True) == bytes.fromhex("81a2" "0066" "2f332f302f39" "0218" "50")


def test_senml_base_name_base_time_and_base_value():
    pack = [{"bn": "/3303/0/", "bt": 1000, "n": "5700", "v": 20.5, "t": 5},
            {"n": "5700", "v": 21.0, "t": 10}, {"bn": "/3/0/", "n": "9", "bv": 10, "v": 5}]
    recs = senml.records(cbor2.dumps([{senml._CBOR_KEYS[k]: v for k, v in r.items()} for r in pack]), cbor=True)
    assert recs == [("/3303/0/5700", 20.5, 1005), ("/3303/0/5700", 21.0, 1010), ("/3/0/9", 15, 1000)]


def test_senml_opaque_objlnk_boolean_fields():
    payload = b'[{"n":"/5/0/0","vd":"AAEC_w"},{"n":"/1/0/10","vlo":"4:1"},{"n":"/1/0/6","vb":false}]'
    assert senml.decode(payload) == {"/5/0/0": b"\x00\x01\x02\xff", "/1/0/10": ObjLnk(4, 1), "/1/0/6": False}
    assert senml.encode({"/5/0/0": b"\x00\x01\x02\xff"}) == b'[{"n":"/5/0/0","vd":"AAEC_w"}]'
    assert cbor2.loads(senml.encode({"/5/0/0": b"\xff"}, cbor=True)) == [{0: "/5/0/0", 8: b"\xff"}]


def test_senml_integer_resource_from_float_text_and_objlnk_by_schema():
    assert senml.decode(b'[{"n":"/3/0/9","v":80.0}]') == {"/3/0/9": 80}
    assert isinstance(senml.decode(b'[{"n":"/6/0/0","v":52}]')["/6/0/0"], float)


def test_senml_composite_request_body_is_names_only():
    assert senml.encode_paths(["/3/0/0", "/1/0"]) == b'[{"n":"/3/0/0"},{"n":"/1/0"}]'
    assert senml.records(b'[{"n":"/3/0/0"}]') == [("/3/0/0", None, None)]


@pytest.mark.parametrize("payload,message", [
    (b'{"n":"/3/0/0"}', "array of maps"),
    (b"[1]", "array of maps"),
    (b'[{"n":"/3/0/0","v":1,"vs":"x"}]', "more than one value"),
    (b'[{"n":"3/0/0","v":1}]', "must start with"),
    (b'[{"n":"/3/x/0","v":1}]', "non-numeric"),
    (b'[{"n":"/3/0/0","v":"1"}]', "not a number"),
    (b'[{"n":"/3/0/0","vb":1}]', "not a boolean"),
    (b'[{"n":"/1/0/10","vlo":"41"}]', "oid:iid"),
    (b"[{", "not SenML JSON"),
    (b'[{"bn":5,"v":1}]', "not text"),
    (b'[{"n":"/3/0/0","t":"x","v":1}]', "t='x' is not a number"),
    (b'[{"n":"/5/0/0","vd":"!!"}]', "vd"),
    (b'[{"n":"/5/0/0","vd":7}]', "base64url"),
    (b'[{"n":"/1/0/10","vlo":"a:b"}]', "oid:iid"),
])
def test_senml_json_malformed_raise_with_field(payload, message):
    with pytest.raises(ValueError, match=message):
        senml.decode(payload)


_leaf = st.one_of(st.integers(-(2 ** 53), 2 ** 53), st.booleans(), st.text(max_size=40),
                  st.binary(max_size=40), st.floats(allow_nan=False, allow_infinity=False),
                  st.builds(ObjLnk, st.integers(0, 65535), st.integers(0, 65535)))
_path = st.lists(st.integers(0, 65535), min_size=3, max_size=4).map(lambda ids: "/" + "/".join(map(str, ids)))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_path.filter(lambda p: not p.startswith(("/3/", "/1/", "/0/", "/4/", "/5/", "/6/"))),
                       _leaf, min_size=1, max_size=6), st.booleans())
def test_senml_roundtrip_json_and_cbor(values, cbor):
    decoded = senml.decode(senml.encode(values, "/", cbor=cbor), cbor=cbor)
    assert decoded == values
    assert all(type(decoded[p]) is type(v) for p, v in values.items())


_cbor_any = st.recursive(st.one_of(st.integers(-3, 8), st.text(max_size=8), st.binary(max_size=4),
                                    st.floats(), st.booleans(), st.none()),
                          lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                  st.dictionaries(st.one_of(st.integers(-6, 8), st.just("vlo")),
                                                                  inner, max_size=4)),
                          max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=64), _cbor_any.map(cbor2.dumps)))
def test_senml_cbor_decoder_only_raises_valueerror(data):
    try:
        senml.decode(data, cbor=True)
    except ValueError:
        pass
