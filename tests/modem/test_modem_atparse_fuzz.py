"""atparse under CPython with hypothesis: parameter lists round-trip, the framer gives the
same events however the bytes are chunked, and arbitrary bytes never raise nor produce a
line with control bytes or over the length limit."""

from hypothesis import given, settings, strategies as st

from modem import atparse
from modem.atparse import EV_LINE, EV_NONE, EV_PROMPT, LineFramer

_param = st.one_of(
    st.integers(-(2 ** 31), 2 ** 31),
    st.text(st.characters(min_codepoint=32, max_codepoint=126, blacklist_characters='"'), max_size=20),
    st.none(),
)


def _encode(p):
    if p is None:
        return ""
    if isinstance(p, int):
        return str(p)
    return '"%s"' % p


@given(st.lists(_param, min_size=1, max_size=12))
def test_split_params_round_trip(params):
    line = ",".join(_encode(p) for p in params)
    assert atparse.split_params(line) == params


@given(st.text(max_size=80))
def test_split_params_only_value_error(text):
    try:
        atparse.split_params(text)
    except ValueError:
        pass


@given(st.text(max_size=60))
def test_final_kind_total(text):
    kind, code = atparse.final_kind(text)
    assert kind in range(8)


def _drain(fr, out):
    while True:
        ev = fr.next()
        if ev == EV_NONE:
            return
        out.append((ev, fr.line if ev == EV_LINE else None))


_lines = st.lists(st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=50)
                  .map(str.strip).filter(bool), max_size=20)


@given(_lines, st.lists(st.integers(1, 40), min_size=1, max_size=30))
@settings(max_examples=200)
def test_framer_chunking_does_not_change_lines(lines, cuts):
    stream = b"".join(b"\r\n" + ln.encode() + b"\r\n" for ln in lines)
    whole, parts = [], []
    fr = LineFramer(512, 100)
    fr.push(stream)
    _drain(fr, whole)
    fr = LineFramer(512, 100)
    pos, k = 0, 0
    while pos < len(stream):
        n = cuts[k % len(cuts)]
        k += 1
        fr.push(stream[pos:pos + n])
        _drain(fr, parts)
        pos += n
    assert whole == parts == [(EV_LINE, ln) for ln in lines]


@given(st.lists(st.binary(max_size=300), max_size=20), st.booleans())
@settings(max_examples=200)
def test_framer_arbitrary_bytes_never_raise_or_leak_garbage(chunks, prompt):
    fr = LineFramer(256, 64)
    out = []
    for c in chunks:
        fr.want_prompt = prompt
        off = 0
        while off < len(c):
            off += fr.push(c[off:])
            _drain(fr, out)
    for ev, line in out:
        assert ev in (EV_LINE, EV_PROMPT)
        if ev == EV_LINE:
            assert len(line) <= 64 and all(32 <= ord(ch) <= 126 or ch == "\t" for ch in line)


@given(st.lists(st.one_of(st.integers(0, 300), st.text(max_size=10), st.none()), max_size=10),
       st.booleans())
def test_parse_cereg_value_error_only(params, query):
    try:
        r = atparse.parse_cereg(params, query)
    except ValueError:
        return
    assert isinstance(r["stat"], int)


def _feed_chunked(fr, stream, cuts, on_event):
    pos, k = 0, 0
    while pos < len(stream):
        n = cuts[k % len(cuts)]
        k += 1
        fr.push(stream[pos:pos + n])
        pos += n
        while True:
            ev = fr.next()
            if ev == EV_NONE:
                break
            on_event(ev)


@given(st.binary(max_size=200), st.lists(st.integers(1, 30), min_size=1, max_size=20))
@settings(max_examples=200)
def test_framer_inline_raw_any_payload_any_chunking(payload, cuts):
    stream = b"\r\n+CARECV: %d," % len(payload) + payload + b"\r\n\r\nOK\r\n" if payload else b"\r\n+CARECV: 0\r\n\r\nOK\r\n"
    fr = LineFramer(512, 100, (b"+CARECV:",))
    got = []
    _feed_chunked(fr, stream, cuts, lambda ev: got.append((ev, fr.line, fr.raw if ev == atparse.EV_LINE_RAW else None)))
    if payload:
        assert got == [(atparse.EV_LINE_RAW, "+CARECV: %d" % len(payload), payload), (EV_LINE, "OK", None)]
    else:
        assert got == [(EV_LINE, "+CARECV: 0", None), (EV_LINE, "OK", None)]


@given(st.binary(min_size=1, max_size=300), st.lists(st.integers(1, 30), min_size=1, max_size=20))
@settings(max_examples=200)
def test_framer_announced_raw_block_any_chunking(payload, cuts):
    stream = b'\r\n+QIRD: %d,"127.0.0.1",5683\r\n' % len(payload) + payload + b"\r\n\r\nOK\r\n"
    fr = LineFramer(512, 100)
    got = []

    def on_event(ev):
        if ev == EV_LINE and fr.line.startswith("+QIRD:"):
            fr.expect_raw(atparse.split_params(fr.line, 6)[0])
        got.append((ev, fr.raw if ev == atparse.EV_RAW else fr.line))

    _feed_chunked(fr, stream, cuts, on_event)
    assert got == [(EV_LINE, '+QIRD: %d,"127.0.0.1",5683' % len(payload)), (atparse.EV_RAW, payload),
                   (EV_LINE, "OK")]
