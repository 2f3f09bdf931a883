"""Persistence of the client's configuration and registration state, sans-I/O codec + a store.

What survives a reset: the Security (/0) and Server (/1) instances -- written only after a
validated Bootstrap-Finish or a committed server Write -- and, per server account, the
registration location and its expiry (wall-clock seconds), so a restarted client can send an
Update to the old registration instead of registering anew.

Objects are kept as OMA TLV (the compact binary codec the client has anyway), including
resources a server may never read (the Security object has no R operations), so the raw instance
values are serialised rather than a server Read. `store` is a hal.storage.Store (atomic per key:
`get(key) -> bytes | None`, `put(key, data)`) or the MemoryStore below.
"""

import json

from micropython import const

from lwm2m import fmt_tlv

PERSISTED_OBJECTS = (0, 1)
_KEY_REG = "reg"
_TLV = const(11542)


def instance_records(obj):
    out = []
    for iid in obj.iids():
        vals = obj.instances[iid]
        for f in obj.fields:
            rid = f[0]
            if rid not in vals:
                continue
            v = vals[rid]
            if v is None:
                continue  # executables and computed resources carry no stored value
            if isinstance(v, dict):
                for riid in sorted(v):
                    out.append(((obj.oid, iid, rid, riid), v[riid]))
            else:
                out.append(((obj.oid, iid, rid), v))
    return out


class Persist:
    def __init__(self, store, registry, oids=PERSISTED_OBJECTS):
        self.store = store
        self.registry = registry
        self.oids = oids

    def save_objects(self):
        for oid in self.oids:
            obj = self.registry.get_object(oid)
            if obj is not None:
                data = fmt_tlv.encode(instance_records(obj), (oid,), self.registry.type_of)
                self.store.put("obj%d" % oid, data)

    def load_objects(self):
        """Replace /0 and /1 by the stored copies; False when nothing was stored."""
        loaded = False
        for oid in self.oids:
            obj = self.registry.get_object(oid)
            data = self.store.get("obj%d" % oid)
            if obj is None or data is None:
                continue
            records = fmt_tlv.decode(data, (oid,), self.registry.type_of) if data else []
            saved = obj.instances
            obj.instances = {}
            try:
                if records:
                    by_iid = {}
                    for rec in records:
                        by_iid.setdefault(rec[0][1], []).append(rec)
                    for iid in sorted(by_iid):
                        self.registry.write((oid, iid), by_iid[iid], bootstrap=True)
            except Exception:
                obj.instances = saved
                raise
            loaded = True
        return loaded

    def save_registration(self, ssid, location, expires_s):
        reg = self.load_registrations()
        if location is None:
            reg.pop(str(ssid), None)
        else:
            reg[str(ssid)] = {"loc": location, "exp": expires_s}
        self.store.put(_KEY_REG, json.dumps(reg).encode())

    def load_registrations(self):
        data = self.store.get(_KEY_REG)
        if not data:
            return {}
        try:
            reg = json.loads(data)
        except ValueError:
            return {}
        return reg if isinstance(reg, dict) else {}

    def registration(self, ssid, now_s):
        """(location list) of a stored registration that has not expired, else None."""
        r = self.load_registrations().get(str(ssid))
        if not r or not isinstance(r.get("loc"), list) or r.get("exp", 0) <= now_s:
            return None
        return r["loc"]


class MemoryStore:
    """A dict-backed store with the same interface (tests, no filesystem)."""

    def __init__(self):
        self.data = {}

    def get(self, key, default=None):
        return self.data.get(key, default)

    def put(self, key, data):
        self.data[key] = bytes(data)
