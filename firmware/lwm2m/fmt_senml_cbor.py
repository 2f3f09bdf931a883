"""SenML CBOR, content-format 112 (RFC 8428 §6; OMA-TS-LightweightM2M_Core-V1_1 §7.4.5), sans-I/O.

  encode(records, base_path, type_of=None) -> bytes
  encode_to(write, records, base_path)            streams the array (definite length) to write
  decode(data, base_path, type_of) -> records
Labels are the RFC 8428 integer keys (-2 bn, -3 bt, 0 n, 6 t, 2 v, 3 vs, 4 vb, 8 vd) and the
text key "vlo" for Objlnk values; floats take the shortest exact CBOR float. Names and values
follow lwm2m/fmt_senml.py. Malformed input raises model.Error 4.00.
"""

from micropython import const

from lwm2m import cbor
from lwm2m import fmt_senml
from lwm2m.model import Error, BAD_REQUEST

CT = const(112)
# SenML name and CBOR label pairs, flat: a tuple of constants, which stays in flash when frozen.
_LABELS = ("bn", -2, "bt", -3, "n", 0, "t", 6, "v", 2, "vs", 3, "vb", 4, "vd", 8, "vlo", "vlo")
_HEAD_KEYS = (-2, -3, 0, 6)  # bn bt n t, in the order entries() gives them


def _label(name):
    i = _LABELS.index(name)
    return _LABELS[i + 1]


def _name(key):
    t = _LABELS
    for i in range(1, len(t), 2):
        k = t[i]
        # type first: 0 == False and "vlo" must not match an int key
        if type(k) is type(key) and k == key:
            return t[i - 1]
    return None


def encode_to(write, records, base_path):
    _emit(cbor.Encoder(write), records, base_path)


def _emit(enc, records, base_path):
    enc.array(len(records))
    for bn, bt, n, t, label, value in fmt_senml.entries(records, base_path):
        fields = (bn, bt, n, t)
        count = 0
        for f in fields:
            if f is not None:
                count += 1
        enc.map(count + (label is not None))
        for i in range(4):
            if fields[i] is not None:
                enc.int(_HEAD_KEYS[i])
                enc.value(fields[i])
        if label is not None:
            enc.value(_label(label))
            enc.value(value)


def encode(records, base_path, type_of=None):
    enc = cbor.Encoder()
    _emit(enc, records, base_path)
    return enc.getvalue()


def decode(data, base_path, type_of):
    doc = cbor.loads(data, max_depth=3)
    if not isinstance(doc, list):
        raise Error(BAD_REQUEST, "senml cbor is not an array")
    items = []
    for m in doc:
        if not isinstance(m, dict):
            raise Error(BAD_REQUEST, "senml cbor record is not a map")
        e = {}
        for k, v in m.items():
            name = _name(k)
            # Unknown labels below 0 are "must understand" only when they end in '_' (text
            # keys); integer ones LwM2M does not use are ignored, as RFC 8428 §4.4 allows.
            if name is not None:
                e[name] = v
        items.append(e)
    return fmt_senml.to_records(items, base_path, type_of)
