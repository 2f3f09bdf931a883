"""ipa.http under hypothesis (CPython): arbitrary bytes only ever raise HttpError; a valid
response (Content-Length or chunked, any chunk sizes) gives back exactly its body however the
transport cuts it; the parser agrees with CPython's http.client on status, fields and body."""

import http.client
import io

from hypothesis import given, settings, strategies as st

from ipa import http as ihttp
from ipa_io_httpkit import chunked, parse

_settings = settings(max_examples=300, deadline=None)
bodies = st.binary(max_size=3000)
cuts = st.lists(st.integers(min_value=0, max_value=4000), max_size=12)


@_settings
@given(st.binary(max_size=400), cuts)
def test_arbitrary_bytes_raise_only_http_error(data, cut):
    try:
        parse(b"HTTP/1.1 200 OK\r\n" + data, cut)
    except ihttp.HttpError as e:
        assert e.field in ("status-line", "header-field", "header-size", "content-length",
                           "transfer-encoding", "chunk-size", "chunk-data", "trailer", "body")


@_settings
@given(st.binary(max_size=300), cuts)
def test_arbitrary_head_raises_only_http_error(data, cut):
    try:
        parse(data, cut)
    except ihttp.HttpError:
        pass


@_settings
@given(bodies, cuts)
def test_content_length_body_survives_any_split(body, cut):
    msg = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    r, got = parse(msg, cut, close=False)
    assert r.done and got == body


@_settings
@given(bodies, st.lists(st.integers(min_value=1, max_value=700), min_size=1, max_size=5), cuts)
def test_chunked_body_survives_any_split_and_chunking(body, sizes, cut):
    msg = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(body, sizes)
    r, got = parse(msg, cut, close=False)
    assert r.done and got == body


class _Sock:
    def __init__(self, data):
        self.data = data

    def makefile(self, mode):
        return io.BytesIO(self.data)


@_settings
@given(bodies, st.booleans(), st.sampled_from([200, 204, 400, 500]),
       st.sampled_from(["application/x-gsma-rsp-asn1", "text/plain"]))
def test_agrees_with_cpython_http_client(body, use_chunked, status, ctype):
    if status == 204:
        body = b""
    head = "HTTP/1.1 %d X\r\nContent-Type: %s\r\n" % (status, ctype)
    if status == 204:
        payload = b""
    elif use_chunked:
        head += "Transfer-Encoding: chunked\r\n"
        payload = chunked(body, [97])
    else:
        head += "Content-Length: %d\r\n" % len(body)
        payload = body
    msg = head.encode() + b"\r\n" + payload
    ref = http.client.HTTPResponse(_Sock(msg), method="POST")
    ref.begin()
    ref_body = ref.read()
    r, got = parse(msg, close=False)
    assert (r.status, got) == (ref.status, ref_body)
    assert r.headers["content-type"] == ref.getheader("Content-Type")
