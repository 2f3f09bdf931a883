# HTTP/1.1 codec of the ESipa ASN.1 binding (SGP.32 v1.2 §6.1) on MicroPython: the request head
# byte for byte, Content-Length / chunked / close-delimited bodies fed in every split, and each
# malformed input refused with an error naming the field.
# mpy-heapsize: 96K
from ipa import http
from ipa_io_httpkit import chunked, parse

ANSWER = b"\xbf\x4f\x03\x02\x01\x01"   # GetEimPackageResponse: noEimPackageAvailable


def _refused(data, field, **kw):
    try:
        parse(data, **kw)
    except http.HttpError as e:
        assert e.field == field, (e.field, str(e))
        return e
    raise AssertionError("accepted %r" % data)


def test_sgp32_6_1_request_head_exact_bytes():
    assert http.request_head("127.0.0.1:8443", 21) == (
        b"POST /gsma/rsp2/asn1 HTTP/1.1\r\n"
        b"Host: 127.0.0.1:8443\r\n"
        b"User-Agent: gsma-rsp-ipad\r\n"
        b"X-Admin-Protocol: gsma/rsp/v2.1.0\r\n"
        b"Content-Type: application/x-gsma-rsp-asn1\r\n"
        b"Content-Length: 21\r\n"
        b"Connection: keep-alive\r\n"
        b"\r\n")


def test_request_head_connection_close():
    assert b"\r\nConnection: close\r\n\r\n" in http.request_head("eim", 0, keep_alive=False)


def test_content_length_body_every_split():
    msg = (b"HTTP/1.1 200 OK\r\nContent-Type: application/x-gsma-rsp-asn1\r\n"
           b"X-Admin-Protocol: gsma/rsp/v2.1.0\r\nContent-Length: 6\r\n\r\n" + ANSWER)
    for cut in range(len(msg) + 1):
        r, body = parse(msg, (cut,), close=False)
        assert r.done and r.status == 200 and body == ANSWER, cut
        assert r.headers["content-type"] == http.CONTENT_TYPE
        assert r.headers["x-admin-protocol"] == "gsma/rsp/v2.1.0"
        assert r.keep_alive()


def test_chunked_body_every_split():
    body = bytes(range(200))
    msg = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(body, (7, 100, 1))
    for cut in range(0, len(msg), 3):
        r, got = parse(msg, (cut, cut + 5), close=False)
        assert r.done and got == body and r.chunked, cut


def test_chunked_extension_and_trailer_accepted():
    msg = (b"HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n"
           b"3;name=v\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n")
    r, got = parse(msg, close=False)
    assert r.done and got == b"abc"


def test_204_has_no_body_and_keeps_connection():
    r, got = parse(b"HTTP/1.1 204 No Content\r\nX-Admin-Protocol: gsma/rsp/v2.1.0\r\n\r\n",
                   close=False)
    assert r.done and r.status == 204 and got == b"" and r.keep_alive()


def test_100_continue_skipped():
    msg = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    r, got = parse(msg, (10, 27), close=False)
    assert r.status == 200 and got == b"ok"


def test_close_delimited_body_and_connection_close():
    r, got = parse(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
    assert r.done and got == b"until the end" and not r.keep_alive()


def test_http10_without_keep_alive_closes():
    r, _ = parse(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", close=False)
    assert r.done and not r.keep_alive()


def test_error_status_parsed_with_reason():
    r, got = parse(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\n\r\nbad", close=False)
    assert r.status == 400 and r.reason == "Bad Request" and got == b"bad"


def test_malformed_status_line_names_field():
    _refused(b"HTTP/2 200 OK\r\n\r\n", "status-line")
    _refused(b"HTTP/1.1 2x0 OK\r\n\r\n", "status-line")
    _refused(b"ICY 200 OK\r\n\r\n", "status-line")


def test_malformed_header_field_names_field():
    _refused(b"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", "header-field")
    _refused(b"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n", "header-field")
    _refused(b"HTTP/1.1 200 OK\r\nName : x\r\n\r\n", "header-field")


def test_bad_content_length_names_field():
    e = _refused(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "content-length")
    assert e.status == 200
    _refused(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
             "content-length")
    _refused(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
             "content-length")


def test_unsupported_transfer_coding_names_field():
    _refused(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "transfer-encoding")


def test_bad_chunk_size_names_field():
    _refused(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk-size")
    _refused(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n123456789\r\n",
             "chunk-size")
    _refused(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1" * 70, "chunk-size")


def test_missing_crlf_after_chunk_names_field():
    _refused(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n",
             "chunk-data")


def test_bare_lf_in_chunk_line_names_field():
    _refused(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nab", "chunk-size")


def test_head_over_budget_names_field():
    big = b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * 300 + b"\r\n\r\n"
    _refused(big, "header-size", max_head=256)
    r, _ = parse(big + b"", close=True, max_head=512)
    assert r.status == 200


def test_truncated_body_names_field():
    _refused(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "body")
    _refused(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "body")
    _refused(b"HTTP/1.1 200 O", "status-line")


def test_bytes_after_response_refused():
    _refused(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxy", "body")


def test_large_body_streams_through_small_buffer_without_growth():
    import gc

    r = http.Response()
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 65536\r\n\r\n"
    buf = bytearray(512)
    buf[:len(head)] = head
    total = 0
    off, a, b = r.feed(buf, 0, len(head))
    alloc = getattr(gc, "mem_alloc", lambda: 0)   # 0 when a file is run under CPython
    gc.collect()
    before = alloc()
    while not r.done:
        off = 0
        while off < len(buf) and not r.done:
            off, a, b = r.feed(buf, off, len(buf))
            total += b - a
    gc.collect()
    grown = alloc() - before
    assert total == 65536
    assert grown < 256, grown    # only the per-call result tuples, all garbage
