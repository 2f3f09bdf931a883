"""LwM2M 1.1 Device Management & Information Reporting interfaces (OMA-TS-LightweightM2M_Core-V1_1
§6.3, §6.4), sans-I/O: one CoAP request Message in, one response Message out.

    dm = DeviceManager(registry, attrs, observe_cb=None, execute_cb=None, default_ct=11542)
    resp = dm.handle(request, ssid=101)          # -> coap.message.Message (code, payload, options)

Operation by method and path (§6.3, Table 6.3-1 / 6.4-1):
    GET  Accept 40               Discover (depth query, attributes)
    GET  Observe 0 / 1           Observe / Cancel Observation (the Read result is the answer)
    GET                          Read (Accept picks the format; 4.06 when not supported)
    PUT  query only              Write-Attributes
    PUT  payload                 Write (replace)
    POST /oid                    Create (2.01 + Location-Path)
    POST /oid/iid                Write (partial update)
    POST /oid/iid/rid            Execute (text arguments) -- or partial update of a multiple resource
    DELETE /oid/iid              Delete
    FETCH  SenML path list       Read-Composite (with Observe: Observe-Composite)
    iPATCH SenML records         Write-Composite, all or nothing
Errors: model.Error carries the code; unparsable input is 4.00; anything unexpected is 5.00 and the
data model is unchanged (every write is staged and validated first). Any server access to /0 is
4.01 (registry.access). A payload above max_payload is 4.13.
"""

from micropython import const

from coap import numbers as N
from coap.message import Message
from lwm2m import model as M
from lwm2m import path as P

# Largest request body the data model takes (after block-wise reassembly); more is 4.13.
_MAX_PAYLOAD = const(4096)

# Formats that carry one value only.
_SINGLE_FORMATS = (N.FMT_TEXT, N.FMT_OCTET_STREAM)
_SENML_FORMATS = (N.FMT_SENML_JSON, N.FMT_SENML_CBOR)
_DATA_FORMATS = (N.FMT_TEXT, N.FMT_OCTET_STREAM, N.FMT_LWM2M_TLV, N.FMT_SENML_JSON,
                 N.FMT_SENML_CBOR, N.FMT_LWM2M_CBOR)


def response(code, payload=b"", cf=None, options=None):
    """A response Message; the endpoint fills type, MID and token."""
    msg = Message(N.ACK, code, 0, b"", options, payload)
    if cf is not None:
        msg.add_option(N.CONTENT_FORMAT, cf)
    return msg


def error_response(exc):
    return response(exc.code, str(exc.msg).encode())


def parse_query(queries):
    """Uri-Query list -> list of (name, value or None), in order."""
    out = []
    for q in queries:
        if isinstance(q, (bytes, bytearray)):
            q = bytes(q).decode()
        i = q.find("=")
        out.append((q, None) if i < 0 else (q[:i], q[i + 1:]))
    return out


def decode_records(registry, data, base, cf):
    """Payload of a write-like request -> records; 4.15 for formats the model cannot read."""
    if cf is None:
        raise M.Error(M.UNSUPPORTED_CONTENT_FORMAT, "no content-format")
    if cf not in _DATA_FORMATS:
        raise M.Error(M.UNSUPPORTED_CONTENT_FORMAT, "content-format %d" % cf)
    try:
        return M.codec(cf).decode(data, base, registry.type_of)
    finally:
        M.release_codecs()


def encode_records(registry, records, base, ct):
    try:
        return M.codec(ct).encode(records, base, registry.type_of)
    finally:
        M.release_codecs()


class DeviceManager:
    """Maps server requests onto the registry. attrs: an attribute store (see lwm2m.attrs) or None.
    observe_cb(kind, key, paths, request, ssid) is called for "observe" / "cancel" so the runner
    can (de)register the observation with the observe engine. execute_cb(path, arg) runs before the
    object's own execute hook for executables the engine owns (/1/x/8, /1/x/9, /1/x/4)."""

    def __init__(self, registry, attrs=None, observe_cb=None, execute_cb=None,
                 default_ct=N.FMT_LWM2M_TLV, max_payload=_MAX_PAYLOAD):
        self.registry = registry
        self.attrs = attrs
        self.observe_cb = observe_cb
        self.execute_cb = execute_cb
        self.default_ct = default_ct
        self.max_payload = max_payload

    def handle(self, req, ssid=None):
        try:
            if len(req.payload) > self.max_payload:
                raise M.Error(M.REQUEST_ENTITY_TOO_LARGE, "payload %d > %d" % (len(req.payload),
                                                                                self.max_payload))
            return self._dispatch(req, ssid)
        except M.Error as exc:
            return error_response(exc)
        except (ValueError, TypeError, KeyError, IndexError, UnicodeError) as exc:
            # A codec or hook failing in an unplanned way must not take the client down.
            return response(N.INTERNAL_SERVER_ERROR, ("%s: %s" % (type(exc).__name__, exc)).encode())

    def _dispatch(self, req, ssid):
        code = req.code
        path = P.from_segments(req.uri_path())
        if code == N.GET:
            accept = req.opt(N.ACCEPT)
            if accept == N.FMT_LINK_FORMAT:
                return self.discover(path, req.uri_query())
            obs = req.opt(N.OBSERVE)
            resp = self.read(path, accept)
            if obs is not None and self.observe_cb is not None:
                self.observe_cb("observe" if obs == 0 else "cancel", P.fmt(path), [path], req, ssid)
            return resp
        if code == N.PUT:
            if not req.payload and req.uri_query():
                return self.write_attributes(path, req.uri_query())
            return self.write(path, req.payload, req.content_format(), replace=True)
        if code == N.POST:
            if len(path) == 1:
                return self.create(path, req.payload, req.content_format())
            if len(path) == 2:
                return self.write(path, req.payload, req.content_format(), replace=False)
            if len(path) == 3:
                f = self.registry.field(path[0], path[2])
                if not f[1] & M.OP_E and req.payload and f[3] & M.MULTI:
                    return self.write(path, req.payload, req.content_format(), replace=False)
                return self.execute(path, req.payload)
            raise M.Error(M.METHOD_NOT_ALLOWED, "POST %s" % P.fmt(path))
        if code == N.DELETE:
            if len(path) != 2:
                raise M.Error(M.METHOD_NOT_ALLOWED, "DELETE %s" % P.fmt(path))
            self.registry.delete(path)
            return response(N.DELETED)
        if code == N.FETCH:
            return self.read_composite(req, ssid)
        if code == N.IPATCH:
            return self.write_composite(req.payload, req.content_format())
        raise M.Error(M.METHOD_NOT_ALLOWED, "method %s" % N.code_str(code))

    # --- Read / Discover ------------------------------------------------------------------------

    def _pick_ct(self, path, accept):
        if accept is not None:
            if accept not in _DATA_FORMATS:
                raise M.Error(M.NOT_ACCEPTABLE, "accept %d" % accept)
            if accept in _SINGLE_FORMATS and not self._single_value(path):
                raise M.Error(M.NOT_ACCEPTABLE, "accept %d for %s" % (accept, P.fmt(path)))
            return accept
        if self._single_value(path):
            typ = self.registry.type_of(path)
            return N.FMT_OCTET_STREAM if typ == M.T_OPAQUE else N.FMT_TEXT
        return self.default_ct

    def _single_value(self, path):
        if len(path) == 4:
            return True
        if len(path) == 3:
            f = self.registry.field(path[0], path[2])
            return not f[3] & M.MULTI
        return False

    def read(self, path, accept=None):
        if not path:
            raise M.Error(M.METHOD_NOT_ALLOWED, "read of /")
        records = self.registry.read(path)
        ct = self._pick_ct(path, accept)
        return response(N.CONTENT, encode_records(self.registry, records, path, ct), ct)

    def discover(self, path, queries):
        if not path:
            raise M.Error(M.METHOD_NOT_ALLOWED, "discover of /")
        depth = None
        for name, value in parse_query(queries):
            if name == "depth":
                if value not in ("0", "1", "2", "3"):
                    raise M.bad("depth %r" % value)
                depth = int(value)
        self.registry.access(M.ACC_DISCOVER, path)
        from lwm2m import linkformat

        try:
            payload = linkformat.discover(self.registry, path, self.attrs, depth)
        finally:
            M.release_codecs()
        return response(N.CONTENT, payload, N.FMT_LINK_FORMAT)

    # --- Write / Create / Execute / Write-Attributes ---------------------------------------------

    def write(self, path, payload, cf, replace):
        self.registry.access(M.ACC_WRITE, path)
        if len(path) < 2:
            raise M.Error(M.METHOD_NOT_ALLOWED, "write to %s" % P.fmt(path))
        records = decode_records(self.registry, payload, path, cf)
        self.registry.write(path, records, replace=replace)
        return response(N.CHANGED)

    def create(self, path, payload, cf):
        oid = path[0]
        self.registry.access(M.ACC_CREATE, path)
        records = []
        if payload:
            records = decode_records(self.registry, payload, path, cf)
            if len(set(r[0][1] for r in records)) > 1:
                raise M.bad("create of several instances at once")
        iid = self.registry.create(oid, records)
        return response(N.CREATED, options=[(N.LOCATION_PATH, str(oid)), (N.LOCATION_PATH, str(iid))])

    def execute(self, path, arg):
        if self.execute_cb is not None and self.execute_cb(path, bytes(arg)):
            return response(N.CHANGED)
        self.registry.execute(path, bytes(arg))
        return response(N.CHANGED)

    def write_attributes(self, path, queries):
        if self.attrs is None:
            raise M.Error(M.METHOD_NOT_ALLOWED, "write-attributes not supported")
        if not path:
            raise M.Error(M.METHOD_NOT_ALLOWED, "write-attributes on /")
        self.registry.access(M.ACC_ATTRS, path)
        self._exists(path)
        self.attrs.write(path, parse_query(queries), self._numeric(path))
        if self.observe_cb is not None:
            self.observe_cb("attrs", P.fmt(path), [path], None, None)
        return response(N.CHANGED)

    def _exists(self, path):
        obj = self.registry.get_object(path[0])
        if obj is None:
            raise M.Error(M.NOT_FOUND, "object /%d" % path[0])
        if len(path) > 1 and path[1] not in obj.instances:
            raise M.Error(M.NOT_FOUND, "instance %s" % P.fmt(path[:2]))
        if len(path) > 2:
            self.registry.type_of(path)
            if path[2] not in obj.instances[path[1]]:
                raise M.Error(M.NOT_FOUND, "resource %s" % P.fmt(path))

    def _numeric(self, path):
        if len(path) < 3:
            return False
        return self.registry.type_of(path) in (M.T_INT, M.T_UINT, M.T_FLOAT)

    # --- composite (SenML) -------------------------------------------------------------------

    def _senml(self, cf):
        if cf not in _SENML_FORMATS:
            raise M.Error(M.UNSUPPORTED_CONTENT_FORMAT, "composite needs SenML, got %s" % cf)
        return M.codec(cf)

    def read_composite(self, req, ssid):
        cf = req.content_format()
        codec = self._senml(cf)
        # Entries without a value name the paths to read (§6.4.x Read-Composite).
        paths = [rec[0] for rec in codec.decode(req.payload, (), self.registry.type_of)]
        accept = req.opt(N.ACCEPT, cf)
        if accept not in _SENML_FORMATS:
            raise M.Error(M.NOT_ACCEPTABLE, "composite accept %s" % accept)
        records = []
        for p in paths:
            if not p:
                raise M.Error(M.METHOD_NOT_ALLOWED, "composite read of /")
            try:
                records.extend(self.registry.read(p))
            except M.Error as exc:
                # §6.4.x: a path that does not exist is left out; other errors stop the read.
                if exc.code != M.NOT_FOUND:
                    raise
        resp = response(N.CONTENT, encode_records(self.registry, records, (), accept), accept)
        obs = req.opt(N.OBSERVE)
        if obs is not None:
            key = "|".join(P.fmt(p) for p in paths)
            # The CoAP endpoint registers the FETCH observer under this key; notify(key) re-runs
            # this read with the stored request (Observe-Composite, Core 1.1 §6.4.3).
            resp.observe_key = key
            if self.observe_cb is not None:
                self.observe_cb("observe" if obs == 0 else "cancel", key, paths, req, ssid)
        return resp

    def write_composite(self, payload, cf):
        try:
            records = self._senml(cf).decode(payload, (), self.registry.type_of)
        finally:
            M.release_codecs()
        groups = {}
        for rec in records:
            if rec[1] is None or len(rec[0]) < 3:
                raise M.bad("write-composite entry %s without a value" % P.fmt(rec[0]))
            groups.setdefault(tuple(rec[0][:2]), []).append(rec)
        # All or nothing across instances: keep the old values and put them back on failure.
        saved = []
        try:
            for inst_path in sorted(groups):
                obj = self.registry.get_object(inst_path[0])
                if obj is None or inst_path[1] not in obj.instances:
                    raise M.Error(M.NOT_FOUND, "instance %s" % P.fmt(inst_path))
                saved.append((obj, inst_path[1], _copy(obj.instances[inst_path[1]])))
                self.registry.write(inst_path, groups[inst_path], replace=False)
        except M.Error:
            for obj, iid, values in saved:
                obj.instances[iid] = values
            raise
        return response(N.CHANGED)


def _copy(values):
    return dict((k, dict(v) if isinstance(v, dict) else v) for k, v in values.items())
