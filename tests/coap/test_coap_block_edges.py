"""RFC 7959 edge cases on the wire against the MicroPython endpoint, byte-exact with a bare
client: a Block2 number beyond the body (4.02), the reserved SZX 7 (4.00), a Block1 upload
that skips a block (4.08), a client asking for 16 B blocks, and Size2 on the first block."""

import harness
from coap import numbers as N
from coap import options as O
from coap.message import Message
from coap_fixtures import pattern, start_device
from coap_rawclient import RawClient

BODY = 4096


def _client(processes):
    port = harness.free_port()
    start_device(processes, port, "--no-client", "--size", BODY)
    return RawClient(port)


def test_rfc7959_block2_beyond_body_is_4_02_and_szx7_is_4_00(processes):
    c = _client(processes)
    try:
        r, _ = c.request(N.GET, "/big", b"b1", [(N.BLOCK2, O.block_encode(BODY // 16, False, 0))])
        assert r.code == N.BAD_OPTION
        r, _ = c.request(N.GET, "/big", b"b2", [(N.BLOCK2, (1 << 4) | 7)])
        assert r.code == N.BAD_REQUEST
    finally:
        c.close()


def test_rfc7959_block2_16_byte_blocks_with_size2(processes):
    c = _client(processes)
    try:
        body = b""
        num = 0
        while True:
            r, _ = c.request(N.GET, "/big", b"g%d" % num, [(N.BLOCK2, O.block_encode(num, False, 0))])
            n, more, szx = O.block_decode(r.opt(N.BLOCK2))
            assert (n, szx) == (num, 0) and len(r.payload) == 16
            if num == 0:
                assert r.opt(N.SIZE2) == BODY
            body += r.payload
            if not more:
                break
            num += 1
        assert body == pattern(BODY)
    finally:
        c.close()


def test_rfc7959_block1_gap_is_4_08(processes):
    c = _client(processes)
    try:
        # Block 0, then block 2: block 1 never arrives.
        m0 = Message(N.CON, N.PUT, c.next_mid(), b"u0", [(N.BLOCK1, O.block_encode(0, True, 2))],
                     pattern(64)).set_uri_path("/sink")
        c.send(m0)
        r0 = c.recv()
        assert r0.code == N.CONTINUE and O.block_decode(r0.opt(N.BLOCK1)) == (0, True, 2)
        m2 = Message(N.CON, N.PUT, c.next_mid(), b"u2", [(N.BLOCK1, O.block_encode(2, True, 2))],
                     pattern(64, 128)).set_uri_path("/sink")
        c.send(m2)
        r2 = c.recv()
        assert r2.code == N.REQUEST_ENTITY_INCOMPLETE and r2.mid == m2.mid
    finally:
        c.close()
