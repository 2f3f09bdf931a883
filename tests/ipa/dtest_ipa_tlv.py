# BER-TLV codec on MicroPython: multi-byte tags, 1..4 byte lengths, offsets into a memoryview,
# the Writer's length patching, and TlvError naming tag and offset.
# mpy-targets: unix qemu
# mpy-heapsize: 96K
from ipa import tlv


def _raises(fn, *args):
    try:
        fn(*args)
    except tlv.TlvError as e:
        return e
    raise AssertionError("no TlvError")


def test_header_multibyte_tag_and_long_lengths():
    assert tlv.header(b"\x5a\x01\x00") == (0x5A, 2, 3)
    assert tlv.header(b"\xbf\x2d\x00") == (0xBF2D, 3, 3)
    assert tlv.header(b"\x5f\x37\x81\x80" + bytes(128)) == (0x5F37, 4, 132)
    assert tlv.header(b"\xbf\x36\x82\x01\x00" + bytes(256)) == (0xBF36, 5, 261)
    # 83 form: decoded by read_len without materialising 64 KB on a small heap.
    assert tlv.read_len(b"\x83\x01\x00\x00", 0, 4) == (65536, 4)
    e = _raises(tlv.header, b"\xa3\x83\x01\x00\x00" + bytes(100))
    assert e.tag == 0xA3


def test_decode_by_offset_into_memoryview_no_copy():
    buf = bytearray(b"\x00\x00\xbf\x20\x06\x82\x01\x02\x5a\x01\x09")
    mv = memoryview(buf)
    tag, voff, vend = tlv.header(mv, 2)
    assert (tag, voff, vend) == (0xBF20, 5, 11)
    kids = list(tlv.children(mv, voff, vend))
    assert kids == [(0x82, 7, 8), (0x5A, 10, 11)]
    assert tlv.find(mv, 0x5A, voff, vend) == (10, 11)
    assert tlv.find(mv, 0x99, voff, vend) is None
    assert list(tlv.elements(mv, voff, vend)) == [(0x82, 5, 7, 8), (0x5A, 8, 10, 11)]


def test_truncated_value_names_tag_and_offset():
    e = _raises(tlv.header, b"\x00\xbf\x2d\x05\x01\x02", 1)
    assert e.tag == 0xBF2D and e.offset == 1


def test_truncated_tag_and_length_rejected():
    _raises(tlv.header, b"\xbf")
    _raises(tlv.header, b"\x5a")
    _raises(tlv.header, b"\x5a\x82\x01")


def test_indefinite_and_oversize_lengths_rejected():
    e = _raises(tlv.header, b"\x30\x80\x00\x00")
    assert "indefinite" in str(e)
    _raises(tlv.header, b"\x30\x84\x00\x00\x00\x01\x00")
    _raises(tlv.header, b"\xbf\xff\xff\x7f\x00")


def test_uint_decoding():
    assert tlv.uint(b"\x00", 0, 1) == 0
    assert tlv.uint(b"\x7f", 0, 1) == 127
    assert tlv.uint(b"\x00\x80", 0, 2) == 128
    assert tlv.uint(b"\x01\x00\x00", 0, 3) == 65536


def test_encode_exact_bytes():
    assert tlv.encode(0x80, b"\x01") == b"\x80\x01\x01"
    assert tlv.encode(0xBF2E) == b"\xbf\x2e\x00"
    assert tlv.encode(0x04, bytes(200))[:3] == b"\x04\x81\xc8"
    assert tlv.encode(0x04, bytes(300))[:4] == b"\x04\x82\x01\x2c"
    assert tlv.header_bytes(0x04, 70000) == b"\x04\x83\x01\x11\x70"
    assert tlv.header_bytes(0xBF36, 0x10000) == b"\xbf\x36\x83\x01\x00\x00"
    assert tlv.encode_uint(0x80, 0) == b"\x80\x01\x00"
    assert tlv.encode_uint(0x80, 127) == b"\x80\x01\x7f"
    assert tlv.encode_uint(0x80, 128) == b"\x80\x02\x00\x80"
    assert tlv.encode_seq(0xA0, b"\x80\x00", None, b"\x81\x00") == b"\xa0\x04\x80\x00\x81\x00"


def test_writer_nested_with_length_growth():
    w = tlv.Writer(1024)
    w.open(0xBF50).put(0x5A, b"\x89" * 16).open(0xA0).put(0x04, bytes(200)).close().close()
    out = w.getvalue()
    # inner A0 needs 81 xx, the outer BF50 needs 81 xx too: both patched in place.
    assert out[:3] == b"\xbf\x50\x81"
    tag, voff, vend = tlv.header(out)
    assert tag == 0xBF50 and vend == len(out)
    kids = list(tlv.children(out, voff, vend))
    assert kids[0][0] == 0x5A and kids[1][0] == 0xA0
    assert tlv.header(out, kids[1][1])[0] == 0x04


def test_writer_overflow_and_unbalanced():
    w = tlv.Writer(8)
    _raises(w.put, 0x04, bytes(10))
    w = tlv.Writer(16)
    w.open(0x30)
    _raises(w.value)


def test_writer_flush_to_sink():
    got = []
    w = tlv.Writer(32)
    w.put_uint(0x80, 300)
    w.flush_to(lambda mv: got.append(bytes(mv)))
    assert got == [b"\x80\x02\x01\x2c"] and w.pos == 0
