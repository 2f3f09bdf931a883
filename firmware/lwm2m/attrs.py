"""Notification attributes per server (OMA-TS-LightweightM2M_Core-V1_1 §5.1.2), sans-I/O.

One AttrStore per LwM2M server (attributes belong to a server account):
  write(path, pairs, numeric=False)   pairs [(name, text or None)] from the Uri-Query of a
                                      Write-Attributes; None removes the attribute. Checked as a
                                      whole (int/float syntax, gt/lt/st only on numeric resources,
                                      st >= 0, lt < gt, lt + 2*st < gt) before anything is kept:
                                      on Error 4.00 the store is unchanged.
  attached(path) -> dict              attributes set at exactly this level (Discover)
  effective(path, defaults=None) -> dict   defaults (e.g. {"pmin": /1/x/2, "pmax": /1/x/3}) <
                                      object < instance < resource < resource instance
  remove_under(path)                  drop every entry at or below a path (instance deleted)
  fmt(attrs) -> str                   ";pmin=10;gt=20.5" in a fixed order
Integers: pmin pmax epmin epmax hqmax; 0/1 flags: edge con; floats: gt lt st.
"""

from micropython import const

from lwm2m.model import Error, BAD_REQUEST, INTERNAL_SERVER_ERROR

_INTS = ("pmin", "pmax", "epmin", "epmax", "hqmax")
_FLAGS = ("edge", "con")
_NUMS = ("gt", "lt", "st")
ORDER = ("pmin", "pmax", "gt", "lt", "st", "epmin", "epmax", "edge", "con", "hqmax")
_MAX_ENTRIES = const(64)


def _parse(name, text):
    if name in _INTS or name in _FLAGS:
        if not text or not text.isdigit() or len(text) > 10:
            raise Error(BAD_REQUEST, "attribute %s=%r is not an unsigned integer" % (name, text))
        v = int(text)
        if name in _FLAGS and v > 1:
            raise Error(BAD_REQUEST, "attribute %s=%r must be 0 or 1" % (name, text))
        return v
    if name in _NUMS:
        if text and len(text) < 32 and all(c in "0123456789+-.eE" for c in text):
            try:
                return float(text)
            except ValueError:
                pass
        raise Error(BAD_REQUEST, "attribute %s=%r is not a number" % (name, text))
    raise Error(BAD_REQUEST, "attribute %r is unknown or read-only" % (name,))


def _check(a, path, numeric):
    if ("gt" in a or "lt" in a or "st" in a) and (len(path) < 3 or not numeric):
        raise Error(BAD_REQUEST, "gt/lt/st only on numeric resources")
    if a.get("st", 0) < 0:
        raise Error(BAD_REQUEST, "st must not be negative")
    if "gt" in a and "lt" in a:
        if not a["lt"] < a["gt"]:
            raise Error(BAD_REQUEST, "lt must be below gt")
        if a["lt"] + 2 * a.get("st", 0) >= a["gt"]:
            raise Error(BAD_REQUEST, "lt + 2*st must be below gt")


def _num_text(v):
    if isinstance(v, float) and v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return str(v)


def fmt(attrs):
    return "".join([";%s=%s" % (k, _num_text(attrs[k])) for k in ORDER if k in attrs])


class AttrStore:
    def __init__(self, max_entries=_MAX_ENTRIES):
        self._by_path = {}
        self.max_entries = max_entries

    def write(self, path, pairs, numeric=False):
        path = tuple(path)
        new = dict(self._by_path.get(path, {}))
        for name, text in pairs:
            if text is None:
                if name not in ORDER:
                    raise Error(BAD_REQUEST, "attribute %r is unknown" % (name,))
                new.pop(name, None)
            else:
                new[name] = _parse(name, text)
        _check(new, path, numeric)
        if new:
            if path not in self._by_path and len(self._by_path) >= self.max_entries:
                raise Error(INTERNAL_SERVER_ERROR, "attribute store full (%d paths)" % self.max_entries)
            self._by_path[path] = new
        else:
            self._by_path.pop(path, None)

    def attached(self, path):
        return dict(self._by_path.get(tuple(path), {}))

    def effective(self, path, defaults=None):
        out = dict(defaults) if defaults else {}
        for n in range(1, len(path) + 1):
            a = self._by_path.get(tuple(path[:n]))
            if a:
                out.update(a)
        return out

    def remove_under(self, path):
        n = len(path)
        for p in [p for p in self._by_path if tuple(p[:n]) == tuple(path)]:
            del self._by_path[p]

    def paths(self):
        return sorted(self._by_path)
