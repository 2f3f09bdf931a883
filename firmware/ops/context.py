"""Management context of a device: what device management must find unchanged after a network
entry change for the device to be operable, not merely online.

    snap = snapshot(registry, observations, policy)     # plain dict, for the log and tests
    d = digest(snap)                                     # 16 hex digits, compared by EntryChange

Sections (each a plain value so the digest is the same on MicroPython and CPython):
  fw       /3/0/3 Firmware Version
  servers  every /1 instance (its writable configuration: SSID, lifetime, pmin/pmax, binding, ...)
  accounts the /0 server URIs with their SSID and bootstrap flag (never key material)
  observe  the observation set: paths the servers observe (after a fresh Register the server
           forgets them, LwM2M Core §6.2.1, so losing them is losing context)
  policy   the operating policy in force (proof window, required facts, ...)

Sans-I/O; imports under CPython."""

import binascii
import hashlib

from micropython import const

_OID_SEC = const(0)
_OID_SRV = const(1)
_SEC_URI = const(0)
_SEC_BOOTSTRAP = const(1)
_SEC_SSID = const(10)
_DIGEST_HEX = const(16)


def _instances(registry, oid):
    obj = registry.get_object(oid)
    return obj.instances if obj is not None else {}


def snapshot(registry, observations=(), policy=None):
    """The context as a dict of sections. `observations`: observation keys ("/3/0/13", ...),
    or (key, attributes) pairs when the notification attributes in force count too."""
    servers = []
    srv = _instances(registry, _OID_SRV)
    for iid in sorted(srv):
        values = srv[iid]
        # Executable resources carry None; they are actions, not configuration.
        servers.append([iid, [[rid, values[rid]] for rid in sorted(values) if values[rid] is not None]])
    accounts = []
    sec = _instances(registry, _OID_SEC)
    for iid in sorted(sec):
        v = sec[iid]
        accounts.append([v.get(_SEC_URI), bool(v.get(_SEC_BOOTSTRAP)), v.get(_SEC_SSID)])
    return {
        "fw": registry.get((3, 0, 3)),
        "servers": servers,
        "accounts": accounts,
        "observe": sorted(observations),
        "policy": policy or {},
    }


def canonical(value, out):
    """Append a canonical text form of `value` to the list `out` (sorted dicts, typed scalars):
    the same bytes on every port, unlike repr() of floats or dict order of foreign input."""
    if value is None:
        out.append("n")
    elif value is True or value is False:
        out.append("t" if value else "f")
    elif isinstance(value, int):
        out.append("i%d" % value)
    elif isinstance(value, float):
        out.append("d%d" % int(value * 1000000))
    elif isinstance(value, str):
        out.append("s%d:%s" % (len(value), value))
    elif isinstance(value, (bytes, bytearray, memoryview)):
        out.append("b" + binascii.hexlify(bytes(value)).decode())
    elif isinstance(value, dict):
        out.append("{")
        for k in sorted(value, key=str):
            canonical(k, out)
            canonical(value[k], out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for v in value:
            canonical(v, out)
        out.append("]")
    else:
        raise ValueError("context value of type %s" % type(value).__name__)
    return out


def digest(snap):
    h = hashlib.sha256("".join(canonical(snap, [])).encode())
    return binascii.hexlify(h.digest()).decode()[:_DIGEST_HEX]


def diff(before, after):
    """Names of the sections that differ (for the audit: which context was lost)."""
    return [k for k in sorted(after) if before.get(k) != after.get(k)]
