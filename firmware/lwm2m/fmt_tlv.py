"""OMA TLV, content-format 11542 (OMA-TS-LightweightM2M_Core-V1_1 §7.4.3), sans-I/O.

  encode(records, base_path, type_of=None) -> bytes
  decode(data, base_path, type_of) -> records
base_path is the request path: /oid gives Object Instance TLVs, /oid/iid Resource and Multiple
Resource TLVs, /oid/iid/rid one Resource (or Multiple Resource) TLV, a 4-part path one Resource
Instance TLV. type_of(path) gives the resource type (model.T_*); it tells unsigned integers
(and, on decode, every type) apart. Identifiers are written in 8 bits when they fit, lengths
in the shortest of 3-bit/8/16/24 bits. A Create payload without an Object Instance TLV decodes
to records with iid model.NO_IID. Malformed input raises model.Error 4.00.
"""

import struct

from micropython import const

from lwm2m import model
from lwm2m.model import Error, BAD_REQUEST, NOT_ACCEPTABLE

CT = const(11542)

_OBJ_INST = const(0)
_RES_INST = const(1)
_MULTI_RES = const(2)
_RES = const(3)
_MAX_LEN = const(0xFFFFFF)
_KIND = ("object instance", "resource instance", "multiple resource", "resource")


def _header(out, kind, ident, length):
    if length > _MAX_LEN:
        raise Error(model.REQUEST_ENTITY_TOO_LARGE, "tlv value of %d bytes" % length)
    t = kind << 6
    idb = bytes((ident,)) if ident < 0x100 else struct.pack(">H", ident)
    if ident >= 0x100:
        t |= 0x20
    if length < 8:
        out.append(t | length)
        out.extend(idb)
        return
    if length < 0x100:
        lb = bytes((length,))
        t |= 0x08
    elif length < 0x10000:
        lb = struct.pack(">H", length)
        t |= 0x10
    else:
        lb = struct.pack(">I", length)[1:]
        t |= 0x18
    out.append(t)
    out.extend(idb)
    out.extend(lb)


def _int_bytes(v, signed=True):
    for n, fmt in ((1, ">b"), (2, ">h"), (4, ">i")):
        lim = 1 << (8 * n - 1)
        if (-lim <= v < lim) if signed else (0 <= v < 2 * lim):
            return struct.pack(fmt if signed else fmt.upper(), v)
    hi, lo = (v >> 32) & 0xFFFFFFFF, v & 0xFFFFFFFF
    return struct.pack(">II", hi, lo)


def value_bytes(value, typ=None):
    """The TLV value field for one resource value."""
    if isinstance(value, bool):
        return b"\x01" if value else b"\x00"
    if isinstance(value, int):
        return _int_bytes(value, typ != model.T_UINT)
    if isinstance(value, float):
        try:
            b = struct.pack(">f", value)
            if struct.unpack(">f", b)[0] == value or value != value:
                return b
        except OverflowError:  # CPython refuses what MicroPython turns into infinity
            pass
        return struct.pack(">d", value)
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, tuple):
        return struct.pack(">HH", value[0], value[1])
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise Error(model.INTERNAL_SERVER_ERROR, "tlv: cannot encode %s" % type(value).__name__)


def _item(out, kind, ident, payload):
    _header(out, kind, ident, len(payload))
    out.extend(payload)


def _resources(out, recs, type_of):
    """Resource / Multiple Resource TLVs for the records of one instance (sorted by path)."""
    i = 0
    while i < len(recs):
        path = recs[i][0]
        typ = type_of(path) if type_of else None
        if len(path) == 3:
            _item(out, _RES, path[2], value_bytes(recs[i][1], typ))
            i += 1
            continue
        inner = bytearray()
        rid = path[2]
        while i < len(recs) and len(recs[i][0]) == 4 and recs[i][0][2] == rid:
            _item(inner, _RES_INST, recs[i][0][3], value_bytes(recs[i][1], typ))
            i += 1
        _item(out, _MULTI_RES, rid, inner)


def encode(records, base_path, type_of=None):
    out = bytearray()
    depth = len(base_path)
    if depth == 0:
        raise Error(NOT_ACCEPTABLE, "tlv cannot carry several objects")
    if depth == 4:
        for rec in records:
            typ = type_of(rec[0]) if type_of else None
            _item(out, _RES_INST, rec[0][3], value_bytes(rec[1], typ))
        return bytes(out)
    if depth >= 2:
        _resources(out, records, type_of)
        return bytes(out)
    i = 0
    while i < len(records):
        iid = records[i][0][1]
        j = i
        while j < len(records) and records[j][0][1] == iid:
            j += 1
        inner = bytearray()
        _resources(inner, records[i:j], type_of)
        _item(out, _OBJ_INST, iid, inner)
        i = j
    return bytes(out)


def _parse(buf, pos, end):
    """One TLV at pos: (kind, ident, value_start, value_end)."""
    if pos >= end:
        raise Error(BAD_REQUEST, "tlv truncated at %d" % pos)
    t = buf[pos]
    pos += 1
    idlen = 2 if t & 0x20 else 1
    ltype = (t >> 3) & 3
    if pos + idlen + ltype > end:
        raise Error(BAD_REQUEST, "tlv header truncated at %d" % pos)
    ident = buf[pos] if idlen == 1 else (buf[pos] << 8) | buf[pos + 1]
    pos += idlen
    if ltype == 0:
        length = t & 7
    else:
        length = 0
        for _ in range(ltype):
            length = (length << 8) | buf[pos]
            pos += 1
    if pos + length > end:
        raise Error(BAD_REQUEST, "tlv id %d length %d exceeds payload" % (ident, length))
    if ident > 65534:
        raise Error(BAD_REQUEST, "tlv id 65535 is reserved")
    return t >> 6, ident, pos, pos + length


def value_from(b, typ, where):
    """Decode a TLV value field of resource type typ."""
    n = len(b)
    try:
        if typ == model.T_STRING or typ == model.T_CORELNK:
            return b.decode()
        if typ == model.T_OPAQUE:
            return b
        if typ == model.T_INT or typ == model.T_TIME or typ == model.T_UINT:
            if n not in (1, 2, 4, 8):
                raise Error(BAD_REQUEST, "tlv integer of %d bytes at %s" % (n, where))
            v = int.from_bytes(b, "big")
            if typ != model.T_UINT and b[0] & 0x80:
                v -= 1 << (8 * n)
            return v
        if typ == model.T_FLOAT:
            if n == 4:
                return struct.unpack(">f", b)[0]
            if n == 8:
                return struct.unpack(">d", b)[0]
        elif typ == model.T_BOOL:
            if n == 1 and b[0] < 2:
                return b[0] == 1
        elif typ == model.T_OBJLNK:
            if n == 4:
                return struct.unpack(">HH", b)
    except Error:
        raise
    except Exception:
        pass
    raise Error(BAD_REQUEST, "tlv value invalid for %s" % where)


def _leaf(buf, vs, ve, path, type_of, out):
    out.append((path, value_from(bytes(buf[vs:ve]), type_of(path), model.path_str(path))))


def _instance_content(buf, start, end, ipath, type_of, out):
    pos = start
    while pos < end:
        kind, ident, vs, ve = _parse(buf, pos, end)
        _resource(buf, kind, ident, vs, ve, ipath + (ident,), type_of, out)
        pos = ve


def _resource(buf, kind, ident, vs, ve, rpath, type_of, out):
    if kind == _RES:
        _leaf(buf, vs, ve, rpath, type_of, out)
    elif kind == _MULTI_RES:
        type_of(rpath)  # an unknown resource stays 4.04
        try:
            type_of(rpath + (0,))
        except Error:
            raise Error(BAD_REQUEST, "tlv multiple resource for single %s" % model.path_str(rpath))
        pos = vs
        while pos < ve:
            k, riid, s, e = _parse(buf, pos, ve)
            if k != _RES_INST:
                raise Error(BAD_REQUEST, "tlv %s inside multiple resource" % _KIND[k])
            _leaf(buf, s, e, rpath + (riid,), type_of, out)
            pos = e
    else:
        raise Error(BAD_REQUEST, "tlv %s where a resource belongs" % _KIND[kind])


def decode(data, base_path, type_of):
    buf = memoryview(data)
    end = len(buf)
    depth = len(base_path)
    base = tuple(base_path)
    if depth == 0:
        raise Error(BAD_REQUEST, "tlv needs an object in the path")
    out = []
    pos = 0
    try:
        while pos < end:
            kind, ident, vs, ve = _parse(buf, pos, end)
            if kind == _OBJ_INST:
                if depth > 2 or (depth == 2 and ident != base[1]):
                    raise Error(BAD_REQUEST, "tlv object instance %d at %s" % (ident, model.path_str(base)))
                _instance_content(buf, vs, ve, (base[0], ident), type_of, out)
            elif kind == _RES or kind == _MULTI_RES:
                if depth == 4 or (depth == 3 and ident != base[2]):
                    raise Error(BAD_REQUEST, "tlv resource %d at %s" % (ident, model.path_str(base)))
                ipath = base[:2] if depth >= 2 else (base[0], model.NO_IID)
                _resource(buf, kind, ident, vs, ve, ipath + (ident,), type_of, out)
            else:
                if depth < 3 or (depth == 4 and ident != base[3]):
                    raise Error(BAD_REQUEST, "tlv resource instance %d at %s" % (ident, model.path_str(base)))
                _leaf(buf, vs, ve, base[:3] + (ident,), type_of, out)
            pos = ve
    except Error:
        raise
    except Exception as exc:
        raise Error(BAD_REQUEST, "tlv malformed (%s)" % type(exc).__name__)
    return out
