"""LwM2M paths "/oid/iid/rid/riid" (OMA-TS-LightweightM2M_Core-V1_1 §6.1), sans-I/O.

  parse(text) -> tuple of 0..4 ints      "/" and "" give (); errors: model.Error 4.00 naming
                                          the field (oid, iid, rid, riid)
  from_segments(segs) -> tuple            CoAP Uri-Path options (list of str/bytes) to a path
  fmt(path) -> str                        () gives "/"
  is_prefix(prefix, path) -> bool
Every id is 0..65534 (65535 is reserved as "no id" by the TS).
"""

from micropython import const

from lwm2m.model import Error, BAD_REQUEST

_MAX_ID = const(65534)
_NAMES = ("oid", "iid", "rid", "riid")


def _text(b, what):
    try:
        return bytes(b).decode()
    except Exception:
        raise Error(BAD_REQUEST, "path %s is not UTF-8" % what)


def _num(seg, idx):
    if isinstance(seg, (bytes, bytearray, memoryview)):
        seg = _text(seg, _NAMES[idx])
    # int() would accept " 1", "+1" and "1_0"; a path segment is plain decimal digits.
    if not seg or len(seg) > 5 or not seg.isdigit():
        raise Error(BAD_REQUEST, "path %s %r is not a number" % (_NAMES[idx], seg))
    n = int(seg)
    if n > _MAX_ID:
        raise Error(BAD_REQUEST, "path %s %d out of range 0..65534" % (_NAMES[idx], n))
    return n


def from_segments(segs):
    if len(segs) > 4:
        raise Error(BAD_REQUEST, "path has %d segments, at most 4" % len(segs))
    return tuple(_num(s, i) for i, s in enumerate(segs))


def parse(text):
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = _text(text, "")
    if text in ("", "/"):
        return ()
    if text[0] == "/":
        text = text[1:]
    return from_segments(text.split("/"))


def fmt(path):
    return "/" + "/".join([str(p) for p in path])


def is_prefix(prefix, path):
    return len(prefix) <= len(path) and tuple(path[:len(prefix)]) == tuple(prefix)
