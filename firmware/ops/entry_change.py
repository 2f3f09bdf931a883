"""Network-entry change: a profile switch that is issued, acknowledged, proven, audited — or rolled
back to the last known good profile when the proof does not come in time.

Sans-I/O. Every input is an event method taking `now` (seconds on the board's persistent clock);
every method returns a list of actions for the runner (ops/loop.py) to carry out *in order*:

    ("persist", record)             write `record` atomically before doing anything that follows
                                    (always the first action; the record holds the audit ring too)
    ("enable", iccid)               ask the eUICC to enable `iccid` with rollbackFlag set
    ("rollback", iccid)             ask the eUICC to go back to `iccid` (SGP.32 ProfileRollback);
                                    the runner reports ok when the device is on `iccid` afterwards,
                                    also when the card had nothing to undo
    ("audit", entry)                append `entry` to the audit trail (and report it upstream)
    ("done", outcome)               the change ended: "committed", "rolled_back", "rejected", "failed"

Proof means the device is not only online but operable on the new profile: it is attached on the
target profile, its LwM2M registration succeeded again, the server acknowledged telemetry sent
after the switch, and the management context (policy, firmware version, server accounts; a digest
taken before the switch) is unchanged. Which facts are required is chosen per change.

A reset at any step is survived: the runner persists `record` before acting, and `resume()`
continues from it (an enable that may or may not have happened is proven or rolled back; a
rollback that may not have happened is issued again).
"""

from micropython import const

IDLE = "idle"
ENABLING = "enabling"
PROVING = "proving"
ROLLING_BACK = "rolling_back"
REPROVING = "reproving"  # after a rollback: the old profile must come back too

FACT_ATTACHED = "attached"
FACT_REGISTERED = "registered"
FACT_TELEMETRY = "telemetry"
FACT_CONTEXT = "context"
FACT_EIM = "eim_ack"
DEFAULT_PROOF = (FACT_ATTACHED, FACT_REGISTERED, FACT_TELEMETRY, FACT_CONTEXT)
_ALL_FACTS = (FACT_ATTACHED, FACT_REGISTERED, FACT_TELEMETRY, FACT_CONTEXT, FACT_EIM)

_DEFAULT_PROOF_WINDOW_S = const(300)
_DEFAULT_ENABLE_TIMEOUT_S = const(60)
_MAX_ROLLBACK_TRIES = const(3)
_AUDIT_KEEP = const(16)  # entries kept in the persisted record; older ones were reported upstream


class EntryChangeError(ValueError):
    """A request the state machine refuses; `field` names the offending input."""

    def __init__(self, field, reason):
        super().__init__("%s: %s" % (field, reason))
        self.field = field
        self.reason = reason


def _persist_first(method):
    """Every event method: one ("persist", record) leads whatever it returns (write-ahead), so
    the runner stores the new state, with its audit ring, before it acts or reports."""

    def wrapper(self, *args, **kwargs):
        actions = method(self, *args, **kwargs)
        return [("persist", self.record)] + actions if actions else actions

    return wrapper


class EntryChange:
    """One device's profile-switch state machine. `record` is the whole persisted state."""

    def __init__(self, record=None, proof_window_s=_DEFAULT_PROOF_WINDOW_S,
                 enable_timeout_s=_DEFAULT_ENABLE_TIMEOUT_S):
        self.proof_window_s = proof_window_s
        self.enable_timeout_s = enable_timeout_s
        self.record = record if record is not None else {
            "state": IDLE, "last_good": None, "change": None, "seq": 0, "audit": [],
        }

    # --- queries -------------------------------------------------------------------------------
    @property
    def state(self):
        return self.record["state"]

    @property
    def last_good(self):
        return self.record["last_good"]

    def busy(self):
        return self.record["state"] != IDLE

    # --- events --------------------------------------------------------------------------------
    @_persist_first
    def adopt_current(self, iccid, now):
        """At first boot (or after a manual change) the profile in use becomes the last known good."""
        if self.busy():
            raise EntryChangeError("state", "a change is in progress")
        if self.record["last_good"] == iccid:
            return []
        self.record["last_good"] = iccid
        return self._step(now, None, "adopted", {"iccid": iccid})

    @_persist_first
    def request(self, change_id, target_iccid, context_digest, now, require=DEFAULT_PROOF, source="local"):
        """Start a switch to `target_iccid`. `context_digest` is taken now and must match later."""
        if self.busy():
            raise EntryChangeError("state", "change %s is in progress" % self.record["change"]["id"])
        if not target_iccid:
            raise EntryChangeError("target_iccid", "empty")
        for fact in require:
            if fact not in _ALL_FACTS:
                raise EntryChangeError("require", "unknown fact %r" % fact)
        if target_iccid == self.record["last_good"]:
            return self._finish_now(change_id, target_iccid, now, "rejected", "already in use", source)
        self.record["change"] = {
            "id": change_id, "target": target_iccid, "previous": self.record["last_good"],
            "context": context_digest, "require": list(require), "facts": [],
            "deadline": now + self.enable_timeout_s, "tries": 0, "source": source,
        }
        self.record["state"] = ENABLING
        actions = self._step(now, ENABLING, "issued", {"target": target_iccid, "source": source})
        actions.append(("enable", target_iccid))
        return actions

    @_persist_first
    def enable_result(self, ok, detail, now):
        """The eUICC answered the enable (EnableProfile result or PSMO result)."""
        if self.state != ENABLING:
            return []
        change = self.record["change"]
        if not ok:
            # Nothing changed on the card: the old profile is still enabled and still good.
            return self._end(now, "rejected", {"detail": detail})
        change["deadline"] = now + self.proof_window_s
        return self._step(now, PROVING, "acknowledged", {"detail": detail})

    @_persist_first
    def fact(self, name, value, now):
        """A piece of proof arrived: attached(iccid), registered, telemetry, context(digest), eim_ack."""
        if self.state not in (PROVING, REPROVING):
            return []
        change = self.record["change"]
        expected = change["target"] if self.state == PROVING else change["previous"]
        if name == FACT_ATTACHED and value != expected:
            return self._step(now, None, "attached_elsewhere", {"iccid": value, "expected": expected})
        if name == FACT_CONTEXT and value != change["context"]:
            # Online but not operable: the switch lost management context. Do not wait for the
            # deadline; go back to the profile on which the context was intact.
            actions = self._step(now, None, "context_lost", {"expected": change["context"], "got": value})
            return actions + self._start_rollback(now) if self.state == PROVING else actions
        if name not in change["facts"]:
            change["facts"].append(name)
        required = change["require"] if self.state == PROVING else [FACT_ATTACHED, FACT_REGISTERED]
        missing = [f for f in required if f not in change["facts"]]
        if missing:
            return self._step(now, None, "proof", {"fact": name, "missing": missing})
        if self.state == PROVING:
            self.record["last_good"] = change["target"]
            return self._end(now, "committed", {"facts": list(change["facts"])})
        return self._end(now, "rolled_back", {"facts": list(change["facts"])})

    @_persist_first
    def rollback_result(self, ok, detail, now):
        if self.state != ROLLING_BACK:
            return []
        change = self.record["change"]
        if ok:
            change["facts"] = []
            change["deadline"] = now + self.proof_window_s
            return self._step(now, REPROVING, "rollback_acknowledged", {"detail": detail})
        if change["tries"] >= _MAX_ROLLBACK_TRIES:
            return self._end(now, "failed", {"detail": detail, "tries": change["tries"]})
        return self._step(now, None, "rollback_refused", {"detail": detail}) + self._retry_rollback(now)

    @_persist_first
    def tick(self, now):
        """Deadlines: no eUICC answer, no proof, or no proof of the old profile after a rollback."""
        state = self.state
        if state == IDLE or now < self.record["change"]["deadline"]:
            return []
        if state == ENABLING:
            # The card may or may not have switched; rolling back is safe either way (a rollback
            # with nothing to undo is answered as such) and is the only way to be sure.
            return self._step(now, None, "enable_timeout", {}) + self._start_rollback(now)
        if state == PROVING:
            missing = [f for f in self.record["change"]["require"] if f not in self.record["change"]["facts"]]
            return self._step(now, None, "proof_timeout", {"missing": missing}) + self._start_rollback(now)
        if state == ROLLING_BACK:
            return self._retry_rollback(now)
        return self._end(now, "failed", {"detail": "old profile did not come back"})

    @_persist_first
    def resume(self, now):
        """After a reset: actions that continue the change recorded in `record`."""
        state = self.state
        if state == IDLE:
            return []
        change = self.record["change"]
        actions = self._step(now, None, "resumed", {"state": state})
        if state == ENABLING:
            actions.append(("enable", change["target"]))
        elif state == ROLLING_BACK:
            actions.append(("rollback", change["previous"]))
        else:
            # Attachment, registration, telemetry and context are proven again after the reset;
            # the eIM's acknowledgement of the result comes once and stays valid.
            change["facts"] = [f for f in change["facts"] if f == FACT_EIM]
        return actions

    # --- internals -----------------------------------------------------------------------------
    def _start_rollback(self, now):
        change = self.record["change"]
        if change["previous"] is None:
            return self._end(now, "failed", {"detail": "no last known good profile"})
        return self._retry_rollback(now)

    def _retry_rollback(self, now):
        change = self.record["change"]
        if change["tries"] >= _MAX_ROLLBACK_TRIES:
            return self._end(now, "failed", {"detail": "rollback not acknowledged", "tries": change["tries"]})
        change["tries"] += 1
        change["deadline"] = now + self.enable_timeout_s
        actions = self._step(now, ROLLING_BACK, "rollback_issued",
                             {"to": change["previous"], "try": change["tries"]})
        actions.append(("rollback", change["previous"]))
        return actions

    def _end(self, now, outcome, detail):
        actions = self._step(now, IDLE, outcome, detail)
        self.record["change"] = None
        actions.append(("done", outcome))
        return actions

    def _finish_now(self, change_id, target, now, outcome, reason, source):
        actions = self._step(now, None, outcome, {"change": change_id, "target": target,
                                                   "reason": reason, "source": source})
        actions.append(("done", outcome))
        return actions

    def _step(self, now, new_state, step, detail):
        if new_state is not None:
            self.record["state"] = new_state
        self.record["seq"] += 1
        change = self.record["change"]
        entry = {"seq": self.record["seq"], "t": now, "change": change["id"] if change else None,
                 "step": step, "state": self.record["state"]}
        for k in detail:
            entry[k] = detail[k]
        audit = self.record["audit"]
        audit.append(entry)
        if len(audit) > _AUDIT_KEEP:
            audit.pop(0)
        return [("audit", entry)]

