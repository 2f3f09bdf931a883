"""Registration interface logic (Core 1.1 §6.2, Transport 1.1 §6.2.1), sans I/O: parse the
Register/Update query and payload, keep the directory, tell which registrations expired.
`now` is passed in (wall-clock seconds) so tests and restarts control time."""

import secrets

from . import numbers
from .codecs import linkformat

# CoAP response codes this module decides (as dotted strings, transport-independent)
CREATED, DELETED, CHANGED = "2.01", "2.02", "2.04"
BAD_REQUEST, FORBIDDEN, NOT_FOUND, PRECONDITION_FAILED = "4.00", "4.03", "4.04", "4.12"


class RegistrationError(Exception):
    """A request the registration interface refuses; `code` is the CoAP response code."""

    def __init__(self, code, message):
        super().__init__("%s %s" % (code, message))
        self.code = code
        self.message = message


class Registration:
    """One client's registration (the directory entry)."""

    def __init__(self, reg_id, endpoint, lifetime, version, binding, queue_mode, sms, objects,
                 root, remote_uri, now):
        self.reg_id = reg_id
        self.endpoint = endpoint
        self.lifetime = lifetime
        self.version = version
        self.binding = binding
        self.queue_mode = queue_mode
        self.sms = sms
        self.objects = objects  # {"/3": {"ver": "1.1"}, "/3/0": {}}
        self.root = root
        self.remote_uri = remote_uri
        self.registered_at = now
        self.updated_at = now

    @property
    def location(self):
        return "/rd/" + self.reg_id

    def expires_at(self, grace):
        return self.updated_at + self.lifetime + grace

    def object_version(self, oid):
        params = self.objects.get("/%d" % oid) or {}
        return params.get("ver", "1.0")

    def instances(self, oid):
        prefix = "/%d/" % oid
        return sorted(int(p[len(prefix):]) for p in self.objects if p.startswith(prefix))

    def to_dict(self):
        return {
            "reg_id": self.reg_id, "endpoint": self.endpoint, "lifetime": self.lifetime,
            "version": self.version, "binding": self.binding, "queue_mode": self.queue_mode,
            "sms": self.sms, "objects": self.objects, "root": self.root,
            "remote_uri": self.remote_uri, "registered_at": self.registered_at,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_dict(cls, d):
        reg = cls(d["reg_id"], d["endpoint"], d["lifetime"], d["version"], d["binding"],
                  d["queue_mode"], d["sms"], d["objects"], d["root"], d["remote_uri"],
                  d["registered_at"])
        reg.updated_at = d["updated_at"]
        return reg

    def __repr__(self):
        return "<Registration %s ep=%s lt=%d b=%s%s %s>" % (
            self.location, self.endpoint, self.lifetime, self.binding,
            " Q" if self.queue_mode else "", self.remote_uri)


def parse_query(query):
    """Uri-Query options ("ep=x", "Q") -> {name: value or None}; repeated names are refused."""
    params = {}
    for item in query:
        name, sep, value = item.partition("=")
        if name in params:
            raise RegistrationError(BAD_REQUEST, "query parameter %r repeated" % name)
        params[name] = value if sep else None
    return params


def _lifetime(params):
    text = params.get("lt")
    try:
        lifetime = int(text)
    except (TypeError, ValueError):
        raise RegistrationError(BAD_REQUEST, "lt=%r is not an integer" % text) from None
    if lifetime <= 0:
        raise RegistrationError(BAD_REQUEST, "lt=%d must be positive" % lifetime)
    return lifetime


def _binding(params, default):
    binding = params.get("b", default) or default
    if not all(c in "UTSNQ" for c in binding):
        raise RegistrationError(BAD_REQUEST, "b=%r has an unknown binding" % binding)
    # 1.0 wrote queue mode into the binding (b=UQ); 1.1 has a separate Q parameter
    queue = "Q" in binding or "Q" in params
    return binding.replace("Q", "") or "U", queue


def _objects(payload):
    try:
        return linkformat.object_links(linkformat.parse(payload))
    except linkformat.LinkFormatError as exc:
        raise RegistrationError(BAD_REQUEST, "object links: %s" % exc) from None


class Directory:
    """All current registrations, by location id and by endpoint name."""

    def __init__(self, grace=0):
        self.grace = grace
        self.by_id = {}

    def by_endpoint(self, endpoint):
        for reg in self.by_id.values():
            if reg.endpoint == endpoint:
                return reg
        return None

    def by_remote(self, remote_uri):
        for reg in self.by_id.values():
            if reg.remote_uri == remote_uri:
                return reg
        return None

    def register(self, query, payload, remote_uri, now):
        """Register: -> (new Registration, replaced Registration or None)."""
        params = parse_query(query)
        endpoint = params.get("ep")
        if not endpoint:
            raise RegistrationError(BAD_REQUEST, "Register without endpoint name (ep)")
        version = params.get("lwm2m") or "1.0"
        if version not in numbers.SUPPORTED_VERSIONS:
            raise RegistrationError(PRECONDITION_FAILED, "lwm2m=%s not supported" % version)
        lifetime = _lifetime(params) if "lt" in params else numbers.DEFAULT_LIFETIME_S
        binding, queue = _binding(params, "U")
        if not payload:
            raise RegistrationError(BAD_REQUEST, "Register without object links")
        objects, root = _objects(payload)
        old = self.by_endpoint(endpoint)
        if old is not None:
            # a client that registers again replaces its previous registration (Core §6.2.1)
            del self.by_id[old.reg_id]
        reg_id = secrets.token_hex(5)
        while reg_id in self.by_id:
            reg_id = secrets.token_hex(5)
        reg = Registration(reg_id, endpoint, lifetime, version, binding, queue,
                           params.get("sms"), objects, root, remote_uri, now)
        self.by_id[reg_id] = reg
        return reg, old

    def update(self, reg_id, query, payload, remote_uri, now):
        reg = self.by_id.get(reg_id)
        if reg is None:
            raise RegistrationError(NOT_FOUND, "no registration at /rd/%s" % reg_id)
        params = parse_query(query)
        # validate everything before changing anything: a refused Update leaves the entry as it was
        lifetime = _lifetime(params) if "lt" in params else reg.lifetime
        binding, queue = _binding(params, reg.binding) if ("b" in params or "Q" in params) \
            else (reg.binding, reg.queue_mode)
        objects, root = _objects(payload) if payload else (reg.objects, reg.root)
        reg.lifetime, reg.binding, reg.queue_mode = lifetime, binding, queue
        reg.objects, reg.root = objects, root
        reg.sms = params.get("sms", reg.sms)
        reg.remote_uri = remote_uri
        reg.updated_at = now
        return reg

    def deregister(self, reg_id):
        reg = self.by_id.pop(reg_id, None)
        if reg is None:
            raise RegistrationError(NOT_FOUND, "no registration at /rd/%s" % reg_id)
        return reg

    def expired(self, now):
        """Remove and return the registrations whose lifetime (plus grace) has passed."""
        gone = [reg for reg in self.by_id.values() if now > reg.expires_at(self.grace)]
        for reg in gone:
            del self.by_id[reg.reg_id]
        return gone
