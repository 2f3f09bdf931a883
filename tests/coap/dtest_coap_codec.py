# RFC 7252 §3 codec on MicroPython: the same exact byte vectors as test_coap_codec.py.
# mpy-heapsize: 64K
import binascii

from coap import numbers as N
from coap import options as O
from coap.message import DecodeError, Message, unknown_critical
from coap_vectors import BAD, VECTORS


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
