"""SenML JSON, content-format 110 (RFC 8428; OMA-TS-LightweightM2M_Core-V1_1 §7.4.4), sans-I/O.

  encode(records, base_path, type_of=None) -> bytes
  encode_to(write, records, base_path)            streams one record at a time to write(bytes)
  decode(data, base_path, type_of) -> records
Output is compact (no spaces), bn written when it changes, vd is base64url without padding
(RFC 8428 §4.3; decoding also takes the standard alphabet and padding). Names and values follow
lwm2m/fmt_senml.py. Malformed input raises model.Error 4.00.
"""

import binascii
import json

from micropython import const

from lwm2m import fmt_senml
from lwm2m import model
from lwm2m.model import Error, BAD_REQUEST

CT = const(110)


def _b64url(b):
    s = binascii.b2a_base64(b).decode().rstrip("\n").rstrip("=")
    return s.replace("+", "-").replace("/", "_")


def _unb64(s, where):
    if not isinstance(s, str):
        raise Error(BAD_REQUEST, "vd is not a string at %s" % where)
    s = s.replace("-", "+").replace("_", "/").rstrip("=")
    if len(s) % 4 == 1:
        raise Error(BAD_REQUEST, "vd is not base64 at %s" % where)
    try:
        return binascii.a2b_base64(s + "=" * (-len(s) % 4))
    except Exception:
        raise Error(BAD_REQUEST, "vd is not base64 at %s" % where)


def _scalar(v):
    if isinstance(v, bool):
        return b"true" if v else b"false"
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            raise Error(model.INTERNAL_SERVER_ERROR, "senml json has no NaN/Infinity")
        return repr(v).encode()
    if isinstance(v, int):
        return str(v).encode()
    if isinstance(v, (bytes, bytearray, memoryview)):
        return b'"' + _b64url(bytes(v)).encode() + b'"'
    return json.dumps(v).encode()


_HEADS = (b'"bn":', b'"bt":', b'"n":', b'"t":')
_VALUE_HEADS = {"v": b'"v":', "vs": b'"vs":', "vb": b'"vb":', "vd": b'"vd":', "vlo": b'"vlo":'}


def encode_to(write, records, base_path):
    """Writes the array piece by piece; only one record's small strings exist at a time."""
    write(b"[")
    first_rec = True
    for bn, bt, n, t, label, value in fmt_senml.entries(records, base_path):
        write(b"{" if first_rec else b",{")
        first_rec = False
        first = True
        fields = (bn, bt, n, t)
        for i in range(4):
            if fields[i] is not None:
                if not first:
                    write(b",")
                first = False
                write(_HEADS[i])
                write(_scalar(fields[i]))
        if label is not None:
            if not first:
                write(b",")
            write(_VALUE_HEADS[label])
            write(_scalar(value))
        write(b"}")
    write(b"]")


def encode(records, base_path, type_of=None):
    out = bytearray()
    encode_to(out.extend, records, base_path)
    return bytes(out)


def decode(data, base_path, type_of):
    try:
        doc = json.loads(bytes(data).decode())
    except Exception as exc:
        raise Error(BAD_REQUEST, "senml json does not parse (%s)" % type(exc).__name__)
    if not isinstance(doc, list):
        raise Error(BAD_REQUEST, "senml json is not an array")
    for e in doc:
        if isinstance(e, dict) and "vd" in e:
            e["vd"] = _unb64(e["vd"], e.get("n", ""))
    return fmt_senml.to_records(doc, base_path, type_of)
