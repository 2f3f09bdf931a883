"""Independent ASN.1 codec for GSMA SGP.32 v1.2 (and the SGP.22 RSP types it imports).

The pycrate-compiled modules shipped by asn1play are loaded BY FILE PATH (asn1play's own package
initialisation is not needed and pulls in more than we want). Other parts use this to check
hand-written encodings against a codec nobody on this project wrote:

    from host_tools import sgp32_oracle as oracle
    value = oracle.decode("EuiccPackageRequest", der)   # dict / (choice, value) tuples
    der = oracle.encode("GetEuiccDataRequest", {"tagList": b"\\x5a"})

Value conventions are pycrate's: SEQUENCE -> dict, CHOICE -> (name, value), SEQUENCE OF -> list,
BIT STRING -> (int, nbits), OID -> tuple of ints, NULL -> 0, OCTET STRING -> bytes.
Type names are looked up in SGP32Definitions first (v1.2 overrides), then RSPDefinitions,
PEDefinitions and the PKIX modules; qualify as "RSPDefinitions.EUICCInfo2" to pick one.
"""

import glob
import importlib.util
import logging
import os
import sys
import threading

_MODULE_ORDER = ("SGP32Definitions", "RSPDefinitions", "PEDefinitions", "PKIX1Explicit88",
                 "PKIX1Implicit88")
_lock = threading.Lock()
_module = None


class OracleError(ValueError):
    """Encoding/decoding failed; carries the type name."""

    def __init__(self, type_name, message):
        super().__init__("%s: %s" % (type_name, message))
        self.type_name = type_name


def module_path():
    """Where the pycrate-generated SGP.32 v1.2 module lives inside the installed asn1play."""
    roots = [p for p in sys.path if p and os.path.isdir(p)]
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    roots.append(os.path.join(here, ".venv", "lib", "python%d.%d" % sys.version_info[:2],
                              "site-packages"))
    for root in roots:
        hits = glob.glob(os.path.join(root, "asn1_play*", "generated_code", "asn1", "GSMA",
                                      "SGP_32", "v1_2", "python_gen", "sgp32", "sgp32.py"))
        if hits:
            return hits[0]
    raise ImportError("asn1play SGP_32/v1_2 pycrate module not found on sys.path")


def load():
    """The loaded (cached) pycrate module; thread-safe."""
    global _module
    if _module is None:
        with _lock:
            if _module is None:
                spec = importlib.util.spec_from_file_location("_sgp32_v1_2_pycrate", module_path())
                mod = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(mod)
                # certificates carry ANY-typed algorithm parameters; pycrate warns on each decode
                logging.getLogger("pycrate.asn1rt").setLevel(logging.ERROR)
                _module = mod
    return _module


def asn1_type(type_name):
    """The pycrate object for a type name (optionally 'Module.Type')."""
    mod = load()
    attr_of = lambda n: n.replace("-", "_")  # noqa: E731  (pycrate's attribute spelling)
    if "." in type_name:
        mod_name, name = type_name.split(".", 1)
        obj = getattr(getattr(mod, mod_name), attr_of(name), None)
        if obj is None:
            raise OracleError(type_name, "no such type")
        return obj
    for mod_name in _MODULE_ORDER:
        obj = getattr(getattr(mod, mod_name), attr_of(type_name), None)
        if obj is not None and hasattr(obj, "from_ber"):
            return obj
    raise OracleError(type_name, "no such type in SGP.32 v1.2 modules")


def decode(type_name, der, strict=True):
    """DER/BER bytes -> python value. With strict, trailing bytes are an error."""
    obj = asn1_type(type_name)
    with _lock:  # pycrate objects hold their value; serialise use across threads
        try:
            obj.from_ber(bytes(der), single=True)
        except Exception as exc:
            raise OracleError(type_name, "decode failed: %s" % exc) from None
        value = obj.get_val()
    if strict and tlv_size(der) != len(der):
        raise OracleError(type_name, "%d trailing bytes" % (len(der) - tlv_size(der)))
    return value


def tlv_size(der):
    """Length of the first BER TLV in `der` (tag + length + value octets)."""
    pos = 1
    if der[0] & 0x1F == 0x1F:
        while der[pos] & 0x80:
            pos += 1
        pos += 1
    first = der[pos]
    pos += 1
    if first < 0x80:
        return pos + first
    n = first & 0x7F
    return pos + n + int.from_bytes(der[pos:pos + n], "big")


def encode(type_name, value):
    """python value -> DER bytes."""
    obj = asn1_type(type_name)
    with _lock:
        try:
            obj.set_val(value)
            return obj.to_der()
        except Exception as exc:
            raise OracleError(type_name, "encode failed: %s" % exc) from None


def roundtrip(type_name, der):
    """True when `der` decodes and re-encodes to the same bytes (i.e. it is canonical DER)."""
    return encode(type_name, decode(type_name, der)) == bytes(der)


def names():
    """All type names of the SGP32Definitions module (v1.2)."""
    return list(load().SGP32Definitions._type_)


def types_with_tag(tag):
    """Qualified names of the types whose outermost tag is `tag` (identifier octets as int,
    e.g. 0xBF51) -- for finding what a captured TLV is."""
    cls_bits = {0: 0x00, 1: 0x40, 2: 0x80, 3: 0xC0}
    out = []
    mod = load()
    for mod_name in _MODULE_ORDER:
        m = getattr(mod, mod_name)
        for name in m._type_:
            obj = getattr(m, name.replace("-", "_"), None)
            tags = getattr(obj, "_tagc", None) or []
            if not tags:
                continue
            cls, num = tags[0][0], tags[0][1]
            if num is None:
                continue
            constructed = obj.TYPE in ("SEQUENCE", "SET", "SEQUENCE OF", "SET OF", "CHOICE") \
                or len(tags) > 1
            first = cls_bits.get(cls, 0) | (0x20 if constructed else 0)
            ident = bytes([first | num]) if num < 31 else bytes([first | 0x1F, num]) \
                if num < 128 else bytes([first | 0x1F, 0x80 | num >> 7, num & 0x7F])
            if int.from_bytes(ident, "big") == tag:
                out.append("%s.%s" % (mod_name, name))
    return out
