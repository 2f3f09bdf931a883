"""Content-format codecs written for this server, independent of the firmware's, so each side
cross-checks the other. All decode to {path: value}; see values.py for the value model."""

from .. import numbers, paths
from . import linkformat, lwm2m_cbor, senml, text, tlv
from .values import ObjLnk

__all__ = ["decode", "encode", "ObjLnk", "CodecError"]

CodecError = ValueError  # every codec error derives from it and names the field at fault


def decode(content_format, payload, path="/", types=None):
    """Payload of a response (or Send/notification) about `path` -> {path: value}.

    Link format decodes to {target: params}."""
    cf = numbers.content_format(content_format)
    payload = bytes(payload)
    if cf == numbers.TLV:
        return tlv.decode(payload, path, types)
    if cf == numbers.SENML_JSON:
        return senml.decode(payload, cbor=False, types=types)
    if cf == numbers.SENML_CBOR:
        return senml.decode(payload, cbor=True, types=types)
    if cf == numbers.LWM2M_CBOR:
        return lwm2m_cbor.decode(payload, types)
    if cf == numbers.LINK_FORMAT:
        return linkformat.decode(payload)
    if cf == numbers.TEXT or cf is None:
        return {paths.normalize(path): text.decode_text(payload, path, types)}
    if cf == numbers.OPAQUE:
        return {paths.normalize(path): payload}
    raise ValueError("no decoder for content format %r" % (content_format,))


def encode(content_format, values, path="/"):
    """{path: value} for a request to `path` -> payload bytes."""
    cf = numbers.content_format(content_format)
    if cf == numbers.TLV:
        return tlv.encode(values, path)
    if cf == numbers.SENML_JSON:
        return senml.encode(values, path, cbor=False)
    if cf == numbers.SENML_CBOR:
        return senml.encode(values, path, cbor=True)
    if cf == numbers.LWM2M_CBOR:
        return lwm2m_cbor.encode(values)
    if cf in (numbers.TEXT, numbers.OPAQUE):
        if len(values) != 1:
            raise ValueError("%s carries exactly one value, got %d" % (numbers.NAMES[cf], len(values)))
        (value,) = values.values()
        if cf == numbers.OPAQUE:
            if not isinstance(value, (bytes, bytearray, memoryview)):
                raise ValueError("opaque content needs bytes, got %r" % (value,))
            return bytes(value)
        return text.encode_text(value)
    raise ValueError("no encoder for content format %r" % (content_format,))
