"""CBOR, SenML CBOR and LwM2M CBOR written by the firmware checked with cbor2 (an independent
implementation), and cbor2 output read by the firmware decoder."""

import math

import cbor2
from hypothesis import given, settings, strategies as st

from lwm2m import cbor, fmt_lwm2m_cbor, fmt_senml_cbor, fmt_senml_json, model
import lwm2m_model_fixture as F
import lwm2m_model_strategies as S

_SCALARS = (st.none() | st.booleans() | st.integers(-(1 << 64), (1 << 64) - 1)
            | st.floats(allow_nan=False) | st.text(max_size=16) | st.binary(max_size=16))
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(
        st.integers(-30, 30) | st.text(max_size=4), inner, max_size=5),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(_VALUES)
def test_cbor_encoder_output_decoded_by_cbor2(value):
    assert cbor2.loads(cbor.dumps(value)) == value


@settings(max_examples=300, deadline=None)
@given(_SCALARS)
def test_cbor_scalars_are_as_short_as_cbor2_canonical(value):
    # cbor2's canonical mode picks the shortest head and the shortest lossless float.
    assert cbor.dumps(value) == cbor2.dumps(value, canonical=True)


@settings(max_examples=300, deadline=None)
@given(_VALUES)
def test_cbor_decoder_reads_cbor2_output(value):
    assert cbor.loads(cbor2.dumps(value)) == _tuple_keys(value)


def _tuple_keys(v):
    if isinstance(v, dict):
        return {k: _tuple_keys(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_tuple_keys(x) for x in v]
    return v


def test_cbor_half_precision_edges_match_cbor2():
    for x in (65504.0, 65520.0, 6.103515625e-05, 6.097555160522461e-05, 5.960464477539063e-08,
              2.9802322387695312e-08, -0.0, 1e-7, 0.333251953125, float("inf")):
        assert cbor.dumps(x) == cbor2.dumps(x, canonical=True), x
    assert math.isnan(cbor.loads(cbor2.dumps(float("nan"))))


@settings(max_examples=150, deadline=None)
@given(S.record_sets())
def test_senml_cbor_decoded_by_cbor2(recs):
    data = fmt_senml_cbor.encode(recs, (S.OID,))
    doc = cbor2.loads(data)
    assert len(doc) == len(recs)
    bn = ""
    for entry, (path, value) in zip(doc, recs):
        bn = entry.get(-2, bn)
        assert bn + entry.get(0, "") == "/" + "/".join(map(str, path))
        if isinstance(value, bool):
            assert entry[4] is value
        elif isinstance(value, (int, float)):
            assert entry[2] == value
        elif isinstance(value, str):
            assert entry[3] == value
        elif isinstance(value, bytes):
            assert entry[8] == value
        else:
            assert entry["vlo"] == "%d:%d" % value
    assert fmt_senml_cbor.decode(data, (S.OID,), F.any_type) == recs


@settings(max_examples=150, deadline=None)
@given(S.record_sets())
def test_lwm2m_cbor_decoded_by_cbor2(recs):
    data = fmt_lwm2m_cbor.encode(recs, (S.OID,))
    flat = {}

    def walk(node, prefix):
        for k, v in node.items():
            p = prefix + (tuple(k) if isinstance(k, (list, tuple)) else (k,))
            if isinstance(v, dict):
                walk(v, p)
            else:
                flat[p] = v

    walk(cbor2.loads(data), ())
    want = {p: ("%d:%d" % v if isinstance(v, tuple) else v) for p, v in recs}
    assert flat == want
    assert fmt_lwm2m_cbor.decode(data, (S.OID,), F.any_type) == recs


def test_lwm2m_cbor_reads_plain_nested_maps_from_cbor2():
    reg, _ = F.make_registry()
    data = cbor2.dumps({3: {0: {9: 80, 14: "+01:00", 6: {0: 1, 1: 5}}}})
    assert fmt_lwm2m_cbor.decode(data, (3, 0), reg.type_of) == [
        ((3, 0, 6, 0), 1), ((3, 0, 6, 1), 5), ((3, 0, 9), 80), ((3, 0, 14), "+01:00")]
    tagged = cbor2.dumps({1: {0: {12: cbor2.CBORTag(1, 1700000000)}}})
    assert fmt_lwm2m_cbor.decode(tagged, (1, 0), reg.type_of) == [((1, 0, 12), 1700000000)]


@settings(max_examples=150, deadline=None)
@given(S.record_sets(finite_json=True))
def test_senml_json_roundtrip_and_plain_json(recs):
    import json

    data = fmt_senml_json.encode(recs, (S.OID,))
    doc = json.loads(data)
    assert len(doc) == len(recs) and all(isinstance(e, dict) for e in doc)
    assert fmt_senml_json.decode(data, (S.OID,), F.any_type) == recs


def test_senml_json_vd_is_base64url_without_padding():
    data = fmt_senml_json.encode([((5, 0, 5), b"\xfb\xef\xff")], (5, 0, 5))
    assert data == b'[{"bn":"/5/0/5","vd":"--__"}]'
    assert model.BAD_REQUEST == F.raises(model.BAD_REQUEST, fmt_senml_json.decode,
                                         b'[{"bn":"/5/0/5","vd":"A"}]', (5, 0), F.any_type).code
