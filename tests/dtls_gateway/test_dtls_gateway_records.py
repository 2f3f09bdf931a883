"""DTLS record framing used by the gateway, on exact byte vectors."""

from host_tools.dtls_gateway import parse_hostport
from host_tools.dtls_gateway.records import client_hello_random, datagrams, record_spans


def _record(ctype, epoch, body):
    return bytes([ctype]) + b"\xfe\xfd" + epoch.to_bytes(2, "big") + b"\x00" * 6 \
        + len(body).to_bytes(2, "big") + body


def test_record_spans_skip_a_truncated_tail():
    a, b = _record(22, 0, b"\x01" * 5), _record(23, 1, b"\x02" * 3)
    data = a + b + b[:10]
    assert record_spans(data) == [(0, 18), (18, 34)]
    assert record_spans(b"") == [] and record_spans(a[:12]) == []


def test_datagrams_pack_whole_records_up_to_the_mtu():
    r = [_record(22, 0, bytes([i]) * 37) for i in range(4)]  # 50 bytes each
    data = b"".join(r)
    assert datagrams(data, 100) == [r[0] + r[1], r[2] + r[3]]
    assert datagrams(data, 149) == [r[0] + r[1], r[2] + r[3]]
    assert datagrams(data, 150) == [r[0] + r[1] + r[2], r[3]]
    assert datagrams(data, 40) == r  # a record longer than the MTU goes alone
    assert datagrams(b"", 100) == []


def _hello(epoch=0, msg_type=1, frag_off=b"\x00\x00\x00", random=bytes(range(32))):
    hs = bytes([msg_type]) + b"\x00\x00\x40" + b"\x00\x00" + frag_off + b"\x00\x00\x40" \
        + b"\xfe\xfd" + random + b"\x00" * 30
    return _record(22, epoch, hs)


def test_client_hello_random_only_for_a_first_epoch_zero_client_hello():
    assert client_hello_random(_hello()) == bytes(range(32))
    assert client_hello_random(_hello(epoch=1)) is None       # a renegotiation, encrypted
    assert client_hello_random(_hello(msg_type=11)) is None   # Certificate
    assert client_hello_random(_hello(frag_off=b"\x00\x00\x10")) is None  # a later fragment
    assert client_hello_random(_record(23, 0, b"x" * 80)) is None
    assert client_hello_random(_hello()[:58]) is None


def test_parse_hostport():
    assert parse_hostport("127.0.0.1:5684") == ("127.0.0.1", 5684)
    assert parse_hostport("[::1]:5684") == ("::1", 5684)
    assert parse_hostport("5684") == ("127.0.0.1", 5684)
    assert parse_hostport(":5684") == ("127.0.0.1", 5684)
