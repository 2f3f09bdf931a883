"""LwM2M notification attributes engine (OMA-TS-LightweightM2M_Core-V1_1 §5.1.2, §6.4.1), sans-I/O.

Decides WHEN a Notify is due for each observation; the runner asks the data model for the value and
the CoAP layer sends it. Times are ms ticks passed in (fake clock in tests); attributes are seconds.

Attributes (effective values, already resolved along resource > instance > object > /1/x/2,3):
- pmin: no Notify earlier than pmin after the previous one (changes meanwhile are held back).
- pmax: a Notify at the latest pmax after the previous one, changed or not; ignored if 0 or < pmin.
- gt / lt: a change counts only when the numeric value crosses the threshold (either direction).
- st: a change counts only when it differs from the last NOTIFIED value by at least st.
  Without gt/lt/st any change of value counts. gt/lt/st apply to numeric single resources only;
  for an object or instance observation every change inside it counts.
- epmin / epmax: the value is evaluated at most every epmin (changes are deferred until then)
  and at least every epmax (the value is sampled via `read(path)` even without a change event);
  epmax is ignored unless > epmin.

A NotificationStore keeps Notify messages while the server is offline or disabled when
/1/x/6 (Notification Storing When Disabled or Offline) is true; it is bounded (oldest dropped).
"""

from micropython import const

from hal.clock import default as _clock

_DEF_MAX_OBSERVATIONS = const(16)
# Periods are capped below half the ticks period (MicroPython's ticks_add limit), ~74 h.
_MAX_PERIOD_MS = const(0x0FFFFFFF)
_DEF_STORE = const(16)


def _numeric(v):
    return (isinstance(v, int) or isinstance(v, float)) and not isinstance(v, bool)


def path_overlaps(a, b):
    """True if one path (tuple of ints) contains the other: a change at b concerns an observation of a."""
    n = min(len(a), len(b))
    return a[:n] == b[:n]


class Observation:
    def __init__(self, key, path, attrs, value, now, ctx, paths=None):
        self.key = key
        self.path = path
        # What a change must touch: the path itself, or for Observe-Composite (path ()) the list
        # of observed paths (Core 1.1 §6.4.3: one notification carries all of them).
        self.paths = paths if paths is not None else (path,)
        self.ctx = ctx  # runner data: server id, token, remote, content format ...
        self.set_attrs(attrs)
        self.last_notify = now
        self.last_value = value  # value sent in the last notification (st reference)
        self.prev_value = value  # value at the last evaluation (gt/lt crossing reference)
        self.last_eval = now
        self.dirty = False  # a change event not evaluated yet
        self.pending = False  # a qualifying change waits for pmin

    def set_attrs(self, attrs):
        get = attrs.get
        self.pmin = min((get("pmin") or 0) * 1000, _MAX_PERIOD_MS)
        pmax = get("pmax") or 0
        self.pmax = min(pmax * 1000, _MAX_PERIOD_MS) if pmax and pmax * 1000 >= self.pmin else 0
        self.gt = get("gt")
        self.lt = get("lt")
        self.st = get("st")
        epmin = get("epmin")
        epmax = get("epmax")
        self.epmin = min((epmin or 0) * 1000, _MAX_PERIOD_MS)
        self.epmax = min(epmax * 1000, _MAX_PERIOD_MS) if epmax and (epmin is None or epmax > epmin) else 0
        self.thresholds = self.gt is not None or self.lt is not None or self.st is not None

    def qualifies(self, value):
        """Does the newly evaluated value justify a Notify (before pmin)?"""
        if not self.thresholds or len(self.path) < 3 or not _numeric(value):
            return value != self.prev_value or len(self.path) < 3
        prev = self.prev_value
        if not _numeric(prev):
            return True
        if self.gt is not None and (prev > self.gt) != (value > self.gt):
            return True
        if self.lt is not None and (prev < self.lt) != (value < self.lt):
            return True
        last = self.last_value
        if self.st is not None and _numeric(last) and abs(value - last) >= self.st:
            return True
        return False


class ObserveEngine:
    """All observations of the client. read(path) -> current value (used to evaluate thresholds and
    to sample on epmax); it may return None for object/instance paths."""

    def __init__(self, read, max_observations=_DEF_MAX_OBSERVATIONS):
        self.read = read
        self.max = max_observations
        self.obs = {}

    def add(self, key, path, attrs, value, now, ctx=None, paths=None):
        """Register (or re-register: same key replaces) an observation; `value` is what the response
        to the Observe request carried. A composite observation passes path () and `paths`."""
        if key not in self.obs and len(self.obs) >= self.max:
            raise (globals().get("ObserveLimit") or _make_limit())(len(self.obs))
        o = Observation(key, path, attrs, value, now, ctx, paths)
        self.obs[key] = o
        return o

    def remove(self, key):
        return self.obs.pop(key, None)

    def remove_where(self, pred):
        for key in [k for k, o in self.obs.items() if pred(o)]:
            del self.obs[key]

    def get(self, key):
        return self.obs.get(key)

    def set_attrs(self, path, attrs_for, now):
        """Write-Attributes changed something at or above `path`: re-resolve affected observations.
        attrs_for(observation) -> effective attribute dict."""
        for o in self.obs.values():
            if path_overlaps(o.path, path):
                o.set_attrs(attrs_for(o))

    def changed(self, path, now):
        """A value at `path` (tuple) changed, or an instance under it was created/deleted."""
        for o in self.obs.values():
            for p in o.paths:
                if path_overlaps(p, path):
                    o.dirty = True
                    break

    def _evaluate(self, o, now):
        o.dirty = False
        o.last_eval = now
        if len(o.path) >= 3 or o.thresholds:
            value = self.read(o.path)
        else:
            value = None  # object/instance: the change event itself qualifies
        if o.qualifies(value):
            o.pending = True
        o.prev_value = value

    def due(self, now):
        """Keys of observations whose Notify must be sent now."""
        out = []
        for o in self.obs.values():
            if o.epmax and _clock.ticks_diff(now, o.last_eval) >= o.epmax:
                o.dirty = True
            if o.dirty and _clock.ticks_diff(now, o.last_eval) >= o.epmin:
                self._evaluate(o, now)
            since = _clock.ticks_diff(now, o.last_notify)
            if (o.pending and since >= o.pmin) or (o.pmax and since >= o.pmax):
                out.append(o.key)
        return out

    def notified(self, key, value, now):
        """The Notify for `key` went out carrying `value`."""
        o = self.obs.get(key)
        if o is None:
            return
        o.last_notify = now
        o.last_value = value
        o.prev_value = value
        o.pending = False

    def next_time(self, now):
        """Earliest tick at which `due` may return something (None: only on a change)."""
        best = None
        for o in self.obs.values():
            for t in self._deadlines(o):
                if t is not None and (best is None or _clock.ticks_diff(t, best) < 0):
                    best = t
        return best

    @staticmethod
    def _deadlines(o):
        yield _clock.ticks_add(o.last_eval, o.epmin) if o.dirty else None
        yield _clock.ticks_add(o.last_eval, o.epmax) if o.epmax else None
        yield _clock.ticks_add(o.last_notify, o.pmin) if o.pending else None
        yield _clock.ticks_add(o.last_notify, o.pmax) if o.pmax else None


# The table-full error and the offline store are made on first use (module __getattr__):
# a client that is never observed to the limit, nor offline with /1/x/6 set, keeps their RAM.
def _make_limit():
    global ObserveLimit

    class ObserveLimit(Exception):
        """No room for another observation; the runner answers 5.00 / 4.13 with this context."""

        def __init__(self, count):
            super().__init__("observation table full (%d)" % count)
            self.count = count

    return ObserveLimit


def _make_store():
    global NotificationStore

    class NotificationStore:
        """Notifications held while offline / disabled (/1/x/6 true), oldest first, bounded."""

        def __init__(self, capacity=_DEF_STORE):
            self.capacity = capacity
            self.items = []
            self.dropped = 0

        def put(self, key, content_format, payload):
            if len(self.items) >= self.capacity:
                self.items.pop(0)
                self.dropped += 1
            self.items.append((key, content_format, bytes(payload)))

        def drain(self):
            """Remove and return everything stored, oldest first."""
            items, self.items = self.items, []
            return items

        def __len__(self):
            return len(self.items)

    return NotificationStore


def __getattr__(name):
    if name == "ObserveLimit":
        return _make_limit()
    if name == "NotificationStore":
        return _make_store()
    raise AttributeError(name)
