"""Every decoder, fed arbitrary bytes (or mutated valid payloads), fails only with model.Error
4.00; text/plain roundtrips every type; an invalid write never changes the model."""

from hypothesis import given, settings, strategies as st

from lwm2m import (cbor, fmt_lwm2m_cbor, fmt_opaque, fmt_senml_cbor, fmt_senml_json, fmt_text,
                   fmt_tlv, linkformat, model)
from lwm2m import path as lpath
import lwm2m_model_fixture as F
import lwm2m_model_strategies as S

_DECODERS = (fmt_tlv, fmt_senml_json, fmt_senml_cbor, fmt_lwm2m_cbor, fmt_text, fmt_opaque)
_BASES = [(S.OID,), (S.OID, 0), (S.OID, 0, 3), (S.OID, 0, 21), (S.OID, 0, 21, 4), ()]


def _only_bad_request(fn, *args):
    try:
        fn(*args)
    except model.Error as exc:
        assert exc.code == model.BAD_REQUEST, exc
    # success is fine too: many byte strings are valid payloads


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=80), st.sampled_from(_DECODERS), st.sampled_from(_BASES))
def test_decoders_arbitrary_bytes_raise_only_bad_request(data, codec, base):
    if codec in (fmt_tlv,) and not base:
        base = (S.OID,)
    if codec in (fmt_text, fmt_opaque) and len(base) < 3:
        base = (S.OID, 0, 3)
    _only_bad_request(codec.decode, data, base, F.any_type)


@settings(max_examples=300, deadline=None)
@given(S.record_sets(finite_json=True), st.sampled_from((fmt_tlv, fmt_senml_json, fmt_senml_cbor,
                                                          fmt_lwm2m_cbor)),
       st.integers(0, 1000), st.integers(0, 255))
def test_decoders_mutated_payloads_raise_only_bad_request(recs, codec, pos, byte):
    data = bytearray(codec.encode(recs, (S.OID,), F.any_type))
    if data:
        data[pos % len(data)] = byte
    _only_bad_request(codec.decode, bytes(data[:len(data) - pos % 3]), (S.OID,), F.any_type)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_cbor_linkformat_path_exec_args_arbitrary_input(data):
    _only_bad_request(cbor.loads, data)
    _only_bad_request(linkformat.parse, data)
    _only_bad_request(lpath.parse, data)
    _only_bad_request(fmt_text.exec_args, data)


@settings(max_examples=200, deadline=None)
@given(S.record_sets(finite_json=True).map(lambda r: r[0]))
def test_text_plain_roundtrip_every_type(rec):
    path, value = rec
    data = fmt_text.encode([rec], path)
    assert fmt_text.decode(data, path, F.any_type) == [(path, value)]


_SERVER_WRITES = st.lists(st.tuples(
    st.sampled_from([0, 1, 2, 3, 5, 6, 7, 10, 14, 17, 22, 24, 99]),
    st.one_of(st.integers(-5, 100000), st.text(max_size=5), st.booleans(), st.none(),
              st.tuples(st.integers(0, 3), st.integers(0, 3)))), min_size=1, max_size=5)


@settings(max_examples=300, deadline=None)
@given(_SERVER_WRITES, st.booleans())
def test_server_write_is_all_or_nothing(writes, replace):
    reg, _ = F.make_registry()
    obj = reg.get_object(1)
    before = {k: (dict(v) if isinstance(v, dict) else v) for k, v in obj.instances[0].items()}
    seen = []
    reg.listeners.append(seen.append)
    recs = [((1, 0, rid, 0) if rid == 24 else (1, 0, rid), v) for rid, v in writes]
    try:
        reg.write((1, 0), recs, replace=replace)
    except model.Error as exc:
        assert exc.code in (model.BAD_REQUEST, model.NOT_FOUND, model.METHOD_NOT_ALLOWED)
        assert obj.instances[0] == before and seen == []
        return
    for path, value in dict(recs).items():  # the last record for a path wins
        got = reg.get(path)
        assert got == value or (isinstance(value, int) and got == float(value))


_PATHS = st.lists(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 11, 13, 24, 99, 65534]),
                  max_size=4).map(tuple)
_VALS = st.one_of(st.integers(-3, 300), st.text(max_size=4), st.booleans(), st.none(),
                  st.binary(max_size=3), st.floats(allow_nan=False),
                  st.tuples(st.integers(0, 3), st.integers(0, 3)))
_OPS = st.lists(st.tuples(st.sampled_from(["read", "write", "replace", "bs_write", "execute",
                                           "create", "delete", "bs_delete", "discover",
                                           "get", "set", "type_of", "links"]),
                          _PATHS, st.lists(st.tuples(_PATHS, _VALS), max_size=3)),
                min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(_OPS)
def test_any_operation_sequence_raises_only_model_errors(ops):
    reg, _ = F.make_registry()
    reg.get_object(1).exec_hooks[8] = lambda iid, arg: None
    for op, path, recs in ops:
        try:
            if op == "read":
                reg.read(path)
            elif op in ("write", "replace", "bs_write"):
                reg.write(path, recs, replace=op == "replace", bootstrap=op == "bs_write")
            elif op == "execute":
                reg.execute(path)
            elif op == "create":
                reg.create(path[0] if path else 1, recs)
            elif op in ("delete", "bs_delete"):
                reg.delete(path, bootstrap=op == "bs_delete")
            elif op == "discover":
                linkformat.discover(reg, path)
            elif op == "get":
                reg.get(path)
            elif op == "set" and recs:
                reg.set(path, recs[0][1])
            elif op == "type_of":
                reg.type_of(path)
            else:
                linkformat.registration(reg, 11543)
                linkformat.bootstrap_discover(reg)
        except model.Error:
            pass
    # Whatever happened, every remaining value is readable and encodable.
    for obj in reg.objects():
        for iid in obj.iids():
            recs = reg.read((obj.oid, iid), server=False)
            fmt_senml_cbor.encode(recs, (obj.oid, iid))
