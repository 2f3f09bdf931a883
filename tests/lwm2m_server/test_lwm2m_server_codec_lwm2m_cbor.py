"""LwM2M CBOR (content format 11544, Core 1.2 §7.4.6): nested maps keyed by path ids."""

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host_tools.lwm2m_server.codecs import ObjLnk, lwm2m_cbor


def test_lwm2m_cbor_nested_maps_exact_bytes():
    payload = lwm2m_cbor.encode({"/3/0/9": 80, "/3/0/14": "+01:00"})
    assert payload == bytes.fromhex("a1" "03" "a1" "00" "a2" "09" "1850" "0e" "662b30313a3030")
    assert lwm2m_cbor.decode(payload) == {"/3/0/9": 80, "/3/0/14": "+01:00"}


def test_lwm2m_cbor_array_keys_stand_for_several_levels():
    payload = cbor2.dumps({(3, 0): {9: 80, 6: {0: 1, 1: 5}}, (1, 0, 1): 300})
    assert lwm2m_cbor.decode(payload) == {"/3/0/9": 80, "/3/0/6/0": 1, "/3/0/6/1": 5, "/1/0/1": 300}


def test_lwm2m_cbor_objlnk_opaque_time_tag():
    payload = cbor2.dumps({1: {0: {10: "4:1"}}, 5: {0: {0: b"\x01\x02"}}, 3: {0: {13: cbor2.CBORTag(1, 1700000000)}}})
    assert lwm2m_cbor.decode(payload) == {"/1/0/10": ObjLnk(4, 1), "/5/0/0": b"\x01\x02", "/3/0/13": 1700000000}
    assert cbor2.loads(lwm2m_cbor.encode({"/1/0/10": ObjLnk(4, 1)})) == {1: {0: {10: "4:1"}}}


@pytest.mark.parametrize("doc,message", [
    ([1, 2], "root must be a map"),
    ({"3": 1}, "not a path id"),
    ({3: {0: {9: [1, 2]}}}, "array is not a resource value"),
    ({(3, 0, 1, 2, 3): 1}, "oid/iid/rid/riid"),
    ({3: {70000: 1}}, "0..65535"),
])
def test_lwm2m_cbor_malformed_raise(doc, message):
    with pytest.raises(ValueError, match=message):
        lwm2m_cbor.decode(cbor2.dumps(doc))


def test_lwm2m_cbor_value_and_subtree_on_one_path_refused():
    with pytest.raises(ValueError, match="already has a value"):
        lwm2m_cbor.encode({"/3/0/6": 1, "/3/0/6/0": 2})


_leaf = st.one_of(st.integers(-(2 ** 63), 2 ** 64 - 1), st.booleans(), st.text(max_size=20).filter(lambda t: ":" not in t),
                  st.binary(max_size=20), st.floats(allow_nan=False))
_ids = st.integers(0, 65535)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.tuples(st.sampled_from([3303, 9999, 10245]), _ids, _ids), _leaf, min_size=1, max_size=8))
def test_lwm2m_cbor_roundtrip(resources):
    values = {"/%d/%d/%d" % key: v for key, v in resources.items()}
    assert lwm2m_cbor.decode(lwm2m_cbor.encode(values)) == values


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=48))
def test_lwm2m_cbor_decoder_only_raises_valueerror(data):
    try:
        lwm2m_cbor.decode(data)
    except ValueError:
        pass
