"""LwM2M CBOR, content-format 11544 (OMA-TS-LightweightM2M_Core-V1_2 §7.4.6), sans-I/O.

  encode(records, base_path, type_of=None) -> bytes
  decode(data, base_path, type_of) -> records
The payload is nested maps keyed by path components from the root; a chain of single children
is written as one array key ({[3, 0]: {0: "x", 1: "y"}}), which is the shortest form. Objlnk
values are text "oid:iid", Opaque values byte strings, Time integer seconds (a tag 1 on input is
skipped). A null leaf (composite requests) decodes to value None. Malformed input raises
model.Error 4.00.
"""

from micropython import const

from lwm2m import cbor
from lwm2m import fmt_senml
from lwm2m import model
from lwm2m import path as lpath
from lwm2m.model import Error, BAD_REQUEST

CT = const(11544)


def _leaf(enc, value):
    if isinstance(value, tuple):
        enc.text("%d:%d" % value)
    else:
        enc.value(value)


def _enc(enc, recs, d):
    groups = []
    for r in recs:
        if groups and groups[-1][-1][0][d] == r[0][d]:
            groups[-1].append(r)
        else:
            groups.append([r])
    enc.map(len(groups))
    for g in groups:
        k = d + 1
        while all(len(r[0]) > k and r[0][k] == g[0][0][k] for r in g):
            k += 1
        if k == d + 1:
            enc.uint(g[0][0][d])
        else:
            enc.array(k - d)
            for p in g[0][0][d:k]:
                enc.uint(p)
        if len(g) == 1 and len(g[0][0]) == k:
            _leaf(enc, g[0][1])
        else:
            _enc(enc, g, k)


def encode(records, base_path, type_of=None):
    enc = cbor.Encoder()
    if records:
        _enc(enc, records, 0)
    else:
        enc.map(0)
    return enc.getvalue()


def _convert(v, path, type_of):
    where = lpath.fmt(path)
    if v is None:
        return None
    typ = type_of(path)
    if typ == model.T_OBJLNK:
        return fmt_senml.objlnk_from_text(v, where)
    if typ == model.T_FLOAT and isinstance(v, int) and not isinstance(v, bool):
        return float(v)
    return model.check_value(typ, v, where)


def _walk(node, prefix, base, type_of, out):
    for k, v in node.items():
        if isinstance(k, int) and not isinstance(k, bool):
            p = prefix + (k,)
        elif isinstance(k, tuple) and k and all(isinstance(x, int) and not isinstance(x, bool)
                                               for x in k):
            p = prefix + k
        else:
            raise Error(BAD_REQUEST, "lwm2m cbor key %r is not a path component" % (k,))
        if len(p) > 4 or any(x < 0 or x > 65534 for x in p):
            raise Error(BAD_REQUEST, "lwm2m cbor path %r invalid" % (p,))
        if isinstance(v, dict):
            _walk(v, p, base, type_of, out)
            continue
        if not lpath.is_prefix(base, p) or (len(p) < 3 and v is not None):
            raise Error(BAD_REQUEST, "lwm2m cbor value at %s outside %s" % (lpath.fmt(p), lpath.fmt(base)))
        out.append((p, _convert(v, p, type_of)))


def decode(data, base_path, type_of):
    doc = cbor.loads(data, max_depth=8)
    if not isinstance(doc, dict):
        raise Error(BAD_REQUEST, "lwm2m cbor is not a map")
    out = []
    try:
        _walk(doc, (), tuple(base_path), type_of, out)
    except Error:
        raise
    except Exception as exc:
        raise Error(BAD_REQUEST, "lwm2m cbor invalid (%s)" % type(exc).__name__)
    out.sort(key=lambda r: r[0])
    return out
