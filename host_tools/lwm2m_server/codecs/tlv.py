"""OMA-TLV (Core 1.1 §7.4.3, content format 11542).

Type byte: bits 7-6 identifier kind, bit 5 identifier is 16 bit, bits 4-3 how the length is
given (in bits 2-0, or in 1/2/3 following bytes)."""

import struct

from .. import paths, schema
from .values import ObjLnk

_INSTANCE, _RES_INSTANCE, _MULTI_RES, _RESOURCE = 0, 1, 2, 3
_KIND_NAMES = ("object instance", "resource instance", "multiple resource", "resource")


class TLVError(ValueError):
    pass


def _header(kind, ident, length):
    head = kind << 6
    out = bytearray(1)
    if ident > 0xFF:
        head |= 0x20
        out += struct.pack(">H", ident)
    else:
        out.append(ident)
    if length < 8:
        head |= length
    elif length < 0x100:
        head |= 0x08
        out.append(length)
    elif length < 0x10000:
        head |= 0x10
        out += struct.pack(">H", length)
    elif length < 0x1000000:
        head |= 0x18
        out += length.to_bytes(3, "big")
    else:
        raise TLVError("value of %d bytes exceeds the 24-bit TLV length" % length)
    out[0] = head
    return bytes(out)


def encode_value(value):
    """Bytes of one value; the type follows the Python type (Core 1.1 Appendix C)."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x01" if value else b"\x00"
    if isinstance(value, ObjLnk):
        return struct.pack(">HH", value.oid, value.iid)
    if isinstance(value, int):
        for size, fmt_ in ((1, ">b"), (2, ">h"), (4, ">i"), (8, ">q")):
            if -(1 << (size * 8 - 1)) <= value < (1 << (size * 8 - 1)):
                return struct.pack(fmt_, value)
        raise TLVError("integer %d does not fit 64 bits" % value)
    if isinstance(value, float):
        return struct.pack(">d", value)
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TLVError("no TLV encoding for %r" % (value,))


def encode(values, base="/"):
    """Encode {path: value} (all paths under `base`) as TLV relative to the request target.

    Multiple-instance resources are recognised by 4-component paths."""
    base_ids = paths.parse(base)
    tree = {}
    for path, value in values.items():
        ids = paths.parse(path)
        if ids[:len(base_ids)] != base_ids or len(ids) < 3:
            raise TLVError("path %s is not a resource under %s" % (path, base))
        node = tree.setdefault(ids[1], {})
        if len(ids) == 4:
            node.setdefault(ids[2], {})[ids[3]] = value
        else:
            node[ids[2]] = value
    depth = len(base_ids)
    out = bytearray()
    for iid, resources in tree.items():
        body = _encode_resources(resources, depth, base_ids)
        out += _header(_INSTANCE, iid, len(body)) + body if depth <= 1 else body
    return bytes(out)


def _encode_resources(resources, depth, base_ids):
    out = bytearray()
    for rid, value in resources.items():
        if isinstance(value, dict):
            body = b"".join(
                _header(_RES_INSTANCE, riid, len(data)) + data
                for riid, data in ((riid, encode_value(v)) for riid, v in value.items())
            )
            if depth == 4:
                out += body  # target is one resource instance: no enclosing multiple resource
            else:
                out += _header(_MULTI_RES, rid, len(body)) + body
        else:
            data = encode_value(value)
            out += _header(_RESOURCE, rid, len(data)) + data
    return bytes(out)


def _elements(buf, start, end):
    """Yield (kind, ident, value_start, value_end) for each TLV in buf[start:end]."""
    pos = start
    while pos < end:
        head = buf[pos]
        pos += 1
        kind = head >> 6
        id_len = 2 if head & 0x20 else 1
        len_len = (head >> 3) & 0x03
        if pos + id_len + len_len > end:
            raise TLVError("TLV header at offset %d runs past the end" % (pos - 1))
        ident = int.from_bytes(buf[pos:pos + id_len], "big")
        pos += id_len
        if len_len:
            length = int.from_bytes(buf[pos:pos + len_len], "big")
            pos += len_len
        else:
            length = head & 0x07
        if pos + length > end:
            raise TLVError("%s %d: length %d runs past the end (offset %d)"
                           % (_KIND_NAMES[kind], ident, length, pos))
        yield kind, ident, pos, pos + length
        pos += length


def decode_value(data, letter):
    """Interpret TLV value bytes as type `letter` (None or unknown: bytes)."""
    data = bytes(data)
    if letter in ("i", "t"):
        if len(data) not in (1, 2, 4, 8):
            raise TLVError("integer of %d bytes" % len(data))
        return int.from_bytes(data, "big", signed=True)
    if letter == "u":
        return int.from_bytes(data, "big")
    if letter == "f":
        if len(data) == 4:
            return struct.unpack(">f", data)[0]
        if len(data) == 8:
            return struct.unpack(">d", data)[0]
        raise TLVError("float of %d bytes" % len(data))
    if letter == "b":
        if data not in (b"\x00", b"\x01"):
            raise TLVError("boolean value %r" % data)
        return data == b"\x01"
    if letter == "l":
        if len(data) != 4:
            raise TLVError("objlnk of %d bytes" % len(data))
        return ObjLnk(*struct.unpack(">HH", data))
    if letter == "s":
        return data.decode("utf-8")
    return data


def decode(payload, base="/", types=None, typed=True):
    """TLV payload of a response to `base` -> {path: value}. Values are bytes unless the
    resource type is known (schema table or `types`) and `typed` is set."""
    base_ids = paths.parse(base)
    buf = memoryview(bytes(payload))
    out = {}

    def put(ids, start, end):
        letter = schema.type_of(ids, types) if typed else None
        try:
            out[paths.fmt(ids)] = decode_value(buf[start:end], letter)
        except (TLVError, UnicodeDecodeError) as exc:
            raise TLVError("%s: %s" % (paths.fmt(ids), exc)) from None

    def walk(start, end, parent, allowed):
        for kind, ident, vs, ve in _elements(buf, start, end):
            if kind not in allowed:
                raise TLVError("unexpected %s %d under %s" % (_KIND_NAMES[kind], ident, paths.fmt(parent)))
            ids = parent + (ident,)
            if kind == _INSTANCE:
                walk(vs, ve, ids, (_RESOURCE, _MULTI_RES))
            elif kind == _MULTI_RES:
                walk(vs, ve, ids, (_RES_INSTANCE,))
            else:
                put(ids, vs, ve)

    if len(base_ids) == 0:
        raise TLVError("TLV needs at least an object in the request path")
    if len(base_ids) == 1:
        walk(0, len(buf), base_ids, (_INSTANCE,))
    elif len(base_ids) == 2:
        walk(0, len(buf), base_ids, (_RESOURCE, _MULTI_RES))
    elif len(base_ids) == 3:
        # a resource read answers with the resource itself or, for a multiple resource, either
        # the enclosing multiple resource TLV or bare resource instances
        first = next(_elements(buf, 0, len(buf)), None)
        if first is not None and first[0] == _RES_INSTANCE:
            walk(0, len(buf), base_ids, (_RES_INSTANCE,))
        else:
            walk(0, len(buf), base_ids[:2], (_RESOURCE, _MULTI_RES))
    else:
        walk(0, len(buf), base_ids[:3], (_RES_INSTANCE,))
    return out
