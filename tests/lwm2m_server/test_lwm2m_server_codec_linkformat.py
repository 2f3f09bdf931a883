"""CoRE Link Format (RFC 6690) for Register/Update payloads and Discover answers."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host_tools.lwm2m_server.codecs import linkformat


def test_linkformat_registration_payload_with_root_and_versions():
    links = linkformat.parse(b'</>;rt="oma.lwm2m";ct=110,</1/0>,</3>;ver=1.1,</3/0>,</3303/0>')
    assert links == [("/", {"rt": "oma.lwm2m", "ct": "110"}), ("/1/0", {}), ("/3", {"ver": "1.1"}),
                     ("/3/0", {}), ("/3303/0", {})]
    assert linkformat.object_links(links) == ({"/1/0": {}, "/3": {"ver": "1.1"}, "/3/0": {}, "/3303/0": {}}, "/")


def test_linkformat_quoted_values_with_comma_semicolon_and_flags():
    links = linkformat.parse(b'</3/0/13>;pmin=10;title="a,b;c";obs,</3/0/1>;desc="say \\"hi\\""')
    assert links == [("/3/0/13", {"pmin": "10", "title": "a,b;c", "obs": None}),
                     ("/3/0/1", {"desc": 'say "hi"'})]


def test_linkformat_discover_answer_with_attributes_decodes_to_dict():
    payload = b"</3/0>;pmax=60,</3/0/1>,</3/0/6>;dim=2,</3/0/7>;gt=50;lt=42.2;st=0.5"
    assert linkformat.decode(payload)["/3/0/7"] == {"gt": "50", "lt": "42.2", "st": "0.5"}


def test_linkformat_alternate_path_is_stripped():
    links = linkformat.parse(b'</lwm2m>;rt="oma.lwm2m",</lwm2m/1/0>,</lwm2m/3/0>')
    assert linkformat.object_links(links) == ({"/1/0": {}, "/3/0": {}}, "/lwm2m/")
    with pytest.raises(ValueError, match="outside the alternate path"):
        linkformat.object_links(linkformat.parse(b'</lwm2m>;rt="oma.lwm2m",</1/0>'))


@pytest.mark.parametrize("payload,message", [
    (b"/1/0", "expected '<'"), (b"</1/0", "unterminated"), (b"</1/0>,", "trailing"),
    (b"</1/0>;=5", "empty parameter"), (b'</1/0>;t="x', "unterminated quoted"),
    (b"</1/0> </3/0>", "expected ','"), (b"<>", "bad link target"), (b"\xff", "not UTF-8"),
])
def test_linkformat_malformed_raise_with_offset(payload, message):
    with pytest.raises(ValueError, match=message):
        linkformat.parse(payload)


def test_linkformat_registration_rejects_resource_level_links():
    with pytest.raises(ValueError, match="not an object or object instance"):
        linkformat.object_links(linkformat.parse(b"</3/0/1>"))


_target = st.lists(st.integers(0, 65535), min_size=1, max_size=4).map(lambda ids: "/" + "/".join(map(str, ids)))
_params = st.dictionaries(st.sampled_from(["ver", "pmin", "pmax", "dim", "title", "obs"]),
                          st.one_of(st.none(), st.text(st.characters(min_codepoint=32, max_codepoint=126,
                                                                     blacklist_characters='"\\'), max_size=10)),
                          max_size=3)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_target, _params), min_size=1, max_size=5))
def test_linkformat_format_parse_roundtrip(links):
    links = [(t, {k: (None if v == "" else v) for k, v in p.items()}) for t, p in links]
    assert linkformat.parse(linkformat.format_links(links)) == links
