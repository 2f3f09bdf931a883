"""coap.options keeps the RFC 7252 §5.10 option table (plus RFC 7641, 7959, 8613, 7967) as one
constant tuple with literal numbers, so that a frozen image holds it in flash: every entry must
match the option numbers of coap.numbers and the formats/lengths of the RFCs."""

from coap import numbers as N
from coap import options as O

EXPECTED = {
    N.IF_MATCH: (O.FMT_OPAQUE, 0, 8), N.URI_HOST: (O.FMT_STRING, 1, 255),
    N.ETAG: (O.FMT_OPAQUE, 1, 8), N.IF_NONE_MATCH: (O.FMT_EMPTY, 0, 0),
    N.OBSERVE: (O.FMT_UINT, 0, 3), N.URI_PORT: (O.FMT_UINT, 0, 2),
    N.LOCATION_PATH: (O.FMT_STRING, 0, 255), N.OSCORE: (O.FMT_OPAQUE, 0, 255),
    N.URI_PATH: (O.FMT_STRING, 0, 255), N.CONTENT_FORMAT: (O.FMT_UINT, 0, 2),
    N.MAX_AGE: (O.FMT_UINT, 0, 4), N.URI_QUERY: (O.FMT_STRING, 0, 255),
    N.ACCEPT: (O.FMT_UINT, 0, 2), N.LOCATION_QUERY: (O.FMT_STRING, 0, 255),
    N.BLOCK2: (O.FMT_UINT, 0, 3), N.BLOCK1: (O.FMT_UINT, 0, 3), N.SIZE2: (O.FMT_UINT, 0, 4),
    N.PROXY_URI: (O.FMT_STRING, 1, 1034), N.PROXY_SCHEME: (O.FMT_STRING, 1, 255),
    N.SIZE1: (O.FMT_UINT, 0, 4), N.NO_RESPONSE: (O.FMT_UINT, 0, 1),
}


def test_option_table_matches_rfc7252_section_5_10():
    t = O._TABLE
    assert len(t) % 4 == 0
    table = {t[i]: tuple(t[i + 1:i + 4]) for i in range(0, len(t), 4)}
    assert table == EXPECTED


def test_option_lookups_known_and_unknown():
    for number, (fmt, lo, hi) in EXPECTED.items():
        assert O.is_known(number) and O.value_format(number) == fmt
    for number in (0, 2, 10, 13, 259, 2048):
        assert not O.is_known(number) and O.value_format(number) == O.FMT_OPAQUE
