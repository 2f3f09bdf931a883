"""text/plain, content-format 0 (OMA-TS-LightweightM2M_Core-V1_1 §7.4.1), sans-I/O.

  encode(records, base_path, type_of=None) -> bytes   exactly one value, else 4.06
  decode(data, base_path, type_of) -> [(base_path, value)]
  value_text(value) -> str / parse_value(text, typ, where) -> value   (also used by SenML/links)
  exec_args(data) -> [(digit, text or None)]   Execute arguments "0='on',1" (Core §5.4.5)
Booleans are "0"/"1", Objlnk "oid:iid", Opaque is base64 (§7.4.1), Time is integer seconds.
Malformed input raises model.Error 4.00.
"""

import binascii

from micropython import const

from lwm2m import model
from lwm2m.model import Error, BAD_REQUEST, NOT_ACCEPTABLE

CT = const(0)
_NUM_CHARS = "0123456789+-.eE"


def value_text(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, str)):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, tuple):
        return "%d:%d" % value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return binascii.b2a_base64(bytes(value)).decode().rstrip("\n")
    raise Error(model.INTERNAL_SERVER_ERROR, "text: cannot encode %s" % type(value).__name__)


def _integer(s, where, unsigned=False):
    body = s[1:] if s[:1] == "-" and not unsigned else s
    if not body or not body.isdigit() or len(body) > 20:
        raise Error(BAD_REQUEST, "%r is not an integer for %s" % (s, where))
    return int(s)


def parse_value(s, typ, where):
    if typ == model.T_STRING or typ == model.T_CORELNK:
        return s
    if typ == model.T_INT or typ == model.T_TIME:
        return model.check_value(typ, _integer(s, where), where)
    if typ == model.T_UINT:
        return model.check_value(typ, _integer(s, where, True), where)
    if typ == model.T_FLOAT:
        if s and len(s) < 40 and all(c in _NUM_CHARS for c in s):
            try:
                return float(s)
            except ValueError:
                pass
        raise Error(BAD_REQUEST, "%r is not a float for %s" % (s, where))
    if typ == model.T_BOOL:
        if s == "0" or s == "1":
            return s == "1"
        raise Error(BAD_REQUEST, "%r is not a boolean (0/1) for %s" % (s, where))
    if typ == model.T_OBJLNK:
        parts = s.split(":")
        if len(parts) == 2:
            a = _integer(parts[0], where, True)
            b = _integer(parts[1], where, True)
            return model.check_value(typ, (a, b), where)
        raise Error(BAD_REQUEST, "%r is not an objlnk oid:iid for %s" % (s, where))
    if typ == model.T_OPAQUE:
        try:
            return binascii.a2b_base64(s)
        except Exception:
            raise Error(BAD_REQUEST, "opaque for %s is not base64" % where)
    raise Error(BAD_REQUEST, "no text form for %s" % where)


def encode(records, base_path, type_of=None):
    if len(records) != 1 or len(base_path) < 3 or len(records[0][0]) != len(base_path):
        raise Error(NOT_ACCEPTABLE, "text/plain carries exactly one value")
    return value_text(records[0][1]).encode()


def decode(data, base_path, type_of):
    where = model.path_str(base_path)
    if len(base_path) < 3:
        raise Error(BAD_REQUEST, "text/plain needs a resource path, not %s" % where)
    typ = type_of(base_path)
    try:
        s = bytes(data).decode()
    except Exception:
        raise Error(BAD_REQUEST, "text for %s is not UTF-8" % where)
    return [(tuple(base_path), parse_value(s, typ, where))]


def exec_args(data):
    """Parse an Execute payload: arg *("," arg), arg = DIGIT ["=" "'" *CHAR "'"]; 4.00 if not."""
    try:
        s = bytes(data).decode()
    except Exception:
        raise Error(BAD_REQUEST, "execute arguments are not UTF-8")
    out = []
    i = 0
    n = len(s)
    while i < n:
        if not s[i].isdigit():
            raise Error(BAD_REQUEST, "execute argument %d: expected a digit" % len(out))
        digit = int(s[i])
        i += 1
        value = None
        if i < n and s[i] == "=":
            if i + 1 >= n or s[i + 1] != "'":
                raise Error(BAD_REQUEST, "execute argument %d: value must be quoted" % digit)
            end = s.find("'", i + 2)
            if end < 0:
                raise Error(BAD_REQUEST, "execute argument %d: unterminated value" % digit)
            value = s[i + 2:end]
            i = end + 1
        out.append((digit, value))
        if i < n:
            if s[i] != "," or i + 1 == n:
                raise Error(BAD_REQUEST, "execute arguments: ',' expected at %d" % i)
            i += 1
    return out
