"""RFC 7252 §3 codec: exact byte vectors (shared with dtest_coap_codec.py) and hypothesis
properties (roundtrip; arbitrary bytes raise nothing but DecodeError)."""

import binascii

import pytest
from hypothesis import given, settings, strategies as st

from coap import numbers as N
from coap import options as O
from coap.message import DecodeError, Message, code_str, unknown_critical
from dtest_coap_codec import BAD, VECTORS


@pytest.mark.parametrize("vec", VECTORS, ids=[v[0] for v in VECTORS])
def test_codec_vector_encode_decode(vec):
    name, hx, mtype, code, mid, token, opts, payload = vec
    raw = binascii.unhexlify(hx)
    m = Message(mtype, code, mid, token, list(opts), payload)
    assert m.encode() == raw
    d = Message.decode(raw)
    assert (d.mtype, d.code, d.mid, d.token, d.options, d.payload) == (mtype, code, mid, token, opts, payload)


@pytest.mark.parametrize("vec", BAD, ids=[v[0] for v in BAD])
def test_codec_malformed_rejected_with_field(vec):
    name, hx, field, hint = vec
    with pytest.raises(DecodeError) as ei:
        Message.decode(binascii.unhexlify(hx))
    assert ei.value.field.startswith(field)
    assert ei.value.bad_code_hint == hint


def test_options_sorted_stably_on_encode():
    m = Message(N.CON, N.GET, 1, b"", [(11, "a"), (15, "q=1"), (11, "b"), (3, "h"), (15, "q=2")])
    d = Message.decode(m.encode())
    assert d.options == [(3, "h"), (11, "a"), (11, "b"), (15, "q=1"), (15, "q=2")]


def test_uri_path_helpers():
    m = Message().set_uri_path("/3/0/1")
    assert m.uri_path() == ["3", "0", "1"]
    m.add_option(N.URI_QUERY, "ep=x").add_option(N.URI_QUERY, "lt=60")
    assert m.uri_query() == ["ep=x", "lt=60"]
    assert m.opt(N.CONTENT_FORMAT, 42) == 42


def test_code_str_dotted():
    assert code_str(N.CONTENT) == "2.05"
    assert code_str(N.BAD_OPTION) == "4.02"
    assert code_str(N.PROXYING_NOT_SUPPORTED) == "5.05"


def test_block_value_codec():
    assert O.block_encode(0, True, 6) == 0x0E
    assert O.block_decode(0x16) == (1, False, 6)
    v = O.block_encode(0xFFFFF, True, 0)
    assert O.block_decode(v) == (0xFFFFF, True, 0)
    assert O.szx_to_size(0) == 16 and O.szx_to_size(6) == 1024
    assert O.size_to_szx(1024) == 6 and O.size_to_szx(100) == 2 and O.size_to_szx(5) == 0
    with pytest.raises(ValueError):
        O.block_encode(0, False, 7)


def test_unknown_critical_option_detected():
    m = Message.decode(Message(N.CON, N.GET, 1, b"", [(11, "x"), (2049, b"z")]).encode())
    assert unknown_critical(m) == 2049
    assert unknown_critical(Message.decode(Message(options=[(2048, b"z")]).encode())) is None


def test_bad_elective_option_value_ignored():
    # Max-Age (elective) with 5 bytes is out of range: ignored (RFC 7252 §5.4.3).
    raw = binascii.unhexlify("40010001" "b161" "350102030405")
    assert Message.decode(raw).options == [(11, "a")]


_opt_value = st.one_of(
    st.tuples(st.sampled_from([6, 7, 12, 14, 17, 23, 27, 28, 60]), st.integers(0, 0xFFFF)),
    st.tuples(st.sampled_from([3, 8, 11, 15, 20]), st.text(min_size=1, max_size=40)),
    st.tuples(st.sampled_from([1, 4, 9]), st.binary(min_size=1, max_size=8)),
    st.tuples(st.integers(64, 65000).filter(lambda n: n not in (258,)), st.binary(max_size=300)),
)


@settings(max_examples=300, deadline=None)
@given(mtype=st.integers(0, 3), code=st.integers(1, 255), mid=st.integers(0, 0xFFFF),
       token=st.binary(max_size=8), opts=st.lists(_opt_value, max_size=8),
       payload=st.binary(max_size=600))
def test_codec_roundtrip_property(mtype, code, mid, token, opts, payload):
    m = Message(mtype, code, mid, token, list(opts), payload)
    raw = m.encode()
    assert len(raw) == m.encoded_size()
    d = Message.decode(raw)
    assert (d.mtype, d.code, d.mid, d.token, d.payload) == (mtype, code, mid, token, payload)
    assert d.options == sorted(opts, key=lambda o: o[0])
    assert d.encode() == raw


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=80))
def test_codec_arbitrary_bytes_only_decodeerror(data):
    try:
        m = Message.decode(data)
    except DecodeError:
        return
    # Whatever parsed must re-encode and parse to the same message (dropped elective
    # options may make the bytes differ, the meaning must not).
    again = Message.decode(m.encode())
    assert (again.code, again.mid, again.token, again.options, again.payload) == (
        m.code, m.mid, m.token, m.options, m.payload)


@settings(max_examples=500, deadline=None)
@given(st.binary(min_size=4, max_size=60))
def test_codec_arbitrary_v1_bytes_only_decodeerror(data):
    data = bytes([0x40 | (data[0] & 0x3F)]) + data[1:]
    try:
        Message.decode(data).encode()
    except DecodeError:
        pass
