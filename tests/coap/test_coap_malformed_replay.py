"""RFC 7252 §4.2/§4.3/§5.4.1 on the device: a hypothesis-generated corpus of malformed and
odd datagrams is written to a file, then replayed against the running MicroPython endpoint.
Each datagram must get exactly the answer the rules ask for (RST, a 4.00/4.02 piggybacked
error, a response, or silence), and the endpoint must keep serving afterwards.

Replies are attributed without timing: after every corpus datagram an empty CON (CoAP ping)
follows; the device answers in order, so whatever comes before the ping's RST belongs to the
datagram."""

import binascii

from hypothesis import given, settings, strategies as st, HealthCheck

import harness
from coap import numbers as N
from coap.message import DecodeError, Message, unknown_critical
from coap_fixtures import start_device
from coap_rawclient import RawClient

CORPUS_SIZE = 400

_paths = st.sampled_from(["/hello", "/big", "/sink", "/nope", "/a/b", "/counter"])
_codes = st.one_of(st.sampled_from([1, 2, 3, 4, 5, 8, 31, 65, 69, 95, 128, 132, 160, 33, 200, 255]),
                   st.integers(0, 255))


@st.composite
def _valid(draw):
    m = Message(draw(st.integers(0, 3)), draw(_codes), 0, draw(st.binary(max_size=8)))
    m.set_uri_path(draw(_paths))
    for num, val in draw(st.lists(st.one_of(
            st.tuples(st.sampled_from([6, 12, 14, 17, 23, 27, 28, 60]), st.integers(0, 0xFFFFFF)),
            st.tuples(st.sampled_from([15, 3]), st.text(max_size=8)),
            st.tuples(st.integers(1, 3000), st.binary(max_size=6))), max_size=4)):
        m.add_option(num, val)
    m.payload = draw(st.binary(max_size=40))
    try:
        return bytearray(m.encode())
    except ValueError:
        return bytearray(b"\x40\x01\x00\x00")


@st.composite
def _datagram(draw):
    kind = draw(st.sampled_from(["random", "truncate", "flip", "tkl", "nibble15", "marker",
                                 "critical", "empty_extra", "version", "valid"]))
    if kind == "random":
        return bytes(draw(st.binary(min_size=0, max_size=60)))
    d = draw(_valid())
    if kind == "truncate" and len(d) > 1:
        d = d[:draw(st.integers(1, len(d) - 1))]
    elif kind == "flip":
        i = draw(st.integers(0, len(d) - 1))
        d[i] ^= draw(st.integers(1, 255))
    elif kind == "tkl":
        d[0] = (d[0] & 0xF0) | draw(st.integers(9, 15))
    elif kind == "nibble15":
        d += bytes([draw(st.sampled_from([0xF0, 0x0F, 0x1F, 0xF1]))])
    elif kind == "marker":
        d += b"\xff"
    elif kind == "critical":
        tkl = d[0] & 0x0F
        d = d[:4 + tkl] + b"\xe1\x26\xa3\x00"  # option 9999 + 269... a critical unknown, first
    elif kind == "empty_extra":
        d = bytearray([d[0] & 0xF0, 0, 0, 0]) + d[4:5] + b"\x01"
    elif kind == "version":
        d[0] = (d[0] & 0x3F) | (draw(st.sampled_from([0, 2, 3])) << 6)
    return bytes(d)


def _make_corpus(path):
    found = []

    @settings(max_examples=CORPUS_SIZE, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(_datagram())
    def collect(d):
        found.append(d)

    collect()
    # Generation varies with machine load even derandomized: one fixed CON GET carrying an
    # unknown critical option (10161) guarantees the 4.02 case the final check asks for.
    found.insert(0, bytes.fromhex("40010000e126a400"))
    with open(path, "w") as f:
        for d in found[:CORPUS_SIZE]:
            f.write(d.hex() + "\n")
    return path


def _expected(data):
    """What the rules ask for: None (silence) or (mtype, code or None for any, mid, token)."""
    try:
        m = Message.decode(data)
    except DecodeError as e:
        if e.mtype != N.CON or e.mid is None:
            return None
        if e.bad_code_hint is not None and e.token is not None:
            return (N.ACK, e.bad_code_hint, e.mid, e.token)
        return (N.RST, N.EMPTY, e.mid, b"")
    if m.mtype in (N.ACK, N.RST):
        return None
    if m.code == N.EMPTY:
        return (N.RST, N.EMPTY, m.mid, b"") if m.mtype == N.CON else None
    if N.is_request_code(m.code):
        if unknown_critical(m) is not None:
            # 4.02 for CON; a NON is rejected, i.e. ignored (RFC 7252 §5.4.1).
            return (N.ACK, N.BAD_OPTION, m.mid, m.token) if m.mtype == N.CON else None
        return (N.ACK if m.mtype == N.CON else N.NON, None, m.mid if m.mtype == N.CON else None, m.token)
    # Responses nobody waits for, and reserved code classes: a CON is rejected with RST.
    return (N.RST, N.EMPTY, m.mid, b"") if m.mtype == N.CON else None


def test_malformed_corpus_replayed_on_micropython(processes, tmp_path):
    corpus = _make_corpus(str(tmp_path / "coap_malformed_corpus.hex"))
    port = harness.free_port()
    dev = start_device(processes, port, "--no-client", "--tick-ms", 100000)
    c = RawClient(port)
    mismatches = []
    kinds = {}
    try:
        with open(corpus) as f:
            lines = [binascii.unhexlify(line.strip()) for line in f if line.strip()]
        for i, raw in enumerate(lines):
            data = bytearray(raw)
            if len(data) >= 4:
                data[2], data[3] = (i + 1) >> 8, (i + 1) & 0xFF  # unique MIDs: no dedup hits
            data = bytes(data)
            want = _expected(data)
            ping_mid = 0x8000 + i
            c.send(data)
            c.send(bytes([0x40, 0, ping_mid >> 8, ping_mid & 0xFF]))
            got = []
            while True:
                r = c.recv()
                if r.mtype == N.RST and r.mid == ping_mid:
                    break
                got.append(r)
            key = "silence" if want is None else "%s %s" % (N.TYPE_NAMES[want[0]], want[1])
            kinds[key] = kinds.get(key, 0) + 1
            if want is None:
                ok = got == []
            else:
                ok = len(got) == 1 and got[0].mtype == want[0] and got[0].token == want[3] and (
                    want[1] is None or got[0].code == want[1]) and (want[2] is None or got[0].mid == want[2])
            if not ok:
                mismatches.append((data.hex(), want, got))
        assert mismatches == [], mismatches[:5]
        # Still serving, and nothing blew up inside.
        r, _ = c.request(N.GET, "/hello", b"ok")
        assert r.code == N.CONTENT and r.payload == b"hello from micropython"
        stats, _ = c.request(N.GET, "/stats", b"st")
        assert b" errors=0 " in stats.payload, stats.payload
    finally:
        c.close()
    assert not any("Traceback" in line for line in dev.lines), dev.output()
    # The corpus really covered the answer kinds.
    assert {"silence", "RST 0", "ACK 128", "ACK 130", "ACK None"} <= set(kinds), kinds
