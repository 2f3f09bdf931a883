"""SGP.32 v1.2 ASN.1 codec for the eIM: asn1play's pycrate-generated module, loaded by file path.

The eIM encodes and decodes through that independent codec (the device IPA has its own hand-written
one), so a disagreement between the two shows up in the integration tests instead of hiding behind
a shared bug. Signatures are computed over the exact bytes received, so `tlv_*` helpers give raw
TLV slices without re-encoding."""

import importlib.util
import os
import sys
import threading

_MODULE_NAME = "host_tools_eim_sgp32_v1_2"
_REL_PATH = os.path.join("generated_code", "asn1", "GSMA", "SGP_32", "v1_2", "python_gen", "sgp32",
                         "sgp32.py")


_lock = threading.RLock()


class DecodeError(ValueError):
    """Input that is not the expected ASN.1: carries the type name and what went wrong."""

    def __init__(self, type_name, reason):
        ValueError.__init__(self, "%s: %s" % (type_name, reason))
        self.type_name = type_name
        self.reason = reason


def _load():
    mod = sys.modules.get(_MODULE_NAME)
    if mod is not None:
        return mod
    try:  # one pycrate module per process: share the project's oracle copy when it is there
        from host_tools import sgp32_oracle
        mod = sgp32_oracle.load()
        sys.modules[_MODULE_NAME] = mod
        return mod
    except ImportError:
        pass
    spec = importlib.util.find_spec("asn1_play")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("asn1play is not installed (host_tools/requirements-nodeps.txt)")
    path = os.path.join(list(spec.submodule_search_locations)[0], _REL_PATH)
    fspec = importlib.util.spec_from_file_location(_MODULE_NAME, path)
    mod = importlib.util.module_from_spec(fspec)
    sys.modules[_MODULE_NAME] = mod
    fspec.loader.exec_module(mod)
    return mod


def asn1_type(name):
    """The pycrate object for an SGP.32 v1.2 type ("EuiccPackageSigned"), or one of another
    module of the same compilation ("PKIX1Explicit88.Certificate")."""
    module, _, type_name = name.rpartition(".")
    return getattr(getattr(_load(), module or "SGP32Definitions"), type_name)


def encode(type_name, value):
    """DER of `value` (pycrate value notation: dicts, ("choice", v) tuples, bytes, ints)."""
    obj = asn1_type(type_name)
    with _lock:  # pycrate type objects hold the value being coded
        obj.set_val(value)
        return obj.to_der()


def decode(type_name, der):
    """Value of `der` as `type_name`; raises DecodeError on anything malformed or left over."""
    obj = asn1_type(type_name)
    der = bytes(der)
    try:
        # pycrate ignores bytes after the first value; for us a message with junk after it is
        # malformed
        if _tlv_total_len(der) != len(der):
            raise DecodeError(type_name, "trailing bytes after the value")
        with _lock:
            obj.from_ber(der, single=True)
            return obj.get_val()
    except DecodeError:
        raise
    except Exception as exc:  # pycrate raises several unrelated classes on bad input
        raise DecodeError(type_name, str(exc) or exc.__class__.__name__) from None


# --- raw BER-TLV access (definite lengths only, as DER requires) ---

def tlv_header(buf, off=0):
    """(tag_bytes, value_offset, value_length) of the TLV starting at buf[off]."""
    n = len(buf)
    if off >= n:
        raise DecodeError("TLV", "empty at offset %d" % off)
    start = off
    first = buf[off]
    off += 1
    if first & 0x1F == 0x1F:
        while True:
            if off >= n:
                raise DecodeError("TLV", "truncated tag at offset %d" % start)
            b = buf[off]
            off += 1
            if not b & 0x80:
                break
    tag = bytes(buf[start:off])
    if off >= n:
        raise DecodeError("TLV", "missing length for tag %s" % tag.hex())
    lb = buf[off]
    off += 1
    if lb < 0x80:
        length = lb
    elif lb == 0x80 or lb > 0x84:
        raise DecodeError("TLV", "unsupported length byte %02x for tag %s" % (lb, tag.hex()))
    else:
        cnt = lb & 0x7F
        if off + cnt > n:
            raise DecodeError("TLV", "truncated length for tag %s" % tag.hex())
        length = int.from_bytes(buf[off:off + cnt], "big")
        off += cnt
    if off + length > n:
        raise DecodeError("TLV", "tag %s wants %d bytes, %d left" % (tag.hex(), length, n - off))
    return tag, off, length


def _tlv_total_len(buf, off=0):
    _, voff, vlen = tlv_header(buf, off)
    return voff + vlen - off


def tlv_children(buf, off=0, end=None):
    """List of (tag, tlv_start, value_offset, value_length) for the TLVs in buf[off:end]."""
    end = len(buf) if end is None else end
    out = []
    while off < end:
        tag, voff, vlen = tlv_header(buf, off)
        if voff + vlen > end:
            raise DecodeError("TLV", "tag %s overruns its parent" % tag.hex())
        out.append((tag, off, voff, vlen))
        off = voff + vlen
    return out


def check_structure(buf, off=0, end=None, depth=0):
    """Raise DecodeError unless buf[off:end] is a run of definite-length TLVs whose constructed
    members parse the same way all the way down (pycrate is more lenient than DER)."""
    if depth > 24:
        raise DecodeError("TLV", "nested deeper than 24 levels")
    for tag, _, voff, vlen in tlv_children(buf, off, end):
        if tag[0] & 0x20:
            check_structure(buf, voff, voff + vlen, depth + 1)
        elif tag == b"\x00":
            raise DecodeError("TLV", "tag 00 (end-of-contents) in DER")


def tlv_find(buf, tag, off=0, end=None):
    """Raw bytes (whole TLV) of the first child with `tag` in buf[off:end], or None."""
    for t, start, voff, vlen in tlv_children(buf, off, end):
        if t == tag:
            return bytes(buf[start:voff + vlen])
    return None


def tlv_value(tlv):
    """The value part of one complete TLV."""
    _, voff, vlen = tlv_header(tlv, 0)
    return bytes(tlv[voff:voff + vlen])


def tlv_encode(tag, value):
    """One TLV with a DER length."""
    n = len(value)
    if n < 0x80:
        ln = bytes([n])
    elif n < 0x100:
        ln = bytes([0x81, n])
    elif n < 0x10000:
        ln = bytes([0x82, n >> 8, n & 0xFF])
    else:
        ln = bytes([0x83, n >> 16, (n >> 8) & 0xFF, n & 0xFF])
    return bytes(tag) + ln + bytes(value)


def der_integer(value):
    """Minimal two's-complement content octets of an INTEGER."""
    length = max(1, (value.bit_length() + 8) // 8)
    return value.to_bytes(length, "big", signed=True)
