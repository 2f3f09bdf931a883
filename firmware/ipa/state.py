"""Persistent IPAd state. Everything a reset must not lose lives here: eIM counters seen, results
the eIM has not acknowledged yet, the step an interrupted procedure had reached, the rollback
arming after an enable with rollbackFlag, the last profile known to reach the eIM.

Stored as one small JSON document, written atomically (write a temp file, then rename over the
old one), so after a reset at any instant the file holds either the previous or the new state.
hal.storage is used when it provides write_atomic(path, data)/read(path); otherwise the tiny
writer below does the same with os.rename."""

import json
import os

try:
    from hal import storage as _storage
    if not (hasattr(_storage, "write_atomic") and hasattr(_storage, "read")):
        _storage = None
except ImportError:
    _storage = None

DEFAULT_PATH = "ipa_state.json"

_DEFAULTS = {
    "v": 1,
    "eid": None,
    "initial_eim_done": False,
    "counters": {},        # eimId -> highest counterValue seen in an eUICC Package Result
    "pending": [],         # results not yet acknowledged by the eIM: {"kind", "raw" hex, "seq"}
    "phase": None,         # {"proc": name, "step": name, ...} of an unfinished procedure
    "rollback": None,      # {"iccid": hex of the profile to fall back to, "fails": n}
    "last_good_iccid": None,
    "backoff_ms": 0,
}


def _write_atomic(path, data):
    if _storage is not None:
        _storage.write_atomic(path, data)
        return
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(data)
    os.rename(tmp, path)


def _read(path):
    if _storage is not None:
        return _storage.read(path)
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


class IpaState:
    def __init__(self, path=DEFAULT_PATH):
        self.path = path
        self.d = {}
        self.load()

    def load(self):
        raw = _read(self.path)
        d = None
        if raw:
            try:
                d = json.loads(raw)
            except ValueError:
                d = None
        if not isinstance(d, dict):
            d = {}
        for k, v in _DEFAULTS.items():
            if k not in d:
                d[k] = json.loads(json.dumps(v))
        self.d = d

    def save(self):
        _write_atomic(self.path, json.dumps(self.d))

    def __getitem__(self, key):
        return self.d[key]

    def set(self, key, value, save=True):
        self.d[key] = value
        if save:
            self.save()

    # Procedure checkpoints: set before the step's side effect so a reset resumes at it.
    def checkpoint(self, proc, step, **fields):
        ph = {"proc": proc, "step": step}
        for k, v in fields.items():
            ph[k] = v
        self.set("phase", ph)

    def clear_phase(self):
        self.set("phase", None)

    # Results the eIM still has to acknowledge.
    def add_pending(self, kind, raw, seq=None, save=True):
        hexraw = raw.hex() if isinstance(raw, (bytes, bytearray)) else raw
        for p in self.d["pending"]:
            if p["raw"] == hexraw:
                return
        self.d["pending"].append({"kind": kind, "raw": hexraw, "seq": seq})
        if save:
            self.save()

    def pending(self):
        return self.d["pending"]

    def drop_pending(self, seqs=None, kinds=None, save=True):
        """Forget pending results acknowledged by seqNumber (or all of some kinds)."""
        keep = []
        for p in self.d["pending"]:
            if seqs is not None and p["seq"] is not None and p["seq"] in seqs:
                continue
            if kinds is not None and p["kind"] in kinds:
                continue
            keep.append(p)
        self.d["pending"] = keep
        if save:
            self.save()

    def note_counter(self, eim_id, counter, save=True):
        if eim_id is None or counter is None:
            return
        c = self.d["counters"]
        if c.get(eim_id, -1) < counter:
            c[eim_id] = counter
            if save:
                self.save()
