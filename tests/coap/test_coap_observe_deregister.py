"""RFC 7641 §3.6: deregistration with a GET carrying Observe=1 and the observation's token,
checked byte-exactly with a bare UDP client against the MicroPython endpoint."""

import harness
from coap import numbers as N
from coap_fixtures import start_device
from coap_rawclient import RawClient


def test_rfc7641_deregister_by_observe_1(processes):
    port = harness.free_port()
    start_device(processes, port, "--no-client", "--tick-ms", 200)
    c = RawClient(port)
    try:
        tok = b"\x0b\x5e"
        first, _ = c.request(N.GET, "/counter", tok, [(N.OBSERVE, 0)])
        assert first.code == N.CONTENT and first.opt(N.OBSERVE) is not None
        seqs = [first.opt(N.OBSERVE)]
        values = [int(first.payload)]
        while len(seqs) < 3:
            note = c.recv()
            c.ack(note)
            assert note.token == tok and note.code == N.CONTENT
            seqs.append(note.opt(N.OBSERVE))
            values.append(int(note.payload))
        assert seqs == sorted(seqs) and values == sorted(values)

        resp, _ = c.request(N.GET, "/counter", tok, [(N.OBSERVE, 1)])
        assert resp.code == N.CONTENT and resp.opt(N.OBSERVE) is None
        stop_value = int(resp.payload)
        # Poll plainly until the counter moved on by 3 ticks; nothing with the old token may
        # arrive in between (a notification already in flight before the GET is tolerated).
        late = []
        value = stop_value
        while value < stop_value + 3:
            r, others = c.request(N.GET, "/counter", b"\x77")
            value = int(r.payload)
            late += [o for o in others if o.token == tok and int(o.payload) > stop_value]
        assert late == []
    finally:
        c.close()
