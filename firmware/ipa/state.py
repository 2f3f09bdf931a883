"""Persistent IPAd state. Everything a reset must not lose lives here: eIM counters seen, results
the eIM has not acknowledged yet, the step an interrupted procedure had reached, the rollback
arming after an enable with rollbackFlag, the last profile known to reach the eIM.

Stored as one small JSON document, written so that after a reset at any instant the previous
or the new state is read back: through hal.storage.Store (temp file with CRC, fsync, rename,
fallback copy) when one is passed in, which is what the device does; otherwise with the tiny
writer below (write a temp file, then rename it over the old one) for a bare path."""

import json
import os

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
    "state_change": None,  # StateChangeCause to report with the next GetEimPackage
}


def _write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(data)
    os.rename(tmp, path)


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


class IpaState:
    def __init__(self, path=DEFAULT_PATH, store=None, key="ipa_state"):
        """store: a hal.storage.Store (used with `key`); else the JSON file at `path`."""
        self.path = path
        self.store = store
        self.key = key
        self.d = {}
        self.load()

    def load(self):
        d = None
        if self.store is not None:
            d = self.store.get_json(self.key, None)
        else:
            raw = _read(self.path)
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
        if self.store is not None:
            self.store.put_json(self.key, self.d)
        else:
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
