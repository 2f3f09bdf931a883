"""Plain text (0) and opaque (42) single-value formats (Core 1.1 §7.4.1, §7.4.2)."""

import pytest

from host_tools.lwm2m_server import codecs
from host_tools.lwm2m_server.codecs import ObjLnk, text


@pytest.mark.parametrize("path,payload,value", [
    ("/3/0/9", b"87", 87), ("/3/0/0", b"ACME", "ACME"), ("/6/0/0", b"52.5", 52.5),
    ("/1/0/6", b"1", True), ("/1/0/10", b"4:1", ObjLnk(4, 1)), ("/0/0/3", b"AAEC", b"\x00\x01\x02"),
    ("/3/0/13", b"1367491215", 1367491215), ("/9999/0/0", b"x", "x"),
])
def test_text_decode_by_resource_type(path, payload, value):
    assert text.decode_text(payload, path) == value
    assert codecs.decode(0, payload, path) == {path: value}


@pytest.mark.parametrize("value,payload", [
    (87, b"87"), (True, b"1"), (False, b"0"), (1.5, b"1.5"), (ObjLnk(4, 1), b"4:1"),
    (b"\x00\x01\x02", b"AAEC"), ("héllo", "héllo".encode())])
def test_text_encode(value, payload):
    assert codecs.encode("text", {"/3/0/0": value}, "/3/0/0") == payload


@pytest.mark.parametrize("path,payload,message", [
    ("/3/0/9", b"eighty", "/3/0/9: 'eighty' as type i"),
    ("/1/0/6", b"2", "boolean must be 0 or 1"),
    ("/0/0/3", b"!!", "type o"),
    ("/3/0/0", b"\xff", "not UTF-8"),
])
def test_text_malformed_raise_with_path(path, payload, message):
    with pytest.raises(ValueError, match=message):
        text.decode_text(payload, path)


def test_opaque_is_raw_bytes_one_value():
    assert codecs.decode(42, b"\x00\xff", "/5/0/0") == {"/5/0/0": b"\x00\xff"}
    assert codecs.encode("opaque", {"/5/0/0": b"\x00\xff"}, "/5/0/0") == b"\x00\xff"
    with pytest.raises(ValueError, match="needs bytes"):
        codecs.encode(42, {"/5/0/0": "x"}, "/5/0/0")
    with pytest.raises(ValueError, match="exactly one value"):
        codecs.encode(0, {"/3/0/0": "a", "/3/0/1": "b"}, "/3/0")
