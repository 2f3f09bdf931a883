"""Hypothesis strategies for LwM2M records whose types follow lwm2m_model_fixture.any_type
(rid % 9); rids >= 20 are multiple resources."""

from hypothesis import strategies as st

from lwm2m import model

OID = 5
_I64 = st.integers(-(1 << 63), (1 << 63) - 1)


def value_for(typ, finite_json=False):
    if typ in (model.T_STRING, model.T_CORELNK):
        return st.text(max_size=20)
    if typ in (model.T_INT, model.T_TIME):
        return _I64
    if typ == model.T_UINT:
        return st.integers(0, (1 << 64) - 1)
    if typ == model.T_FLOAT:
        return st.floats(allow_nan=False, allow_infinity=not finite_json)
    if typ == model.T_BOOL:
        return st.booleans()
    if typ == model.T_OPAQUE:
        return st.binary(max_size=40)
    return st.tuples(st.integers(0, 65535), st.integers(0, 65535))


@st.composite
def record_sets(draw, finite_json=False, one_instance=False):
    paths = set()
    for _ in range(draw(st.integers(1, 8))):
        iid = 0 if one_instance else draw(st.integers(0, 3))
        rid = draw(st.integers(0, 30))
        if rid >= 20:
            paths.add((OID, iid, rid, draw(st.integers(0, 300))))
        else:
            paths.add((OID, iid, rid))
    return [(p, draw(value_for(p[2] % 9, finite_json))) for p in sorted(paths)]
