"""LwM2M data model (OMA-TS-LightweightM2M_Core-V1_1 §6.1, Appendix D), sans-I/O.

Public API (used by the engine in lwm2m/dm.py, rd_client.py, observe.py, bootstrap.py, send.py):

  Types: T_STRING T_INT T_UINT T_FLOAT T_BOOL T_OPAQUE T_TIME T_OBJLNK T_CORELNK T_NONE
  Operations: OP_NONE OP_R OP_W OP_RW OP_E;  field flags: MULTI, MAND
  Field table row: (rid, ops, type, flags) -- sorted by rid.

  Error(code, msg)       every failure; .code is the CoAP response code to send, as the byte
                         value class<<5|detail (BAD_REQUEST=0x80 is 4.00, NOT_FOUND=0x84 is 4.04 ...).
  Object(oid, version, fields, multiple=True, mandatory=False)
      subclass hooks: new_instance(iid), read_value(iid, rid, riid=None), validate(iid, values),
      committed(iid, rids), execute(iid, rid, arg), can_delete(iid, bootstrap),
      deleted(iid, values); exec_hooks {rid: fn(iid, arg)}
  Registry()
      .add(obj) .get(oid) .objects() .type_of(path) .field(oid, rid)
      .read(path, server=True) -> [(path4_or_3, value)]      records, sorted by path
      .write(path, records, replace=False, bootstrap=False)   transactional
      .execute(path, arg=b"")    .create(oid, records=(), iid=None, bootstrap=False) -> iid
      .delete(path, bootstrap=False)
      .get(path, default=None) / .set(path, value)             local (firmware side) access,
                                                               no operation checks, notifies
      .listeners  list of fn(path); called after a committed change with (oid, iid, rid), and
                  with (oid, iid) when an instance was created or deleted.
      .access     fn(op, path) or None; called before every server operation, may raise Error.
                  Default: deny_security (any server access to /0 answers 4.01).

Records are (path, value) tuples: path (oid, iid, rid) for a single resource, (oid, iid, rid, riid)
for one instance of a multiple resource; values are Python values of the resource type
(str, int, float, bool, bytes, (oid, iid) for objlnk, int seconds for time).
Content-format codecs (lwm2m/fmt_*.py) share one shape: encode(records, base_path, type_of=None)
-> bytes and decode(data, base_path, type_of) -> records (pass Registry.type_of); codec(ct) returns
the module for a content-format number. Records may carry a third element, a timestamp (SenML).
A decoder never raises anything but Error: 4.00 for malformed input, 4.04 from type_of.
"""

from micropython import const

# Resource types (Appendix C of the Core TS).
T_STRING = const(0)
T_INT = const(1)
T_UINT = const(2)
T_FLOAT = const(3)
T_BOOL = const(4)
T_OPAQUE = const(5)
T_TIME = const(6)
T_OBJLNK = const(7)
T_CORELNK = const(8)
T_NONE = const(9)

OP_NONE = const(0)
OP_R = const(1)
OP_W = const(2)
OP_RW = const(3)
OP_E = const(4)

MULTI = const(1)
MAND = const(2)

# CoAP response codes as the code byte (class << 5 | detail).
BAD_REQUEST = const(0x80)
UNAUTHORIZED = const(0x81)
NOT_FOUND = const(0x84)
METHOD_NOT_ALLOWED = const(0x85)
NOT_ACCEPTABLE = const(0x86)
REQUEST_ENTITY_TOO_LARGE = const(0x8D)
UNSUPPORTED_CONTENT_FORMAT = const(0x8F)
INTERNAL_SERVER_ERROR = const(0xA0)

# Server-visible operation kinds, passed to Registry.access.
ACC_READ = const(1)
ACC_WRITE = const(2)
ACC_EXECUTE = const(3)
ACC_CREATE = const(4)
ACC_DELETE = const(5)
ACC_DISCOVER = const(6)
ACC_ATTRS = const(7)

_MAX_ID = const(65534)
# The iid a decoder gives records of a Create payload that names no instance (65535 is never a
# valid id); Registry.create() puts the chosen iid in its place.
NO_IID = const(65535)
_INT_MIN = const(-0x8000000000000000)
_INT_MAX = const(0x7FFFFFFFFFFFFFFF)
_UINT_MAX = const(0xFFFFFFFFFFFFFFFF)

_CODECS = {
    0: "fmt_text", 40: "linkformat", 42: "fmt_opaque", 110: "fmt_senml_json",
    112: "fmt_senml_cbor", 11542: "fmt_tlv", 11544: "fmt_lwm2m_cbor",
}


class Error(Exception):
    """A failed LwM2M operation; `code` is the CoAP response code byte to answer with."""

    def __init__(self, code, msg=""):
        super().__init__(msg)
        self.code = code
        self.msg = msg

    def __str__(self):
        return "%d.%02d %s" % (self.code >> 5, self.code & 31, self.msg)


def bad(msg):
    return Error(BAD_REQUEST, msg)


def path_str(path):
    return "/" + "/".join(str(p) for p in path)


def codec(ct):
    """The codec module for a content-format number, or Error 4.15 (4.06 on Accept is the
    caller's choice)."""
    name = _CODECS.get(ct)
    if name is None or ct == 40:
        raise Error(UNSUPPORTED_CONTENT_FORMAT, "content-format %s" % ct)
    return __import__("lwm2m." + name, None, None, (name,))


# On MicroPython the SenML and CBOR codec modules and the link format (~4 KB of RAM together,
# frozen) are loaded for one operation and let go after it: most devices answer TLV/text and use
# them rarely (links: at Register, Discover, and when objects change). Set to
# False to keep them loaded (a device that sends SenML often trades RAM for the re-import).
RELEASE_CODECS = True
_TRANSIENT = ("fmt_senml_json", "fmt_senml_cbor", "fmt_lwm2m_cbor", "fmt_senml", "cbor",
              "linkformat")


def release_codecs():
    """Forget the transient codec modules (their RAM returns at the next collection)."""
    import sys

    if not RELEASE_CODECS or sys.implementation.name != "micropython":
        return
    pkg = sys.modules.get("lwm2m")
    for name in _TRANSIENT:
        if sys.modules.pop("lwm2m." + name, None) is not None and pkg is not None:
            try:
                delattr(pkg, name)
            except AttributeError:
                pass


def check_value(typ, value, where=""):
    """Type-check (and minimally normalise) a decoded value for a resource; raises 4.00."""
    if typ == T_STRING or typ == T_CORELNK:
        if isinstance(value, str):
            return value
    elif typ == T_INT or typ == T_TIME:
        if isinstance(value, int) and not isinstance(value, bool) and _INT_MIN <= value <= _INT_MAX:
            return value
        if isinstance(value, float) and value == int(value) and typ == T_TIME:
            return int(value)
    elif typ == T_UINT:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _UINT_MAX:
            return value
    elif typ == T_FLOAT:
        if isinstance(value, float):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
    elif typ == T_BOOL:
        if isinstance(value, bool):
            return value
    elif typ == T_OPAQUE:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
    elif typ == T_OBJLNK:
        if isinstance(value, tuple) and len(value) == 2 and 0 <= value[0] <= 0xFFFF \
                and 0 <= value[1] <= 0xFFFF:
            return value
    raise bad("type mismatch for %s: %r" % (where, type(value).__name__))


def deny_security(op, path):
    """Default access rule: the Security object is never visible to a management server."""
    if path and path[0] == 0:
        raise Error(UNAUTHORIZED, "security object %s" % path_str(path))


class Object:
    """One LwM2M object: definition plus instance values.

    Values live in self.instances = {iid: {rid: value | {riid: value}}}; a rid absent from the
    dict means the (optional) resource is not present. Subclasses override the hooks below."""

    def __init__(self, oid, version, fields, multiple=True, mandatory=False):
        self.oid = oid
        self.version = version
        self.fields = fields
        self.multiple = multiple
        self.mandatory = mandatory
        self.instances = {}
        self.exec_hooks = {}
        self.registry = None

    def field(self, rid):
        # Tables are short and sorted; a linear scan beats a dict on RAM.
        for f in self.fields:
            if f[0] == rid:
                return f
            if f[0] > rid:
                break
        return None

    def iids(self):
        return sorted(self.instances)

    # --- hooks -------------------------------------------------------------------------------
    def read_value(self, iid, rid, riid=None):
        """Current value; override for values computed on read (clock, heap)."""
        v = self.instances[iid][rid]
        return v if riid is None else v[riid]

    def validate(self, iid, values):
        """Called with the complete staged value dict of an instance; raise Error to refuse."""

    def committed(self, iid, rids):
        """Called after a write/create was committed, with the set of changed rids."""

    def execute(self, iid, rid, arg):
        hook = self.exec_hooks.get(rid)
        if hook is None:
            raise Error(METHOD_NOT_ALLOWED, "no executable at %s" % path_str((self.oid, iid, rid)))
        hook(iid, arg)

    def can_delete(self, iid, bootstrap):
        return bootstrap or self.multiple

    def deleted(self, iid, values):
        """Called after an instance was removed, with its last values (release resources)."""

    def new_instance(self, iid):
        """Initial values for an instance made by Create (before the payload is applied)."""
        return {}


def _checked(obj, rec, bootstrap):
    """(field, value) for one record of a Write/Create: the resource exists, the server may write
    it (bootstrap may write anything), the path level fits single/multiple, the value its type."""
    rp = rec[0]
    f = obj.field(rp[2])
    if f is None:
        raise Error(NOT_FOUND, "resource %s" % path_str(rp))
    if not bootstrap and not f[1] & OP_W:
        raise Error(METHOD_NOT_ALLOWED, "write to %s" % path_str(rp))
    if f[3] & MULTI and len(rp) != 4:
        raise bad("%s is a multiple resource" % path_str(rp))
    if not f[3] & MULTI and len(rp) != 3:
        raise Error(NOT_FOUND, "%s: single resource has no instances" % path_str(rp))
    return f, check_value(f[2], rec[1], path_str(rp))


def _copy_values(values):
    out = {}
    for k, v in values.items():
        out[k] = dict(v) if isinstance(v, dict) else v
    return out


class Registry:
    def __init__(self):
        self._objs = {}
        self.listeners = []
        self.access = deny_security

    def add(self, obj):
        self._objs[obj.oid] = obj
        obj.registry = self
        return obj

    def get_object(self, oid):
        return self._objs.get(oid)

    def objects(self):
        return [self._objs[k] for k in sorted(self._objs)]

    def _obj(self, oid):
        obj = self._objs.get(oid)
        if obj is None:
            raise Error(NOT_FOUND, "object /%d" % oid)
        return obj

    def _inst(self, obj, iid):
        inst = obj.instances.get(iid)
        if inst is None:
            raise Error(NOT_FOUND, "instance /%d/%d" % (obj.oid, iid))
        return inst

    def field(self, oid, rid):
        f = self._obj(oid).field(rid)
        if f is None:
            raise Error(NOT_FOUND, "resource /%d/*/%d" % (oid, rid))
        return f

    def type_of(self, path):
        """Resource type of a resource (instance) path; 4.04 if the object has no such rid,
        4.00 for a path that does not name a resource."""
        if len(path) < 3:
            raise bad("%s is not a resource path" % path_str(path))
        f = self.field(path[0], path[2])
        if len(path) == 4 and not f[3] & MULTI:
            raise Error(NOT_FOUND, "%s: single resource has no instances" % path_str(path))
        return f[2]

    def _notify(self, path):
        for fn in self.listeners:
            fn(path)

    def _check(self, op, path, server):
        if server and self.access is not None:
            self.access(op, path)

    # --- local (firmware-side) access ---------------------------------------------------------
    def get(self, path, default=None):
        if not 3 <= len(path) <= 4:
            return default
        obj = self._objs.get(path[0])
        if obj is None or path[1] not in obj.instances:
            return default
        inst = obj.instances[path[1]]
        f = obj.field(path[2])
        if path[2] not in inst or f is None or (len(path) == 4 and not f[3] & MULTI):
            return default
        try:
            return obj.read_value(path[1], path[2], path[3] if len(path) > 3 else None)
        except KeyError:
            return default

    def set(self, path, value):
        """Set a value from firmware code (a sensor, the modem); no access or operation checks.
        A 3-part path to a multiple resource takes a dict or list of values."""
        if not 3 <= len(path) <= 4:
            raise bad("set needs a resource path, not %s" % path_str(path))
        obj = self._obj(path[0])
        f = obj.field(path[2])
        if f is None:
            raise Error(NOT_FOUND, "resource %s" % path_str(path))
        where = path_str(path)
        if f[2] == T_NONE or (len(path) == 4 and not f[3] & MULTI):
            raise bad("set of %s" % where)
        if len(path) == 3 and f[3] & MULTI:
            if isinstance(value, (list, tuple)):
                value = dict(enumerate(value))
            if not isinstance(value, dict):
                raise bad("%s is a multiple resource" % where)
            value = dict((k, check_value(f[2], v, where)) for k, v in value.items())
        else:
            value = check_value(f[2], value, where)
        inst = obj.instances.get(path[1])
        if inst is None:
            inst = obj.instances[path[1]] = obj.new_instance(path[1])
            self._notify((path[0], path[1]))
        if len(path) == 4:
            multi = inst.get(path[2])
            if not isinstance(multi, dict):
                multi = inst[path[2]] = {}
            if multi.get(path[3], None) == value and path[3] in multi:
                return
            multi[path[3]] = value
        else:
            if path[2] in inst and inst[path[2]] == value:
                return
            inst[path[2]] = value
        self._notify(tuple(path[:3]))

    def remove(self, path):
        """Make an optional resource absent (local)."""
        if len(path) != 3:
            raise bad("remove needs a resource path, not %s" % path_str(path))
        inst = self._inst(self._obj(path[0]), path[1])
        if path[2] in inst:
            del inst[path[2]]
            self._notify(tuple(path[:3]))

    # --- server operations --------------------------------------------------------------------
    def read(self, path, server=True):
        """Records for a Read of `path` (len 1..4). A server read of an object or instance gets
        the readable resources, of a non-readable resource 4.05; server=False (firmware-side
        reads: persistence, bootstrap) skips the access rule and sees every stored value."""
        self._check(ACC_READ, path, server)
        if not 1 <= len(path) <= 4:
            raise Error(METHOD_NOT_ALLOWED, "read of %s" % path_str(path))
        obj = self._obj(path[0])
        out = []
        iids = obj.iids() if len(path) == 1 else [path[1]]
        for iid in iids:
            inst = self._inst(obj, iid)
            if len(path) <= 2:
                for f in obj.fields:
                    # A local read (persistence, bootstrap) sees every value, readable or not.
                    if (f[1] & OP_R or (not server and f[2] != T_NONE)) and f[0] in inst:
                        self._read_res(obj, iid, f, None, out)
            else:
                f = obj.field(path[2])
                if f is None or path[2] not in inst:
                    raise Error(NOT_FOUND, "resource %s" % path_str(path))
                if server and not f[1] & OP_R:
                    raise Error(METHOD_NOT_ALLOWED, "read of %s" % path_str(path))
                if len(path) == 4 and not f[3] & MULTI:
                    raise Error(NOT_FOUND, "%s: not a multiple resource" % path_str(path))
                self._read_res(obj, iid, f, path[3] if len(path) == 4 else None, out)
        return out

    def _read_res(self, obj, iid, f, riid, out):
        rid = f[0]
        if f[3] & MULTI:
            stored = obj.instances[iid][rid]
            riids = sorted(stored) if riid is None else [riid]
            for r in riids:
                if r not in stored:
                    raise Error(NOT_FOUND, "resource instance %s" % path_str((obj.oid, iid, rid, r)))
                out.append(((obj.oid, iid, rid, r), obj.read_value(iid, rid, r)))
        else:
            out.append(((obj.oid, iid, rid), obj.read_value(iid, rid)))

    def write(self, path, records, replace=False, bootstrap=False):
        """Transactional Write (replace or partial update) of an instance or resource: every
        record is checked and the object's validate() sees the staged result before anything is
        changed; on any Error no value has changed. Bootstrap writes bypass the operation
        check and create the instance when it does not exist."""
        self._check(ACC_WRITE, path, not bootstrap)
        if not (1 if bootstrap else 2) <= len(path) <= 4:
            raise Error(METHOD_NOT_ALLOWED, "write to %s" % path_str(path))
        obj = self._obj(path[0])
        staged = {}
        created = []
        cleared = []
        for rec in records:
            rp = rec[0]
            if not 3 <= len(rp) <= 4 or tuple(rp[:len(path)]) != tuple(path):
                raise bad("record %s outside %s" % (path_str(rp), path_str(path)))
            iid = rp[1]
            vals = staged.get(iid)
            if vals is None:
                inst = obj.instances.get(iid)
                if inst is None:
                    if not bootstrap:
                        raise Error(NOT_FOUND, "instance /%d/%d" % (obj.oid, iid))
                    if not obj.multiple and (obj.instances or created):
                        raise bad("object /%d is single-instance" % obj.oid)
                    inst = obj.new_instance(iid)
                    created.append(iid)
                vals = staged[iid] = _copy_values(inst)
                if replace and len(path) <= 2:
                    for f in obj.fields:
                        if (bootstrap or f[1] & OP_W) and not f[2] == T_NONE and f[0] in vals:
                            del vals[f[0]]
            f, value = _checked(obj, rec, bootstrap)
            if f[3] & MULTI:
                multi = vals.get(rp[2])
                if not isinstance(multi, dict) or (replace and len(path) == 3 and
                                                   (iid, rp[2]) not in cleared):
                    # A replace of the resource drops the instances absent from the payload;
                    # a replace of one resource instance touches only that instance.
                    multi = vals[rp[2]] = {}
                    cleared.append((iid, rp[2]))
                multi[rp[3]] = value
            else:
                vals[rp[2]] = value
        if len(path) >= 3 and not staged:
            # An empty payload: only a replace of a multiple resource (clearing it) makes sense.
            f = self.field(path[0], path[2])
            inst = self._inst(obj, path[1])
            if not (replace and f[3] & MULTI and len(path) == 3):
                raise bad("empty write to %s" % path_str(path))
            if not bootstrap and not f[1] & OP_W:
                raise Error(METHOD_NOT_ALLOWED, "write to %s" % path_str(path))
            vals = staged[path[1]] = _copy_values(inst)
            vals[path[2]] = {}
        self._commit(obj, staged, created)

    def _commit(self, obj, staged, created):
        for iid, vals in staged.items():
            obj.validate(iid, vals)
        changes = []
        for iid, vals in staged.items():
            old = obj.instances.get(iid, {})
            rids = set()
            for rid in set(old) | set(vals):
                if old.get(rid, None) != vals.get(rid, None) or (rid in old) != (rid in vals):
                    rids.add(rid)
            obj.instances[iid] = vals
            changes.append((iid, rids))
        for iid, rids in changes:
            obj.committed(iid, rids)
            if iid in created:
                self._notify((obj.oid, iid))
            for rid in sorted(rids):
                self._notify((obj.oid, iid, rid))

    def execute(self, path, arg=b""):
        self._check(ACC_EXECUTE, path, True)
        if len(path) != 3:
            raise Error(METHOD_NOT_ALLOWED, "execute on %s" % path_str(path))
        obj = self._obj(path[0])
        self._inst(obj, path[1])
        f = obj.field(path[2])
        if f is None:
            raise Error(NOT_FOUND, "resource %s" % path_str(path))
        if not f[1] & OP_E:
            raise Error(METHOD_NOT_ALLOWED, "execute on %s" % path_str(path))
        obj.execute(path[1], path[2], arg)

    def create(self, oid, records=(), iid=None, bootstrap=False):
        """Create an instance (server Create, or bootstrap Write to a missing instance);
        returns its iid."""
        self._check(ACC_CREATE, (oid,), not bootstrap)
        obj = self._obj(oid)
        if not obj.multiple and obj.instances:
            raise Error(METHOD_NOT_ALLOWED, "object /%d is single-instance" % oid)
        for rec in records:
            if not 3 <= len(rec[0]) <= 4 or rec[0][0] != oid:
                raise bad("record %s outside /%d" % (path_str(rec[0]), oid))
        if iid is None:
            for rec in records:
                if rec[0][1] != NO_IID:
                    iid = rec[0][1]
                    break
        if iid is None:
            iid = 0
            while iid in obj.instances:
                iid += 1
        records = [((r[0][0], iid) + tuple(r[0][2:]), r[1]) if r[0][1] == NO_IID else r
                   for r in records]
        if iid > _MAX_ID:
            raise bad("iid %d" % iid)
        if iid in obj.instances:
            raise bad("instance /%d/%d exists" % (oid, iid))
        vals = obj.new_instance(iid)
        for rec in records:
            rp = rec[0]
            if not 3 <= len(rp) <= 4 or rp[0] != oid or rp[1] != iid:
                raise bad("record %s outside /%d/%d" % (path_str(rp), oid, iid))
            f, value = _checked(obj, rec, bootstrap)
            if f[3] & MULTI:
                vals.setdefault(rp[2], {})[rp[3]] = value
            else:
                vals[rp[2]] = value
        for f in obj.fields:
            if f[3] & MAND and f[1] & OP_W and f[0] not in vals:
                raise bad("create misses mandatory %s" % path_str((oid, iid, f[0])))
        self._commit(obj, {iid: vals}, [iid])
        return iid

    def delete(self, path, bootstrap=False):
        """Delete an instance; bootstrap may delete /oid (all its instances) and / (all)."""
        self._check(ACC_DELETE, path, not bootstrap)
        if len(path) != 2 and not (bootstrap and len(path) < 2):
            raise Error(METHOD_NOT_ALLOWED, "delete %s" % path_str(path))
        targets = []
        if len(path) == 2:
            obj = self._obj(path[0])
            self._inst(obj, path[1])
            if not obj.can_delete(path[1], bootstrap):
                raise Error(METHOD_NOT_ALLOWED, "delete %s" % path_str(path))
            targets.append((obj, path[1]))
        else:
            for obj in ([self._obj(path[0])] if path else self.objects()):
                for iid in obj.iids():
                    if obj.can_delete(iid, bootstrap):
                        targets.append((obj, iid))
        for obj, iid in targets:
            values = obj.instances.pop(iid)
            obj.deleted(iid, values)
            self._notify((obj.oid, iid))
