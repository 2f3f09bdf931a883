"""SenML record model shared by SenML JSON (110) and SenML CBOR (112) (RFC 8428; OMA-TS-
LightweightM2M_Core-V1_1 §7.4.4/§7.4.5), sans-I/O; no wire format here.

  entries(records, base_path) -> generator of (bn, bt, n, t, label, value) tuples, None for
      an absent field; bn/bt are given only when they change; label is one of "v" "vs" "vb"
      "vd" "vlo" (value then "oid:iid"), or None for a record without value. Records may carry
      a third element, an absolute time in seconds.
  objlnk_from_text(s, where) -> (oid, iid)
  to_records(entries, base_path, type_of) -> records
      resolves bn+n and bt+t, checks every name is a path under base_path and converts each
      value to the resource type. An entry with no value (Read-Composite / Observe-Composite
      requests) gives value None and no type lookup. Errors: model.Error 4.00 (4.04 from
      type_of for an unknown resource).
"""

from lwm2m import model
from lwm2m import path as lpath
from lwm2m.model import Error, BAD_REQUEST

_VALUE_KEYS = ("v", "vs", "vb", "vd", "vlo")


def _rest(path, k):
    n = len(path) - k
    if n == 1:
        return str(path[k])
    if n == 2:
        return "%d/%d" % (path[k], path[k + 1])
    return "/".join([str(p) for p in path[k:]])


def _label(value):
    if isinstance(value, bool):
        return "vb", value
    if isinstance(value, (int, float)):
        return "v", value
    if isinstance(value, str):
        return "vs", value
    if isinstance(value, tuple):
        return "vlo", "%d:%d" % value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "vd", value
    if value is None:
        return None, None
    raise Error(model.INTERNAL_SERVER_ERROR, "senml: cannot encode %s" % type(value).__name__)


def entries(records, base_path):
    nb = len(base_path)
    cur = None  # the path whose first cur_k ids the current bn stands for
    cur_k = 0
    bt = None
    for rec in records:
        path = rec[0]
        # bn is the request path (/oid/iid/ for a composite read from the root); n the rest.
        k = min(2, len(path)) if nb == 0 else nb
        bn = n = None
        if len(path) == k:
            bn = lpath.fmt(path)
            cur = None
        else:
            same = cur is not None and cur_k == k
            i = 0
            while same and i < k:
                same = cur[i] == path[i]
                i += 1
            if not same:
                cur, cur_k = path, k
                bn = lpath.fmt(path[:k]) + "/"
            n = _rest(path, k)
        ebt = t = None
        if len(rec) > 2 and rec[2] is not None:
            if bt is None:
                bt = ebt = rec[2]
            elif rec[2] != bt:
                t = rec[2] - bt
        label, value = _label(rec[1])
        yield bn, ebt, n, t, label, value


def objlnk_from_text(s, where):
    if isinstance(s, str):
        parts = s.split(":")
        if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit() \
                and len(parts[0]) < 6 and len(parts[1]) < 6:
            return model.check_value(model.T_OBJLNK, (int(parts[0]), int(parts[1])), where)
    raise Error(BAD_REQUEST, "vlo %r is not oid:iid at %s" % (s, where))


def _convert(e, path, type_of):
    keys = [k for k in _VALUE_KEYS if k in e]
    where = lpath.fmt(path)
    if not keys:
        return None
    if len(keys) > 1:
        raise Error(BAD_REQUEST, "several values at %s" % where)
    k = keys[0]
    v = e[k]
    typ = type_of(path)
    if k == "v":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise Error(BAD_REQUEST, "v is not a number at %s" % where)
        if typ == model.T_FLOAT:
            return float(v)
        if typ in (model.T_INT, model.T_UINT, model.T_TIME):
            if isinstance(v, float):
                if v != v or v in (float("inf"), float("-inf")) or v != int(v):
                    raise Error(BAD_REQUEST, "v %r is not an integer at %s" % (v, where))
                v = int(v)
            return model.check_value(typ, v, where)
    elif k == "vs":
        if typ in (model.T_STRING, model.T_CORELNK) and isinstance(v, str):
            return v
    elif k == "vb":
        if typ == model.T_BOOL and isinstance(v, bool):
            return v
    elif k == "vd":
        if typ == model.T_OPAQUE and isinstance(v, bytes):
            return v
    elif typ == model.T_OBJLNK:
        return objlnk_from_text(v, where)
    raise Error(BAD_REQUEST, "%s does not fit the type of %s" % (k, where))


def to_records(items, base_path, type_of):
    try:
        return _to_records(items, base_path, type_of)
    except Error:
        raise
    except Exception as exc:  # whatever the document held, the answer is only ever 4.00
        raise Error(BAD_REQUEST, "senml invalid (%s)" % type(exc).__name__)


def _to_records(items, base_path, type_of):
    base = tuple(base_path)
    bn = ""
    bt = None
    out = []
    for e in items:
        if not isinstance(e, dict):
            raise Error(BAD_REQUEST, "senml record is not a map")
        if "bn" in e:
            bn = e["bn"]
            if not isinstance(bn, str):
                raise Error(BAD_REQUEST, "bn is not a string")
        n = e.get("n", "")
        if not isinstance(n, str):
            raise Error(BAD_REQUEST, "n is not a string")
        if "bt" in e:
            bt = e["bt"]
            if isinstance(bt, bool) or not isinstance(bt, (int, float)):
                raise Error(BAD_REQUEST, "bt is not a number")
        t = e.get("t", None)
        if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float))):
            raise Error(BAD_REQUEST, "t is not a number")
        name = bn + n
        path = lpath.parse(name)
        if name[:1] != "/" or not lpath.is_prefix(base, path):
            raise Error(BAD_REQUEST, "name %r outside %s" % (name, lpath.fmt(base)))
        value = _convert(e, path, type_of)
        if bt is not None or t is not None:
            out.append((path, value, (bt or 0) + (t or 0)))
        else:
            out.append((path, value))
    return out
