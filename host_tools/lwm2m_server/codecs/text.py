"""Plain text (content format 0) and opaque (42): one resource value per payload
(Core 1.1 §7.4.1, §7.4.2)."""

import base64

from .. import paths, schema
from .values import ObjLnk


class TextError(ValueError):
    pass


def decode_text(payload, path, types=None):
    try:
        text = bytes(payload).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TextError("%s: text payload is not UTF-8: %s" % (path, exc)) from None
    letter = schema.type_of(paths.parse(path), types)
    try:
        if letter in ("i", "u", "t"):
            return int(text)
        if letter == "f":
            return float(text)
        if letter == "b":
            if text not in ("0", "1"):
                raise ValueError("boolean must be 0 or 1")
            return text == "1"
        if letter == "l":
            return ObjLnk.parse(text)
        if letter == "o":
            return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise TextError("%s: %r as type %s: %s" % (path, text, letter, exc)) from None
    return text


def encode_text(value):
    if isinstance(value, bool):
        return b"1" if value else b"0"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value))
    if isinstance(value, float):
        return repr(value).encode()
    return str(value).encode("utf-8")
