"""OMA-TLV codec (Core 1.1 §7.4.3): exact byte vectors, structure by request level, faults."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host_tools.lwm2m_server.codecs import ObjLnk, tlv
from lwm2m_server_vectors import DEVICE_TLV, DEVICE_VALUES


def test_tlv_device_object_instance_spec_example_decodes():
    assert tlv.decode(DEVICE_TLV, "/3/0") == DEVICE_VALUES


def test_tlv_device_object_instance_spec_example_encodes_byte_exact():
    assert tlv.encode(DEVICE_VALUES, "/3/0") == DEVICE_TLV


def test_tlv_object_level_wraps_instances():
    payload = tlv.encode({"/1/0/0": 101, "/1/1/0": 102}, "/1")
    # instance bodies shorter than 8 bytes carry their length in the type byte
    assert payload == bytes.fromhex("0300c10065" "0301c10066")
    assert tlv.decode(payload, "/1") == {"/1/0/0": 101, "/1/1/0": 102}


@pytest.mark.parametrize("value,data", [
    (0, "00"), (-1, "ff"), (127, "7f"), (128, "0080"), (-129, "ff7f"), (32768, "00008000"),
    (2 ** 31, "0000000080000000"), (-(2 ** 63), "8000000000000000")])
def test_tlv_integer_uses_smallest_of_1_2_4_8_bytes(value, data):
    assert tlv.encode_value(value).hex() == data
    assert tlv.decode_value(bytes.fromhex(data), "i") == value


def test_tlv_float_bool_objlnk_opaque_values():
    assert tlv.encode_value(1.5) == bytes.fromhex("3ff8000000000000")
    assert tlv.decode_value(bytes.fromhex("3fc00000"), "f") == 1.5
    assert tlv.encode_value(True) == b"\x01" and tlv.decode_value(b"\x00", "b") is False
    assert tlv.encode_value(ObjLnk(3, 0xFFFF)) == bytes.fromhex("0003ffff")
    assert tlv.decode_value(bytes.fromhex("00030001"), "l") == ObjLnk(3, 1)
    assert tlv.decode_value(b"\xfe\xff", "u") == 65279


def test_tlv_16bit_identifier_and_8_16_24_bit_lengths():
    assert tlv.encode({"/3303/0/5700": "a" * 7}, "/3303/0/5700")[:3] == bytes.fromhex("e71644")
    assert tlv.encode({"/3/0/0": "a" * 8}, "/3/0/0")[:3] == bytes.fromhex("c80008")
    assert tlv.encode({"/3/0/0": "a" * 256}, "/3/0/0")[:4] == bytes.fromhex("d0000100")
    big = tlv.encode({"/5/0/0": b"\x00" * 70000}, "/5/0/0")
    assert big[:5] == bytes.fromhex("d800011170")
    assert tlv.decode(big, "/5/0/0") == {"/5/0/0": b"\x00" * 70000}


def test_tlv_resource_instance_level_read():
    # a read of /3/0/6 may answer with bare resource instances, or the multiple resource
    assert tlv.decode(bytes.fromhex("410001410105"), "/3/0/6") == {"/3/0/6/0": 1, "/3/0/6/1": 5}
    assert tlv.decode(bytes.fromhex("860641000141 0105".replace(" ", "")), "/3/0/6") == {
        "/3/0/6/0": 1, "/3/0/6/1": 5}
    assert tlv.decode(bytes.fromhex("410105"), "/3/0/6/1") == {"/3/0/6/1": 5}
    assert tlv.encode({"/3/0/6/1": 5}, "/3/0/6/1") == bytes.fromhex("410105")


def test_tlv_unknown_resource_stays_bytes_and_types_override():
    assert tlv.decode(bytes.fromhex("c1 05 2a".replace(" ", "")), "/9999/0") == {"/9999/0/5": b"*"}
    assert tlv.decode(bytes.fromhex("c1052a"), "/9999/0", types={(9999, 5): "i"}) == {"/9999/0/5": 42}
    assert tlv.decode(bytes.fromhex("c1052a"), "/9999/0", types={"/9999/5": "i"}) == {"/9999/0/5": 42}


@pytest.mark.parametrize("payload,base,message", [
    ("c8", "/3/0", "runs past the end"),
    ("c80014414141", "/3/0", "length 20 runs past"),
    ("c10602", "/1/0", "boolean"),
    ("410001", "/3/0", "unexpected resource instance"),
    ("080003c10065", "/1/0", "unexpected object instance"),
    ("c103ff", "/3/0", "/3/0/3: 'utf-8'"),
    ("c30d000000", "/3/0", "integer of 3 bytes"),
])
def test_tlv_malformed_payloads_raise_with_context(payload, base, message):
    with pytest.raises(ValueError, match=message):
        tlv.decode(bytes.fromhex(payload), base)


_values = st.one_of(st.integers(-(2 ** 63), 2 ** 63 - 1), st.booleans(), st.text(max_size=300),
                    st.binary(max_size=300), st.floats(allow_nan=False),
                    st.builds(ObjLnk, st.integers(0, 65535), st.integers(0, 65535)))
_ids = st.integers(0, 65535)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_ids, st.one_of(_values, st.dictionaries(_ids, _values, min_size=1, max_size=4)),
                       min_size=1, max_size=8), _ids)
def test_tlv_roundtrip_any_instance_raw_bytes(resources, oid):
    values = {}
    for rid, value in resources.items():
        if isinstance(value, dict):  # a multiple resource
            for riid, item in value.items():
                values["/%d/0/%d/%d" % (oid, rid, riid)] = item
        else:
            values["/%d/0/%d" % (oid, rid)] = value
    raw = tlv.decode(tlv.encode(values, "/%d/0" % oid), "/%d/0" % oid, typed=False)
    assert raw == {p: tlv.encode_value(v) for p, v in values.items()}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.sampled_from(["/3", "/3/0", "/3/0/6", "/3/0/6/1"]))
def test_tlv_decoder_never_fails_other_than_valueerror(data, base):
    try:
        tlv.decode(data, base)
    except ValueError:
        pass
