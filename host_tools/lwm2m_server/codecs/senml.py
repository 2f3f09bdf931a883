"""SenML (RFC 8428) as LwM2M uses it (Core 1.1 §7.4.4, §7.4.5): JSON (110) and CBOR (112).

One record model for both encodings; only the labels and the opaque representation differ.
LwM2M adds "vlo" (objlnk as "oid:iid"), a text label in both encodings."""

import base64
import json

import cbor2

from .. import paths, schema
from .values import ObjLnk, coerce

# label -> CBOR key (RFC 8428 §6, Table 4)
_CBOR_KEYS = {"bn": -2, "bt": -3, "bv": -5, "n": 0, "v": 2, "vs": 3, "vb": 4, "vd": 8, "t": 6, "vlo": "vlo"}
_CBOR_LABELS = {key: label for label, key in _CBOR_KEYS.items()}
_VALUE_LABELS = ("v", "vs", "vb", "vd", "vlo")


class SenMLError(ValueError):
    pass


def _b64url_decode(text):
    # strict: the stdlib url-safe decoder silently skips characters outside the alphabet
    std = text.replace("-", "+").replace("_", "/")
    return base64.b64decode(std + "=" * (-len(std) % 4), validate=True)


def _b64url_encode(data):
    return base64.urlsafe_b64encode(bytes(data)).rstrip(b"=").decode("ascii")


def _parse(payload, cbor):
    try:
        pack = cbor2.loads(payload) if cbor else json.loads(bytes(payload).decode("utf-8"))
    except Exception as exc:
        raise SenMLError("not SenML %s: %s" % ("CBOR" if cbor else "JSON", exc)) from None
    if not isinstance(pack, list) or not all(isinstance(r, dict) for r in pack):
        raise SenMLError("SenML pack must be an array of maps")
    if cbor:
        pack = [{_CBOR_LABELS.get(k, k): v for k, v in rec.items()} for rec in pack]
    return pack


def records(payload, cbor=False, types=None):
    """Resolve a pack into a list of (path, value, time); value None for name-only records."""
    out = []
    bn, bt, bv = "", 0, None
    for rec in _parse(payload, cbor):
        bn = rec.get("bn", bn)
        bt = rec.get("bt", bt)
        bv = rec.get("bv", bv)
        n = rec.get("n", "")
        if not isinstance(bn, str) or not isinstance(n, str):
            raise SenMLError("record name bn=%r n=%r is not text" % (bn, n))
        for label, number in (("bt", bt), ("bv", bv), ("t", rec.get("t", 0))):
            if number is not None and (isinstance(number, bool) or not isinstance(number, (int, float))):
                raise SenMLError("%s=%r is not a number" % (label, number))
        name = bn + n
        try:
            ids = paths.parse(name)
        except ValueError as exc:
            raise SenMLError(str(exc)) from None
        value = None
        present = [label for label in _VALUE_LABELS if label in rec]
        if len(present) > 1:
            raise SenMLError("%s: more than one value (%s)" % (name, ", ".join(present)))
        if present:
            label = present[0]
            value = rec[label]
            if label == "v":
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise SenMLError("%s: v=%r is not a number" % (name, value))
                if bv is not None:
                    value += bv
            elif label == "vd":
                if not isinstance(value, (bytes, str)) or isinstance(value, bytes) != cbor:
                    raise SenMLError("%s: vd=%r is not %s" % (name, value, "bytes" if cbor else "base64url"))
                try:
                    value = bytes(value) if cbor else _b64url_decode(value)
                except ValueError as exc:
                    raise SenMLError("%s: vd: %s" % (name, exc)) from None
            elif label == "vlo":
                if not isinstance(value, str):
                    raise SenMLError("%s: vlo=%r is not text" % (name, value))
                value = ObjLnk.parse(value)
            elif label == "vb" and not isinstance(value, bool):
                raise SenMLError("%s: vb=%r is not a boolean" % (name, value))
            elif label == "vs" and not isinstance(value, str):
                raise SenMLError("%s: vs=%r is not text" % (name, value))
            value = coerce(value, schema.type_of(ids, types))
        t = rec.get("t", 0) + bt if ("t" in rec or bt) else None
        out.append((paths.fmt(ids), value, t))
    return out


def decode(payload, cbor=False, types=None):
    """{path: value}; with several timestamped records for one path the last one wins."""
    return {path: value for path, value, _ in records(payload, cbor, types)}


def _value_field(value):
    if isinstance(value, bool):
        return "vb", value
    if isinstance(value, ObjLnk):
        return "vlo", str(value)
    if isinstance(value, (int, float)):
        return "v", value
    if isinstance(value, str):
        return "vs", value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "vd", bytes(value)
    raise SenMLError("no SenML value field for %r" % (value,))


def encode(values, base="/", cbor=False, times=None):
    """{path: value} -> pack. A value of None gives a name-only record (composite read/observe
    request bodies). Names are relative to bn=base when every path lies under it."""
    base_txt = paths.normalize(base)
    prefix = base_txt + "/"
    norm = [paths.normalize(p) for p in values]
    use_bn = base_txt != "/" and all(p.startswith(prefix) for p in norm)
    pack = []
    for i, (path, value) in enumerate(zip(norm, values.values())):
        rec = {}
        if use_bn:
            if i == 0:
                rec["bn"] = prefix
            rec["n"] = path[len(prefix):]
        else:
            rec["n"] = path
        if times and path in times:
            rec["t"] = times[path]
        if value is not None:
            label, field = _value_field(value)
            rec[label] = field if (cbor or label != "vd") else _b64url_encode(field)
        pack.append(rec)
    if cbor:
        return cbor2.dumps([{_CBOR_KEYS[k]: v for k, v in rec.items()} for rec in pack])
    return json.dumps(pack, separators=(",", ":")).encode("utf-8")


def encode_paths(path_list, cbor=False):
    """Body of a composite Read/Observe (FETCH): name-only records."""
    return encode({p: None for p in path_list}, "/", cbor)
