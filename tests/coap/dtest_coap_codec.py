# RFC 7252 §3 codec on MicroPython (Unix port and the QEMU Cortex-M3 image): exact byte vectors,
# also imported by test_coap_codec.py so CPython checks the very same bytes.
# mpy-heapsize: 96K
# mpy-targets: unix qemu
import binascii

from coap import numbers as N
from coap import options as O
from coap.message import DecodeError, Message, unknown_critical

# Each entry: (name, encoded hex, mtype, code, mid, token, options, payload).
# Hand-derived from RFC 7252 §3 / §3.1 (header, delta/length nibbles and extensions).
VECTORS = [
    ("empty_ack", "60000001", 2, 0, 1, b"", [], b""),
    ("rst", "70001234", 3, 0, 0x1234, b"", [], b""),
    ("get_uri_path_3_0_1", "41010007aab13301300131", 0, 1, 7, b"\xaa",
     [(11, "3"), (11, "0"), (11, "1")], b""),
    ("content_text_payload", "6245beef1234c0ff68656c6c6f", 2, 69, 0xBEEF, b"\x12\x34",
     [(12, 0)], b"hello"),
    # Content-Format 11542 (lwm2m+tlv) as a 2-byte uint.
    ("content_format_tlv", "6045000ac22d16", 2, 69, 10, b"", [(12, 11542)], b""),
    # Observe=0 is a zero-length uint.
    ("observe_zero", "400100016054" "74657374", 0, 1, 1, b"", [(6, 0), (11, "test")], b""),
    # Block2 NUM=1 M=0 SZX=6 -> 0x16; delta 23 uses the 1-byte extension (13 + 10).
    ("block2_ext_delta", "44010002010203" "04" "d10a16", 0, 1, 2, b"\x01\x02\x03\x04",
     [(23, 0x16)], b""),
    # Option 258 (No-Response): delta 258 -> nibble 13 ext 245.
    ("no_response_258", "50020003" "d1f51a", 1, 2, 3, b"", [(258, 26)], b""),
    # Option 300 (unknown, elective): delta 300 -> nibble 14 ext 31 (2 bytes).
    ("delta_2byte_ext", "40030004" "e1001fab", 0, 3, 4, b"", [(300, b"\xab")], b""),
    # 13-byte Uri-Path: length nibble 13 with ext 0.
    ("len_1byte_ext", "40010005" "bd00" "61626364656667686970717273", 0, 1, 5, b"",
     [(11, "abcdefghipqrs")], b""),
]

# (name, hex, field prefix, bad_code_hint) for datagrams that must not parse.
BAD = [
    ("short", "4001", "header", None),
    ("version0", "00010001", "header", None),
    ("tkl9", "49010001", "token", None),
    ("token_truncated", "42010001aa", "token", None),
    ("empty_with_token", "61000001aa", "header", None),
    ("marker_no_payload", "40010001ff", "payload marker", 128),
    ("delta15", "40010001f0", "option", 128),
    ("length15", "400100010f", "option", 128),
    ("value_past_end", "40010001b3616263"[:-2], "option", 128),
    ("uri_host_empty", "4001000130", "option 3", 130),
]


def test_codec_vectors_encode_exact_bytes():
    for name, hx, mtype, code, mid, token, opts, payload in VECTORS:
        raw = binascii.unhexlify(hx)
        got = Message(mtype, code, mid, token, list(opts), payload).encode()
        assert got == raw, name


def test_codec_vectors_decode_fields():
    for name, hx, mtype, code, mid, token, opts, payload in VECTORS:
        d = Message.decode(binascii.unhexlify(hx))
        assert (d.mtype, d.code, d.mid, d.token, d.options, d.payload) == (
            mtype, code, mid, token, opts, payload), name


def test_codec_malformed_vectors_decodeerror():
    for name, hx, field, hint in BAD:
        try:
            Message.decode(binascii.unhexlify(hx))
        except DecodeError as e:
            assert e.field.startswith(field), (name, e.field)
            assert e.bad_code_hint == hint, (name, e.bad_code_hint)
        else:
            raise AssertionError("decoded: " + name)


def test_codec_stable_option_order_on_micropython():
    # MicroPython's list.sort is not stable; repeated options must keep their order.
    m = Message(N.CON, N.GET, 1, b"", [(15, "b"), (11, "x"), (15, "a"), (11, "y"), (3, "h")])
    assert Message.decode(m.encode()).options == [(3, "h"), (11, "x"), (11, "y"), (15, "b"), (15, "a")]


def test_codec_decode_from_memoryview_length():
    buf = bytearray(64)
    m = Message(N.NON, N.PUT, 9, b"t", [(11, "a")], b"xyz")
    n = m.encode_into(buf)
    d = Message.decode(memoryview(buf), n)
    assert d.payload == b"xyz" and d.uri_path() == ["a"]


def test_codec_block_and_critical():
    assert O.block_decode(O.block_encode(5, True, 2)) == (5, True, 2)
    m = Message.decode(Message(options=[(2049, b"z")]).encode())
    assert unknown_critical(m) == 2049
