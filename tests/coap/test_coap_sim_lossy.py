"""The sans-I/O cores under a simulated lossy link with virtual time: a Block1 upload driven
through two MessageLayers (client retransmits, server deduplicates and answers duplicates
from its cache) while hypothesis picks which datagrams are lost or duplicated. The body must
arrive whole and every block must reach the sink exactly once (RFC 7252 §4.2, §4.5; RFC 7959)."""

from hypothesis import given, settings, strategies as st

from coap import block as B
from coap import numbers as N
from coap.message import Message
from coap.msglayer import ACKED, DUP, NEW, MessageLayer


class _Sink:
    def __init__(self):
        self.data = bytearray()
        self.writes = 0

    def write(self, offset, mv):
        assert offset == len(self.data), "block written twice or out of order"
        self.data += mv
        self.writes += 1


@settings(max_examples=200, deadline=None)
@given(size=st.integers(1, 3000), szx=st.integers(0, 6),
       fates=st.lists(st.sampled_from(["ok", "ok", "ok", "drop", "dup"]), min_size=1, max_size=400))
def test_block1_upload_survives_loss_and_duplication_exactly_once(size, szx, fates):
    body = bytes(i % 251 for i in range(size))
    cml, sml = MessageLayer(rand=lambda n: 0), MessageLayer(rand=lambda n: 0)
    sender = B.Block1Sender(B.BytesReader(body), szx, bytearray(1025))
    table = B.UploadTable()
    sink = _Sink()
    fate_i = [0]

    def link(data):
        """Datagrams that arrive for one send: none, one or two copies."""
        f = fates[fate_i[0] % len(fates)]
        fate_i[0] += 1
        return [] if f == "drop" else [data, data] if f == "dup" else [data]

    def server_receive(data, now):
        out = []
        req = Message.decode(data)
        kind, cached = sml.receive(req, "client", now)
        if kind == DUP:
            return [cached] if cached is not None else []
        assert kind == NEW
        done, _up, b1, _ = table.block("k", req, lambda: sink, now)
        resp = Message(N.ACK, N.CHANGED if done else N.CONTINUE, req.mid, req.token, [(N.BLOCK1, b1)])
        raw = resp.encode()
        sml.cache_response("client", req.mid, raw)
        out.append(raw)
        return out

    now = 0
    final = None
    for _ in range(200):  # blocks
        req = sender.next_block(Message(N.CON, N.PUT, cml.next_mid(), cml.new_token()).set_uri_path("/x"))
        raw = req.encode()
        cml.track_con(req.mid, "server", raw, "ex", now)
        to_send = [raw]
        resp = None
        while resp is None:
            for d in to_send:
                for arrived in link(d):
                    for answer in server_receive(arrived, now):
                        for back in link(answer):
                            m = Message.decode(back)
                            kind, _p = cml.receive(m, "server", now)
                            if kind == ACKED:
                                resp = m
            if resp is None:
                now += 100
                resend, failed = cml.poll(now)
                if failed:
                    return  # gave up after MAX_RETRANSMIT: a legal outcome on a hopeless link
                to_send = [p.data for p in resend]
        if not sender.on_response(resp):
            final = resp
            break
    assert final is not None and final.code == N.CHANGED
    assert bytes(sink.data) == body
