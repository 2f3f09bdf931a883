"""LwM2M CBOR (Core 1.2 §7.4.6, content format 11544): nested maps keyed by path ids, where a
key may also be an array of ids that stands for several levels at once; leaves are values
(objlnk as the text "oid:iid")."""

import datetime

import cbor2

from .. import paths, schema
from .values import ObjLnk, coerce


class LwM2MCBORError(ValueError):
    pass


def decode(payload, types=None):
    try:
        root = cbor2.loads(payload)
    except Exception as exc:
        raise LwM2MCBORError("not CBOR: %s" % exc) from None
    if not isinstance(root, dict):
        raise LwM2MCBORError("LwM2M CBOR root must be a map")
    out = {}

    def walk(node, prefix):
        for key, value in node.items():
            ids = tuple(key) if isinstance(key, (tuple, list)) else (key,)
            if not ids or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
                raise LwM2MCBORError("key %r under %s is not a path id" % (key, paths.fmt(prefix)))
            here = prefix + ids
            try:
                path = paths.fmt(paths.parse(here))
            except ValueError as exc:
                raise LwM2MCBORError(str(exc)) from None
            if isinstance(value, dict):
                walk(value, here)
            else:
                if isinstance(value, cbor2.CBORTag):
                    value = value.value
                elif isinstance(value, datetime.datetime):
                    # cbor2 turns tag 0/1 (a time resource sent as date) into datetime
                    value = int(value.timestamp())
                if isinstance(value, (list, tuple)):
                    raise LwM2MCBORError("%s: an array is not a resource value" % path)
                out[path] = coerce(value, schema.type_of(here, types))

    walk(root, ())
    return out


def encode(values):
    """{path: value} -> nested maps, one level per id (a valid, if not the shortest, form)."""
    root = {}
    for path, value in values.items():
        ids = paths.parse(path)
        if not ids:
            raise LwM2MCBORError("cannot encode a value at the root path")
        node = root
        for i in ids[:-1]:
            node = node.setdefault(i, {})
            if not isinstance(node, dict):
                raise LwM2MCBORError("%s lies under a path that already has a value" % path)
        if isinstance(value, ObjLnk):
            value = str(value)
        node[ids[-1]] = bytes(value) if isinstance(value, (bytearray, memoryview)) else value
    return cbor2.dumps(root)
