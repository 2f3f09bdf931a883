# text/plain (0) and octet-stream (42), OMA-TS-LightweightM2M_Core-V1_1 §7.4.1/§7.4.2, on
# MicroPython.
from lwm2m import fmt_opaque, fmt_text, model
from lwm2m_model_fixture import make_registry, raises


def test_text_read_single_resources():
    reg, _ = make_registry()
    assert fmt_text.encode(reg.read((3, 0, 0)), (3, 0, 0)) == b"Open Mobile Alliance"
    assert fmt_text.encode(reg.read((1, 0, 1)), (1, 0, 1)) == b"300"
    assert fmt_text.encode(reg.read((1, 0, 6)), (1, 0, 6)) == b"0"
    assert fmt_text.encode([((1, 0, 10), (11, 2))], (1, 0, 10)) == b"11:2"
    assert fmt_text.encode([((5, 0, 0), b"\x01\x02\x03")], (5, 0, 0)) == b"AQID"
    assert fmt_text.encode([((5, 0, 0), 1.5)], (5, 0, 0)) == b"1.5"
    assert fmt_text.encode(reg.read((3, 0, 11, 0)), (3, 0, 11, 0)) == b"0"


def test_text_refuses_several_values_with_not_acceptable():
    reg, _ = make_registry()
    raises(model.NOT_ACCEPTABLE, fmt_text.encode, reg.read((3, 0)), (3, 0))
    raises(model.NOT_ACCEPTABLE, fmt_text.encode, reg.read((4, 0, 1)), (4, 0, 1))


def test_text_decode_by_resource_type():
    reg, _ = make_registry()
    assert fmt_text.decode(b"60", (1, 0, 1), reg.type_of) == [((1, 0, 1), 60)]
    assert fmt_text.decode(b"-60", (1, 0, 1), reg.type_of) == [((1, 0, 1), -60)]
    assert fmt_text.decode(b"1", (1, 0, 6), reg.type_of) == [((1, 0, 6), True)]
    assert fmt_text.decode(b"UQ", (1, 0, 7), reg.type_of) == [((1, 0, 7), "UQ")]
    assert fmt_text.decode(b"11:0", (1, 0, 10), reg.type_of) == [((1, 0, 10), (11, 0))]
    assert fmt_text.decode(b"1700000000", (3, 0, 13), reg.type_of) == [((3, 0, 13), 1700000000)]
    assert fmt_text.decode(b"2.5e3", (5, 0, 3), lambda p: model.T_FLOAT) == [((5, 0, 3), 2500.0)]
    assert fmt_text.decode(b"AQID", (5, 0, 0), lambda p: model.T_OPAQUE) == [((5, 0, 0), b"\x01\x02\x03")]


def test_text_decode_rejects_malformed():
    reg, _ = make_registry()
    for data, path in ((b"6x", (1, 0, 1)), (b"", (1, 0, 1)), (b"+5", (1, 0, 1)), (b"2", (1, 0, 6)),
                       (b"true", (1, 0, 6)), (b"11", (1, 0, 10)), (b"11:70000", (1, 0, 10)),
                       (b"-1", (1, 0, 17)), (b"\xff", (1, 0, 7)), (b"1", (1, 0))):
        raises(model.BAD_REQUEST, fmt_text.decode, data, path, reg.type_of)
    raises(model.BAD_REQUEST, fmt_text.decode, b"nan", (5, 0, 3), lambda p: model.T_FLOAT)


def test_opaque_read_and_write():
    t = lambda p: model.T_OPAQUE  # noqa: E731
    assert fmt_opaque.encode([((5, 0, 0), b"\x00\xff")], (5, 0, 0)) == b"\x00\xff"
    assert fmt_opaque.decode(b"\x00\xff", (5, 0, 0), t) == [((5, 0, 0), b"\x00\xff")]
    reg, _ = make_registry()
    raises(model.NOT_ACCEPTABLE, fmt_opaque.encode, reg.read((1, 0, 1)), (1, 0, 1))
    raises(model.BAD_REQUEST, fmt_opaque.decode, b"\x01", (1, 0, 1), reg.type_of)


def test_codec_lookup_by_content_format():
    assert model.codec(11542) is __import__("lwm2m.fmt_tlv", None, None, ("fmt_tlv",))
    assert model.codec(0).CT == 0 and model.codec(42).CT == 42 and model.codec(110).CT == 110
    assert model.codec(112).CT == 112 and model.codec(11544).CT == 11544
    raises(model.UNSUPPORTED_CONTENT_FORMAT, model.codec, 11543)
    raises(model.UNSUPPORTED_CONTENT_FORMAT, model.codec, 40)
