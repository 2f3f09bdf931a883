"""RFC 7252 §4.2 retransmission/back-off, §4.5 deduplication, RFC 7641 §4.5 CON rule, RFC 7959
size negotiation: sans-I/O cores driven with an injected clock (integers, ms)."""

from coap import block as B
from coap import numbers as N
from coap import options as O
from coap.message import Message
from coap.msglayer import ACKED, DUP, NEW, RESET, STRAY, MessageLayer
from coap.observe import ObserveRegistry


def _ml(rand_value=0):
    return MessageLayer(rand=lambda n: min(rand_value, n - 1))


def test_rfc7252_4_8_derived_parameters():
    f = N.ACK_RANDOM_FACTOR_NUM / N.ACK_RANDOM_FACTOR_DEN
    assert N.MAX_TRANSMIT_SPAN_MS == N.ACK_TIMEOUT_MS * (2 ** N.MAX_RETRANSMIT - 1) * f
    assert N.MAX_TRANSMIT_WAIT_MS == N.ACK_TIMEOUT_MS * (2 ** (N.MAX_RETRANSMIT + 1) - 1) * f
    assert N.EXCHANGE_LIFETIME_MS == N.MAX_TRANSMIT_SPAN_MS + 2 * N.MAX_LATENCY_MS + N.PROCESSING_DELAY_MS
    assert N.NON_LIFETIME_MS == N.MAX_TRANSMIT_SPAN_MS + N.MAX_LATENCY_MS


def test_initial_timeout_between_ack_timeout_and_random_factor():
    assert _ml(0).initial_timeout() == 2000
    assert _ml(10 ** 6).initial_timeout() == 3000


def test_ack_timeout_raised_for_slow_links():
    ml = MessageLayer(rand=lambda n: n - 1, ack_timeout_ms=10000)
    assert ml.initial_timeout() == 15000


def test_con_retransmission_exponential_backoff_then_give_up():
    ml = _ml(0)
    ml.track_con(7, "peer", b"x", "ctx", now=0)
    sends = []
    failed = []
    for now in range(0, 200000, 50):
        resend, gone = ml.poll(now)
        sends += [now for _ in resend]
        failed += [(now, p.ctx) for p in gone]
    # Timeouts 2, 4, 8, 16 s after each transmission; give up 32 s after the 4th retransmission.
    assert sends == [2000, 6000, 14000, 30000]
    assert failed == [(62000, "ctx")]
    assert 62000 <= N.MAX_TRANSMIT_WAIT_MS


def test_ack_stops_retransmission_and_stray_ack_ignored():
    ml = _ml(0)
    ml.track_con(9, "peer", b"x", "ctx", now=0)
    kind, p = ml.receive(Message(N.ACK, N.EMPTY, 9), "peer", 100)
    assert kind == ACKED and p.ctx == "ctx"
    assert ml.poll(10 ** 6) == ([], [])
    assert ml.receive(Message(N.ACK, N.EMPTY, 9), "peer", 200)[0] == STRAY


def test_rst_matches_con_and_recent_non():
    ml = _ml(0)
    ml.track_con(1, "p", b"x", "con-ctx", 0)
    ml.track_non(2, "non-ctx")
    assert ml.receive(Message(N.RST, N.EMPTY, 1), "p", 1)[1].ctx == "con-ctx"
    kind, p = ml.receive(Message(N.RST, N.EMPTY, 2), "p", 1)
    assert kind == RESET and p.ctx == "non-ctx"


def test_dedup_returns_cached_response_within_exchange_lifetime():
    ml = _ml(0)
    req = Message(N.CON, N.POST, 0x55, b"t")
    assert ml.receive(req, "peer", 0) == (NEW, None)
    ml.cache_response("peer", 0x55, b"answer")
    assert ml.receive(req, "peer", 1000) == (DUP, b"answer")
    assert ml.receive(req, "other", 1000) == (NEW, None)  # MIDs are per remote
    assert ml.receive(req, "peer", N.EXCHANGE_LIFETIME_MS + 1)[0] == NEW


def test_dedup_cache_bounded_by_entries_and_bytes():
    ml = MessageLayer(rand=lambda n: 0, dedup_entries=4, dedup_bytes=100)
    for mid in range(20):
        ml.receive(Message(N.CON, N.GET, mid), "p", mid)
        ml.cache_response("p", mid, bytes(40))
        entries, nbytes = ml.dedup_size()
        assert entries <= 4 and nbytes <= 100
    assert ml.receive(Message(N.CON, N.GET, 19), "p", 30) == (DUP, bytes(40))
    assert ml.receive(Message(N.CON, N.GET, 0), "p", 30)[0] == NEW


def test_dedup_shed_under_memory_pressure_keeps_duplicate_detection():
    ml = MessageLayer(rand=lambda n: 0)
    req = Message(N.CON, N.POST, 0x66)
    ml.receive(req, "p", 0)
    ml.cache_response("p", 0x66, b"created")
    ml.shed()
    assert ml.dedup_size() == (1, 0)
    assert ml.receive(req, "p", 10) == (DUP, None)  # still a duplicate, no bytes to resend


def test_mid_and_token_sequences_wrap():
    ml = MessageLayer(rand=lambda n: n - 1)
    assert ml.next_mid() == 0
    assert len(ml.new_token()) == 4 and ml.new_token() != ml.new_token()


def test_rfc7641_con_notification_at_least_every_24h():
    reg = ObserveRegistry()
    req = Message(N.CON, N.GET, 1, b"o").set_uri_path("/c")
    obs = reg.register("p", b"o", "/c", req, now=0)
    assert not reg.wants_con(obs, 23 * 3600 * 1000)
    assert reg.wants_con(obs, 24 * 3600 * 1000)
    reg.acked(obs, 24 * 3600 * 1000)
    assert not reg.wants_con(obs, 25 * 3600 * 1000)


def test_rfc7641_registry_replace_deregister_bound_and_seq_wrap():
    reg = ObserveRegistry(limit=2)
    r = Message()
    a = reg.register("p", b"1", "/a", r, 0)
    assert reg.register("p", b"1", "/b", r, 0) is not a and len(reg) == 1  # same token: replaced
    reg.register("q", b"1", "/a", r, 0)
    assert reg.register("z", b"9", "/a", r, 0) is None  # full
    assert reg.deregister("q", b"1") is not None and reg.for_key("/a") == []
    obs = reg.find("p", b"1")
    obs.seq = 0xFFFFFF
    assert reg.next_seq(obs) == 0


class _Collect:
    def __init__(self):
        self.data = bytearray()

    def write(self, offset, mv):
        assert offset == len(self.data)
        self.data += mv


def test_rfc7959_block1_server_asks_smaller_size_client_follows():
    body = bytes(range(256)) * 12  # 3072 bytes
    sender = B.Block1Sender(B.BytesReader(body), 6, bytearray(1025))
    table = B.UploadTable(max_szx=4)  # server uses 256-byte blocks
    sink = _Collect()
    now = 0
    while True:
        req = sender.next_block(Message(N.CON, N.PUT, 1).set_uri_path("/x"))
        done, up, b1, taken = table.block("k", req, lambda: sink, now)
        resp = Message(N.ACK, N.CHANGED if done else N.CONTINUE, options=[(N.BLOCK1, b1)])
        if not sender.on_response(resp):
            break
    assert done and bytes(sink.data) == body
    assert sender.szx == 4


def test_rfc7959_block1_out_of_order_is_4_08_and_oversize_is_4_13():
    table = B.UploadTable()
    m = Message(N.CON, N.PUT, options=[(N.BLOCK1, O.block_encode(1, True, 0))], payload=bytes(16))
    try:
        table.block("k", m, lambda: _Collect(), 0)
        raise AssertionError("no error")
    except Exception as e:
        assert e.code == N.REQUEST_ENTITY_INCOMPLETE
    big = B.BufferSink(limit=20)
    m0 = Message(N.CON, N.PUT, options=[(N.BLOCK1, O.block_encode(0, True, 0))], payload=bytes(16))
    m1 = Message(N.CON, N.PUT, options=[(N.BLOCK1, O.block_encode(1, True, 0))], payload=bytes(16))
    table.block("k", m0, lambda: big, 0)
    try:
        table.block("k", m1, lambda: big, 0)
        raise AssertionError("no error")
    except Exception as e:
        assert e.code == N.REQUEST_ENTITY_TOO_LARGE


def test_rfc7959_block2_server_picks_smaller_size_and_client_reassembles():
    body = bytes(i % 251 for i in range(5000))
    reader = B.BytesReader(body)
    rcv = B.Block2Receiver(_Collect())
    req = Message(N.CON, N.GET, options=[(N.BLOCK2, O.block_encode(0, False, 6))])
    buf = bytearray(1025)
    while True:
        num, szx = B.block2_params(req, reader.size, 5)  # server max 512
        resp = B.serve_block2(Message(N.ACK, N.CONTENT), reader, num, szx, buf)
        rcv.on_response(resp)
        if rcv.done:
            break
        req.set_option(N.BLOCK2, rcv.next_option())
    assert bytes(rcv.sink.data) == body and rcv.szx == 5


def test_rfc7959_block2_beyond_body_is_bad_option():
    try:
        B.serve_block2(Message(), B.BytesReader(bytes(100)), 9, 0, bytearray(17))
        raise AssertionError("no error")
    except Exception as e:
        assert e.code == N.BAD_OPTION


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(size=st.integers(0, 5000), client_szx=st.integers(0, 6), server_szx=st.integers(0, 6),
       with_size=st.booleans())
def test_rfc7959_block1_any_sizes_roundtrip_property(size, client_szx, server_szx, with_size):
    body = bytes(i % 251 for i in range(size))

    class NoSize:  # a reader that does not know its length (generated bodies)
        def read_into(self, offset, buf):
            return B.BytesReader(body).read_into(offset, buf)

    reader = B.BytesReader(body) if with_size else NoSize()
    sender = B.Block1Sender(reader, client_szx, bytearray(1025))
    table = B.UploadTable(max_szx=server_szx)
    sink = _Collect()
    for _ in range(6000):
        req = sender.next_block(Message(N.CON, N.PUT, 1).set_uri_path("/x"))
        done, up, b1, _taken = table.block("k", req, lambda: sink, 0)
        resp = Message(N.ACK, N.CHANGED if done else N.CONTINUE, options=[(N.BLOCK1, b1)])
        if not sender.on_response(resp):
            break
    assert done and bytes(sink.data) == body


@settings(max_examples=300, deadline=None)
@given(size=st.integers(0, 5000), client_szx=st.integers(0, 6), server_szx=st.integers(0, 6))
def test_rfc7959_block2_any_sizes_roundtrip_property(size, client_szx, server_szx):
    body = bytes(i % 251 for i in range(size))
    reader = B.BytesReader(body)
    rcv = B.Block2Receiver(_Collect())
    req = Message(N.CON, N.GET, options=[(N.BLOCK2, O.block_encode(0, False, client_szx))])
    buf = bytearray(1025)
    for _ in range(6000):
        num, szx = B.block2_params(req, reader.size, server_szx)
        rcv.on_response(B.serve_block2(Message(N.ACK, N.CONTENT), reader, num, szx, buf))
        if rcv.done:
            break
        req.set_option(N.BLOCK2, rcv.next_option())
    assert rcv.done and bytes(rcv.sink.data) == body
