# atparse on MicroPython: parameter splitting (TS 27.007 / V.250 syntax), final result codes,
# +CEREG forms, and the line framer's prompt / raw / overlong / garbled handling.
# mpy-heapsize: 96K
from modem import atparse
from modem.atparse import EV_LINE, EV_LINE_RAW, EV_NONE, EV_PROMPT, EV_RAW, LineFramer


def test_split_params_quoted_comma_int_empty():
    p = atparse.split_params('1,"a,b",,0x1F,"",-7')
    assert p == [1, "a,b", None, "0x1F", "", -7], p


def test_split_params_trailing_comma_is_empty_field():
    assert atparse.split_params("5,") == [5, None]


def test_split_params_unterminated_quote_raises():
    try:
        atparse.split_params('1,"abc')
    except ValueError as e:
        assert "unterminated" in str(e)
    else:
        raise AssertionError("no error")


def test_parse_info_prefixes():
    assert atparse.parse_info('+CGLA: 4,"9000"') == ("+CGLA", [4, "9000"])
    assert atparse.parse_info("%XSIM: 1") == ("%XSIM", [1])
    assert atparse.parse_info("#XSOCKET: 0,2,17") == ("#XSOCKET", [0, 2, 17])
    assert atparse.info_prefix("OK") is None
    assert atparse.info_prefix("+APP PDP: 0,ACTIVE") == "+APP PDP"


def test_final_result_codes():
    assert atparse.final_kind("OK") == (atparse.FINAL_OK, None)
    assert atparse.final_kind("+CME ERROR: 13") == (atparse.FINAL_CME, 13)
    assert atparse.final_kind("+CMS ERROR: 500") == (atparse.FINAL_CMS, 500)
    assert atparse.final_kind("+CME ERROR: SIM failure") == (atparse.FINAL_CME, "SIM failure")
    assert atparse.final_kind("SEND OK") == (atparse.FINAL_SEND_OK, None)
    assert atparse.final_kind("OKAY")[0] == atparse.FINAL_NONE
    assert atparse.final_kind("+CEREG: 1")[0] == atparse.FINAL_NONE


def test_cereg_query_and_urc_forms():
    q = atparse.parse_cereg(atparse.split_params('5,1,"00B7","00011B07",7'), True)
    assert (q["stat"], q["tac"], q["ci"], q["act"]) == (1, 0xB7, 0x11B07, 7), q
    u = atparse.parse_cereg(atparse.split_params('5,"2F10","0A3C4D01",9'), False)
    assert (u["stat"], u["tac"], u["ci"], u["act"]) == (5, 0x2F10, 0x0A3C4D01, 9), u
    assert atparse.registered(5) and not atparse.registered(2)


def test_hexint_reads_all_digit_tac_as_hex():
    assert atparse.hexint(1234) == 0x1234
    assert atparse.hexint("00B7") == 0xB7
    assert atparse.hexint("") is None


def test_unhex_names_field():
    assert atparse.unhex("9000") == b"\x90\x00"
    try:
        atparse.unhex("900", "+CGLA response")
    except ValueError as e:
        assert "+CGLA response" in str(e)
    else:
        raise AssertionError("no error")


def _events(fr):
    out = []
    while True:
        ev = fr.next()
        if ev == EV_NONE:
            return out
        out.append((ev, fr.line if ev in (EV_LINE, EV_LINE_RAW) else None,
                    fr.raw if ev in (EV_RAW, EV_LINE_RAW) else None))


def test_framer_lines_split_across_chunks():
    fr = LineFramer(256, 64)
    fr.push(b"\r\n+CEREG: 1,")
    assert _events(fr) == []
    fr.push(b'"00B7"\r\n\r\nOK\r\n')
    assert _events(fr) == [(EV_LINE, '+CEREG: 1,"00B7"', None), (EV_LINE, "OK", None)]


def test_framer_prompt_only_when_wanted():
    fr = LineFramer(256, 64)
    fr.push(b"\r\n> ")
    assert _events(fr) == []
    fr.want_prompt = True
    assert _events(fr) == [(EV_PROMPT, None, None)]


def test_framer_raw_block_after_line():
    fr = LineFramer(256, 64)
    fr.push(b'\r\n+QIRD: 6,"127.0.0.1",5683\r\nA\r\nOK')
    assert fr.next() == EV_LINE
    fr.expect_raw(6)
    assert fr.next() == EV_NONE
    fr.push(b"\r\n\r\nOK\r\n")
    assert fr.next() == EV_RAW and fr.raw == b"A\r\nOK\r"
    assert _events(fr) == [(EV_LINE, "OK", None)]


def test_framer_inline_raw_carecv():
    fr = LineFramer(256, 64, (b"+CARECV:",))
    fr.push(b"\r\n+CARECV: 4,\r\n\x00\xff\r\n\r\nOK\r\n+CARECV: 0\r\n")
    assert _events(fr) == [(EV_LINE_RAW, "+CARECV: 4", b"\r\n\x00\xff"), (EV_LINE, "OK", None),
                           (EV_LINE, "+CARECV: 0", None)]


def test_framer_overlong_line_dropped_and_counted():
    fr = LineFramer(128, 40)
    fr.push(b"\r\n" + b"X" * 60)
    fr.push(b"Y" * 100)
    assert _events(fr) == []
    fr.push(b"\r\nOK\r\n")
    assert _events(fr) == [(EV_LINE, "OK", None)]
    assert fr.overlong == 1, fr.overlong


def test_framer_garbled_line_dropped_and_counted():
    fr = LineFramer(128, 64)
    fr.push(b"\r\n\x01\xfe+CE\x80REG\r\n+CSCON: 1\r\n")
    assert _events(fr) == [(EV_LINE, "+CSCON: 1", None)]
    assert fr.garbled == 1
