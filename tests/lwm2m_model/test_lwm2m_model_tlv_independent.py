"""OMA TLV written by the firmware, read back by a decoder written here from §7.4.3 (not the
firmware's), and hypothesis roundtrips of the firmware codec."""

import struct

from hypothesis import given, settings, strategies as st

from lwm2m import fmt_tlv, model
import lwm2m_model_fixture as F
import lwm2m_model_strategies as S


def tlv_items(buf):
    """[(kind, id, value_bytes)] per §7.4.3 Table 7.4.3-1/-2 -- independent of the firmware."""
    out, i = [], 0
    while i < len(buf):
        t = buf[i]
        i += 1
        kind = ("obj_inst", "res_inst", "multi_res", "res")[t >> 6]
        id_len = 2 if t & 0x20 else 1
        ident = int.from_bytes(buf[i:i + id_len], "big")
        i += id_len
        len_len = (t >> 3) & 3
        length = int.from_bytes(buf[i:i + len_len], "big") if len_len else t & 7
        i += len_len
        assert i + length <= len(buf)
        out.append((kind, ident, buf[i:i + length]))
        i += length
    return out


def tlv_tree(buf):
    res = []
    for kind, ident, value in tlv_items(buf):
        if kind in ("obj_inst", "multi_res"):
            res.append((kind, ident, tlv_tree(value)))
        else:
            res.append((kind, ident, value))
    return res


def test_tlv_device_read_decoded_independently():
    reg, _ = F.make_registry()
    data = fmt_tlv.encode(F.DEVICE_RECORDS, (3, 0), reg.type_of)
    tree = tlv_tree(data)
    assert tree[0] == ("res", 0, b"Open Mobile Alliance")
    assert tree[4] == ("multi_res", 6, [("res_inst", 0, b"\x01"), ("res_inst", 1, b"\x05")])
    assert tree[5] == ("multi_res", 7, [("res_inst", 0, struct.pack(">h", 3800)),
                                        ("res_inst", 1, struct.pack(">h", 5000))])
    assert ("res", 13, struct.pack(">i", 1367491215)) in tree
    assert data == F.device_tlv()


def test_tlv_live_registry_read_decoded_independently():
    reg, _ = F.make_registry()
    recs = reg.read((1,))
    tree = tlv_tree(fmt_tlv.encode(recs, (1,), reg.type_of))
    assert tree == [("obj_inst", 0, [("res", 0, b"\x65"), ("res", 1, struct.pack(">h", 300)),
                                      ("res", 6, b"\x00"), ("res", 7, b"U")])]


def test_tlv_long_values_use_wider_lengths():
    for size, hdr in ((7, b"\xc7\x01"), (8, b"\xc8\x01\x08"), (255, b"\xc8\x01\xff"),
                      (256, b"\xd0\x01\x01\x00"), (65536, b"\xd8\x01\x01\x00\x00")):
        data = fmt_tlv.encode([((5, 0, 1), bytes(size))], (5, 0), lambda p: model.T_OPAQUE)
        assert data.startswith(hdr) and tlv_items(data) == [("res", 1, bytes(size))]


@settings(max_examples=150, deadline=None)
@given(S.record_sets())
def test_tlv_roundtrip_and_independent_structure(recs):
    data = fmt_tlv.encode(recs, (S.OID,), F.any_type)
    assert fmt_tlv.decode(data, (S.OID,), F.any_type) == recs
    tree = tlv_tree(data)
    assert [n[1] for n in tree] == sorted({r[0][1] for r in recs})
    assert all(kind == "obj_inst" for kind, _, _ in tree)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64), st.sampled_from([(S.OID,), (S.OID, 0), (S.OID, 0, 3), (S.OID, 0, 21, 1)]))
def test_tlv_arbitrary_bytes_raise_only_bad_request(data, base):
    try:
        fmt_tlv.decode(data, base, F.any_type)
    except model.Error as exc:
        assert exc.code == model.BAD_REQUEST
