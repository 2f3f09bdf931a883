"""Property tests: whatever bytes arrive (from the eUICC, the eIM, or a cut-off transfer), the
IPAd's decoders fail only with their documented errors (TlvError and its ESipa/ES10b/BPP
kin), never with IndexError, StopIteration, UnicodeError and the like."""

from hypothesis import HealthCheck, given, settings, strategies as st

from ipa import apdu, bpp, es10b, esipa, procedures, tlv
from ipa_bppgen import pump

DECODE_ERRORS = (tlv.TlvError, esipa.EsipaError, es10b.Es10Error, bpp.BppError)
SETTINGS = settings(max_examples=500, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# Byte strings biased toward TLV-looking input: plausible tags and lengths glued together.
_TAGS = st.sampled_from([b"\xbf\x2b", b"\xbf\x4f", b"\xbf\x50", b"\xbf\x51", b"\xbf\x39",
                         b"\xbf\x3b", b"\xbf\x3a", b"\xbf\x36", b"\xbf\x23", b"\xa0", b"\xa1",
                         b"\xa2", b"\xa3", b"\x80", b"\x81", b"\x86", b"\x88", b"\x5a", b"\x30",
                         b"\x02", b"\x0c", b"\x5f\x37", b"\xbf\x37", b"\xbf\x27", b"\xbf\x2f"])
_LENS = st.sampled_from([b"\x00", b"\x01", b"\x05", b"\x7f", b"\x80", b"\x81\x10", b"\x82\x01\x00",
                         b"\x83\x00\x00\x08", b"\x84\x00\x00\x00\x01", b"\x81"])
tlvish = st.lists(st.one_of(_TAGS, _LENS, st.binary(max_size=12)), max_size=24).map(b"".join)
_PRIM = st.sampled_from([0x80, 0x81, 0x82, 0x83, 0x84, 0x86, 0x87, 0x88, 0x02, 0x04, 0x05,
                         0x0C, 0x5A, 0x5C, 0x5F37, 0x9F70, 0x4F])
_CONS = st.sampled_from([0x30, 0xA0, 0xA1, 0xA2, 0xA3, 0xA5, 0xE3, 0xBF20, 0xBF23, 0xBF25,
                         0xBF27, 0xBF2F, 0xBF36, 0xBF37, 0xBF51, 0xBF52, 0xBF53, 0xBF54])
_OUTER = st.sampled_from([0xBF2B, 0xBF2D, 0xBF2E, 0xBF30, 0xBF37, 0xBF38, 0xBF39, 0xBF3A,
                          0xBF3B, 0xBF3C, 0xBF3E, 0xBF41, 0xBF4E, 0xBF4F, 0xBF50, 0xBF51,
                          0xBF55, 0xBF56, 0xBF57, 0xBF58, 0xBF5A])
_leaf = st.builds(lambda t, v: tlv.encode(t, v), _PRIM,
                  st.one_of(st.binary(max_size=6), st.sampled_from([b"\xff\xfe", b"\x01"])))
_tree = st.recursive(_leaf, lambda kids: st.builds(
    lambda t, cs: tlv.encode(t, b"".join(cs)), _CONS, st.lists(kids, max_size=4)), max_leaves=12)
# Well-formed TLV trees under a real message tag: these reach deep into the decoders.
messages = st.builds(lambda t, cs: tlv.encode(t, b"".join(cs)), _OUTER,
                     st.lists(_tree, max_size=4))
anybytes = st.one_of(st.binary(max_size=300), tlvish, messages)

PARSERS = [
    es10b.parse_eid, es10b.parse_eim_configuration_data, es10b.parse_add_initial_eim,
    es10b.parse_notifications_list, es10b.parse_notification_sent, es10b.parse_euicc_challenge,
    es10b.parse_certs, es10b.parse_configured_addresses, es10b.parse_profile_info_list,
    es10b.parse_euicc_package_request, es10b.parse_euicc_package_result,
    es10b.parse_profile_rollback, es10b.parse_immediate_enable,
    es10b.parse_profile_installation_result, es10b.load_euicc_package,
    lambda b: es10b.response_alternative(b, es10b.TAG_AUTHENTICATE_SERVER, "AuthenticateServer"),
    esipa.decode, lambda b: esipa.decode(b, esipa.V10), esipa.tag_list,
]


@SETTINGS
@given(anybytes)
def test_tlv_walk_raises_only_tlv_error(data):
    try:
        for tag, voff, vend in tlv.children(data):
            if tlv.is_constructed(tag):
                list(tlv.children(data, voff, vend))
    except tlv.TlvError:
        pass


@SETTINGS
@given(anybytes, st.integers(min_value=0, max_value=len(PARSERS) - 1))
def test_decoders_raise_only_documented_errors(data, which):
    try:
        PARSERS[which](data)
    except DECODE_ERRORS:
        pass


_WHOLE = [
    esipa.get_eim_package(bytes(16), True, 3, b"\x12\xf3\x45"),
    esipa.provide_eim_package_result(esipa.epr_and_notifications(
        tlv.encode(0xBF51, tlv.encode(0xA2, tlv.encode(0x80, b"eim"))), [b"\xbf\x37\x00"])),
    es10b.add_initial_eim([es10b.eim_configuration_data("e", fqdn="f", counter=1)]),
    tlv.encode(0xBF36, tlv.encode(0xBF23, bytes(40)) + tlv.encode(0xA3, tlv.encode(0x86, bytes(300)))),
]


@SETTINGS
@given(st.sampled_from(_WHOLE), st.data())
def test_truncated_messages_raise_tlv_error(msg, data):
    cut = data.draw(st.integers(min_value=0, max_value=len(msg) - 1))
    try:
        tlv.header(msg[:cut])
    except tlv.TlvError:
        return
    raise AssertionError("truncated message decoded")


def _respond(a):
    assert len(a) <= 260
    return b"", 0x9000


@SETTINGS
@given(anybytes, st.integers(min_value=1, max_value=64), st.booleans())
def test_bpp_splitter_raises_only_bpp_errors(data, chunk, envelope):
    sp = bpp.BppSplitter(apdu.StoreData(0), envelope=envelope)
    try:
        for i in range(0, len(data), chunk):
            pump(sp, data[i:i + chunk], _respond)
            if sp.done:
                break
        sp.finish()
    except (bpp.BppError, apdu.ApduError):
        pass


# What a procedure may raise when the eIM answers garbage: the decoders' errors and its own.
PROCEDURE_ERRORS = DECODE_ERRORS + (procedures.ProcedureError,)
# Valid first answers, so the garbage that follows lands deep inside each flow.
_FIRST = [
    bytes.fromhex("bf4f3bbf5138302b800465696d315a1000000000000000000000000000000000810105a00ea3"
                  "0c5a0a000000000000000000005f37084444444444444444"),
    tlv.encode(0xBF4F, tlv.encode(0xBF52, tlv.encode(0x5C, b"\xa0\xbf\x20\x81\xa5\xa8"))),
    tlv.encode(0xBF4F, tlv.encode(0xBF54, tlv.encode(0xA0, tlv.encode(0x80, b"1$dp.example$M"))
                                  + tlv.encode(0x82, bytes(16)))),
]


class _CannedCard:
    """Answers ES10b like a quiet eUICC: EID, an EPR for any package, no notifications."""

    EID = b"\xbf\x3e\x12\x5a\x10" + bytes(16)
    EPR = bytes.fromhex("bf5120a01e3011800465696d3181010583010930038301005f37082222222222222222")

    def __call__(self, action):
        if "es10b" in action:
            cmd = bytes(action["es10b"][:2])
            return {b"\xbf\x3e": self.EID, b"\xbf\x51": self.EPR, b"\xbf\x2b": b"\xbf\x2b\x02\xa0\x00",
                    b"\xbf\x30": b"\xbf\x30\x03\x80\x01\x00", b"\xbf\x2e": b"\xbf\x2e\x12\x80\x10" +
                    bytes(16), b"\xbf\x20": b"\xbf\x20\x00", b"\xbf\x2d": b"\xbf\x2d\x02\xa0\x00",
                    b"\xbf\x3c": b"\xbf\x3c\x00", b"\xbf\x22": b"\xbf\x22\x00",
                    b"\xbf\x56": b"\xbf\x56\x03\x81\x01\x7f",
                    b"\xbf\x55": b"\xbf\x55\x02\xa0\x00"}.get(cmd, b"\x6a\x80")
        if "apdu" in action:
            return b"", 0x9000
        return None


@SETTINGS
@given(st.one_of(st.just([]), st.sampled_from(_FIRST).map(lambda b: [b])),
       st.lists(anybytes, min_size=1, max_size=6))
def test_procedures_survive_arbitrary_eim_answers(first, answers):
    import tempfile

    from ipa.state import IpaState
    card = _CannedCard()
    queue = first + list(answers)

    def handler(action):
        out = card(action)
        if out is not None:
            return out
        if not queue:
            raise procedures.EimUnreachable("script exhausted")
        return queue.pop(0)
    with tempfile.TemporaryDirectory() as d:
        ipa = procedures.Ipa(IpaState(d + "/s.json"))
        try:
            res = procedures.drive(ipa.poll(), handler)
        except PROCEDURE_ERRORS:
            return
        assert isinstance(res, dict)


_node = st.recursive(
    st.tuples(_PRIM, st.binary(max_size=300)),
    lambda kids: st.tuples(_CONS, st.lists(kids, max_size=4)), max_leaves=10)


def _by_concat(node):
    tag, body = node
    if isinstance(body, list):
        return tlv.encode_seq(tag, *[_by_concat(k) for k in body])
    return tlv.encode(tag, body)


def _by_writer(w, node):
    tag, body = node
    if isinstance(body, list):
        w.open(tag)
        for k in body:
            _by_writer(w, k)
        w.close()
    else:
        w.put(tag, body)


@SETTINGS
@given(_node)
def test_writer_matches_concatenating_encoder(node):
    """Writer patches lengths in place (moving content when a length grows past one byte);
    the result must equal the plain encoder's, byte for byte."""
    w = tlv.Writer(8192, depth=16)
    _by_writer(w, node)
    assert w.getvalue() == _by_concat(node)
