"""CoRE Link Format, content-format 40 (RFC 6690), as LwM2M uses it (OMA-TS-LightweightM2M_Core-
V1_1 §5.2.7.3 Bootstrap-Discover, §5.3 Register payload, §5.4.1 Discover), sans-I/O.

  registration(registry, ct=None) -> bytes
      "</>;rt="oma.lwm2m";ct=11543,</1>;ver=1.1,</1/0>,</3/0>": the root link only when ct is
      given (int, or a list for several formats); ver= on the object link when the object version
      is not 1.0; objects without instances as </oid>; Security (0) and OSCORE (21) never listed.
  discover(registry, path, attrs=None, depth=None) -> bytes
      path /oid, /oid/iid or /oid/iid/rid; attrs an lwm2m.attrs.AttrStore (attached attributes
      are shown at their level); multiple resources carry dim=N. depth (1.2) counts the levels
      listed below the path; default: object 2, instance 1, resource 0.
  bootstrap_discover(registry, oid=None, version="1.1") -> bytes
      "</>;lwm2m=1.1,</0/0>;uri="coap://bs",</0/1>;ssid=101;uri="...",</1/0>;ssid=101,</3/0>"
  parse(text) -> [(uri, {attr: value or None})]   quoted values unquoted; commas inside quotes kept
"""

from lwm2m import model
from lwm2m import path as lpath
from lwm2m.model import Error, BAD_REQUEST

_HIDDEN = (0, 21)


def _ver(obj):
    return "" if obj.version in ("1.0", "", None) else ";ver=%s" % obj.version


def registration(registry, ct=None):
    parts = []
    if ct is not None:
        cts = " ".join([str(c) for c in ct]) if isinstance(ct, (list, tuple)) else str(ct)
        parts.append('</>;rt="oma.lwm2m";ct=%s' % (('"%s"' % cts) if " " in cts else cts))
    for obj in registry.objects():
        if obj.oid in _HIDDEN:
            continue
        iids = obj.iids()
        if not iids or _ver(obj):
            parts.append("</%d>%s" % (obj.oid, _ver(obj)))
        for iid in iids:
            parts.append("</%d/%d>" % (obj.oid, iid))
    return ",".join(parts).encode()


def _attached(attrs, path):
    if attrs is None:
        return ""
    from lwm2m.attrs import fmt

    return fmt(attrs.attached(path))


def _res_links(parts, obj, iid, rid, attrs, depth):
    p = (obj.oid, iid, rid)
    f = obj.field(rid)
    inst = obj.instances[iid]
    extra = ""
    if f is not None and f[3] & model.MULTI:
        multi = inst.get(rid) or {}
        extra = ";dim=%d" % len(multi)
    parts.append("<%s>%s%s" % (lpath.fmt(p), extra, _attached(attrs, p)))
    if depth > 0 and extra:
        for riid in sorted(inst.get(rid) or {}):
            rp = p + (riid,)
            parts.append("<%s>%s" % (lpath.fmt(rp), _attached(attrs, rp)))


def discover(registry, path, attrs=None, depth=None):
    if not path or len(path) > 3:
        raise Error(model.METHOD_NOT_ALLOWED, "discover of %s" % lpath.fmt(path))
    obj = registry.get_object(path[0])
    if obj is None:
        raise Error(model.NOT_FOUND, "object /%d" % path[0])
    if depth is None:
        depth = (2, 1, 0)[len(path) - 1]
    parts = []
    if len(path) == 1:
        parts.append("</%d>%s%s" % (obj.oid, _ver(obj), _attached(attrs, path)))
        iids = obj.iids() if depth > 0 else []
    else:
        if path[1] not in obj.instances:
            raise Error(model.NOT_FOUND, "instance %s" % lpath.fmt(path[:2]))
        iids = [path[1]]
    for iid in iids:
        inst = obj.instances[iid]
        level = depth - 1 if len(path) == 1 else depth
        if len(path) <= 2:
            ip = (obj.oid, iid)
            parts.append("<%s>%s" % (lpath.fmt(ip), _attached(attrs, ip)))
            if level > 0:
                for f in obj.fields:
                    if f[0] in inst:
                        _res_links(parts, obj, iid, f[0], attrs, level - 1)
        else:
            if path[2] not in inst or obj.field(path[2]) is None:
                raise Error(model.NOT_FOUND, "resource %s" % lpath.fmt(path))
            _res_links(parts, obj, iid, path[2], attrs, depth)
    return ",".join(parts).encode()


def bootstrap_discover(registry, oid=None, version="1.1"):
    parts = [] if oid is not None else ["</>;lwm2m=%s" % version]
    objs = registry.objects() if oid is None else [registry.get_object(oid)]
    if objs[0] is None:
        raise Error(model.NOT_FOUND, "object /%d" % oid)
    for obj in objs:
        iids = obj.iids()
        if not iids or _ver(obj):
            parts.append("</%d>%s" % (obj.oid, _ver(obj)))
        for iid in iids:
            extra = ""
            if obj.oid in (0, 1):
                ssid = registry.get((obj.oid, iid, 10 if obj.oid == 0 else 0))
                is_bs = obj.oid == 0 and registry.get((0, iid, 1), False)
                if ssid is not None and not is_bs:
                    extra += ";ssid=%d" % ssid
                if obj.oid == 0:
                    uri = registry.get((0, iid, 0))
                    if uri is not None:
                        extra += ';uri="%s"' % uri
            parts.append("</%d/%d>%s" % (obj.oid, iid, extra))
    return ",".join(parts).encode()


def _split(text, sep):
    out = []
    quoted = False
    start = 0
    for i, c in enumerate(text):
        if c == '"':
            quoted = not quoted
        elif c == sep and not quoted:
            out.append(text[start:i])
            start = i + 1
    if quoted:
        raise Error(BAD_REQUEST, "link format: unterminated quote")
    out.append(text[start:])
    return out


def parse(text):
    if isinstance(text, (bytes, bytearray, memoryview)):
        try:
            text = bytes(text).decode()
        except Exception:
            raise Error(BAD_REQUEST, "link format is not UTF-8")
    out = []
    if not text:
        return out
    for link in _split(text, ","):
        params = _split(link.strip(), ";")
        target = params[0]
        if len(target) < 2 or target[0] != "<" or target[-1] != ">":
            raise Error(BAD_REQUEST, "link format: %r is not <uri>" % target)
        attrs = {}
        for p in params[1:]:
            i = p.find("=")
            if i < 0:
                attrs[p] = None
            else:
                v = p[i + 1:]
                if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
                    v = v[1:-1]
                attrs[p[:i]] = v
        out.append((target[1:-1], attrs))
    return out
