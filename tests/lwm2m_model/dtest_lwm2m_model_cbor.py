# CBOR codec (RFC 8949), vectors of RFC 8949 Appendix A, on MicroPython.
import binascii
import struct

from lwm2m import cbor, model
from lwm2m_model_fixture import raises

# (value, encoding) pairs from RFC 8949 Appendix A that our encoder writes exactly so.
_VECTORS = [
    (0, "00"), (23, "17"), (24, "1818"), (100, "1864"), (1000, "1903e8"), (1000000, "1a000f4240"),
    (1000000000000, "1b000000e8d4a51000"), (18446744073709551615, "1bffffffffffffffff"),
    (-1, "20"), (-10, "29"), (-100, "3863"), (-1000, "3903e7"),
    (0.0, "f90000"), (-0.0, "f98000"), (1.0, "f93c00"), (1.1, "fb3ff199999999999a"),
    (1.5, "f93e00"), (65504.0, "f97bff"), (100000.0, "fa47c35000"),
    # MicroPython's float literal parser is not correctly rounded: build FLT_MAX from its bits.
    (struct.unpack(">f", b"\x7f\x7f\xff\xff")[0], "fa7f7fffff"), (1.0e+300, "fb7e37e43c8800759c"),
    (5.960464477539063e-8, "f90001"), (0.00006103515625, "f90400"), (-4.0, "f9c400"),
    (-4.1, "fbc010666666666666"), (float("inf"), "f97c00"), (float("-inf"), "f9fc00"),
    (False, "f4"), (True, "f5"), (None, "f6"),
    (b"", "40"), (b"\x01\x02\x03\x04", "4401020304"), ("", "60"), ("a", "6161"),
    ("IETF", "6449455446"), ("\u00fc", "62c3bc"), ("\u6c34", "63e6b0b4"),
    ([], "80"), ([1, 2, 3], "83010203"), ([1, [2, 3], [4, 5]], "8301820203820405"),
    # MicroPython dicts are unordered: the encoder sorts keys, so these bytes hold on every port.
    ({}, "a0"), ({1: 2, 3: 4}, "a201020304"), ({"a": 1, "b": [2, 3]}, "a26161016162820203"),
    (list(range(1, 26)), "98190102030405060708090a0b0c0d0e0f101112131415161718181819"),
]


def _h(s):
    return binascii.unhexlify(s)


def test_cbor_encode_rfc8949_appendix_a():
    for value, enc in _VECTORS:
        got = cbor.dumps(value)
        assert got == _h(enc), (value, got, enc)


def test_cbor_decode_rfc8949_appendix_a():
    for value, enc in _VECTORS:
        assert cbor.loads(_h(enc)) == value, (enc, value)


def test_cbor_decode_nan_half():
    v = cbor.loads(_h("f97e00"))
    assert v != v
    assert cbor.dumps(float("nan")) == _h("f97e00")


def test_cbor_decode_indefinite_lengths():
    assert cbor.loads(_h("5f42010243030405ff")) == b"\x01\x02\x03\x04\x05"
    assert cbor.loads(_h("7f657374726561646d696e67ff")) == "streaming"
    assert cbor.loads(_h("9fff")) == []
    assert cbor.loads(_h("9f018202039f0405ffff")) == [1, [2, 3], [4, 5]]
    assert cbor.loads(_h("83018202039f0405ff")) == [1, [2, 3], [4, 5]]
    assert cbor.loads(_h("bf61610161629f0203ffff")) == {"a": 1, "b": [2, 3]}


def test_cbor_half_subnormal_and_single_widths():
    assert cbor.loads(_h("f90001")) == 5.960464477539063e-8
    assert cbor.loads(_h("fa47c35000")) == 100000.0
    assert cbor.loads(_h("fb3ff199999999999a")) == 1.1


def test_cbor_tags_skipped_or_rejected():
    assert cbor.loads(_h("c11a514b67b0")) == 1363896240
    assert cbor.loads(_h("c074323031332d30332d32315432303a30343a30305a")) == "2013-03-21T20:04:00Z"
    e = raises(model.BAD_REQUEST, cbor.loads, _h("c11a514b67b0"), skip_tags=False)
    assert "tag 1" in str(e)


def test_cbor_streaming_encoder_indefinite_and_sink():
    chunks = []
    enc = cbor.Encoder(chunks.append)
    enc.array()
    enc.uint(1)
    enc.map(1)
    enc.text("a")
    enc.bytes(b"\x00")
    enc.end()
    assert b"".join(chunks) == _h("9f01a161614100ff")


def test_cbor_pull_decoder_heads():
    d = cbor.Decoder(_h("83010203"))
    assert d.head() == (4, 3)
    assert [d.value(), d.value(), d.value()] == [1, 2, 3]
    assert d.done()


def test_cbor_limits_depth_and_length():
    raises(model.BAD_REQUEST, cbor.loads, b"\x81" * 20 + b"\x00", max_depth=16)
    assert cbor.loads(b"\x81" * 3 + b"\x00", max_depth=4) == [[[0]]]
    raises(model.BAD_REQUEST, cbor.loads, _h("9bffffffffffffffff"))
    raises(model.BAD_REQUEST, cbor.loads, _h("5a00100000") + b"x")
    raises(model.BAD_REQUEST, cbor.loads, _h("83010203") * 0 + _h("9f") + b"\x01" * 50, max_items=10)


def test_cbor_malformed_all_bad_request():
    for bad in ("", "18", "1c", "5f01ff", "7f4100ff", "ff", "a10102a1", "a2010201", "9f",
                "f818", "62c3", "830102", "0000", "1f", "3f", "df", "fc", "a1a00000",
                "62fffe"):
        raises(model.BAD_REQUEST, cbor.loads, _h(bad))


def test_cbor_array_map_key_becomes_tuple():
    assert cbor.loads(_h("a1820300a0")) == {(3, 0): {}}
