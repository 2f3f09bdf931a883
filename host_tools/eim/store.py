"""The eIM's persistent state in SQLite: eUICCs, associations (counter, association token),
the per-EID package queue, pending acknowledgements, received notifications and the audit log.

One connection per process; the CLI and the server may share a file (WAL, busy timeout)."""

import json
import sqlite3
import threading
import time

# Package states, in order of a normal life; "error" ends a package that failed anywhere.
QUEUED = "queued"
DELIVERED = "delivered"
RESULT = "result"
ACKNOWLEDGED = "acknowledged"
ERROR = "error"
CANCELLED = "cancelled"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS euicc (
    eid TEXT PRIMARY KEY,
    euicc_cert BLOB,
    eum_cert BLOB,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS association (
    eid TEXT NOT NULL,
    eim_id TEXT NOT NULL,
    counter INTEGER NOT NULL,
    association_token INTEGER,
    PRIMARY KEY (eid, eim_id)
);
CREATE TABLE IF NOT EXISTS package (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    eid TEXT NOT NULL,
    kind TEXT NOT NULL,
    spec TEXT NOT NULL,
    eim_transaction_id BLOB NOT NULL UNIQUE,
    state TEXT NOT NULL,
    counter INTEGER,
    der BLOB,
    eim_signature BLOB,
    seq_number INTEGER,
    result BLOB,
    result_summary TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS package_eid_state ON package (eid, state, id);
CREATE TABLE IF NOT EXISTS pending_ack (
    eid TEXT NOT NULL,
    seq_number INTEGER NOT NULL,
    what TEXT NOT NULL,
    PRIMARY KEY (eid, seq_number)
);
CREATE TABLE IF NOT EXISTS notification (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    eid TEXT,
    seq_number INTEGER,
    der BLOB NOT NULL,
    received REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS smdp_session (
    transaction_id BLOB PRIMARY KEY,
    eid TEXT,
    package_id INTEGER,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    eid TEXT,
    package_id INTEGER,
    event TEXT NOT NULL,
    detail TEXT
);
"""


class Store:
    def __init__(self, path=":memory:"):
        self.path = path
        # the server's loop thread and a test's thread may share one Store; the lock keeps
        # multi-statement updates whole
        self.db = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
        self.lock = threading.RLock()
        self.db.row_factory = sqlite3.Row
        if path != ":memory:":
            self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(_SCHEMA)

    def close(self):
        self.db.close()

    def _x(self, sql, args=()):
        with self.lock:
            return self.db.execute(sql, args)

    # --- eUICCs and associations ---

    def ensure_euicc(self, eid):
        self._x("INSERT OR IGNORE INTO euicc (eid, created) VALUES (?, ?)", (eid, time.time()))

    def euicc(self, eid):
        return self._x("SELECT * FROM euicc WHERE eid = ?", (eid,)).fetchone()

    def set_certificates(self, eid, euicc_cert=None, eum_cert=None):
        self.ensure_euicc(eid)
        if euicc_cert is not None:
            self._x("UPDATE euicc SET euicc_cert = ? WHERE eid = ?", (bytes(euicc_cert), eid))
        if eum_cert is not None:
            self._x("UPDATE euicc SET eum_cert = ? WHERE eid = ?", (bytes(eum_cert), eid))

    def association(self, eid, eim_id):
        return self._x("SELECT * FROM association WHERE eid = ? AND eim_id = ?",
                       (eid, eim_id)).fetchone()

    def set_association(self, eid, eim_id, counter=None, association_token=None):
        self.ensure_euicc(eid)
        self._x("INSERT OR IGNORE INTO association (eid, eim_id, counter) VALUES (?, ?, 0)",
                (eid, eim_id))
        if counter is not None:
            self._x("UPDATE association SET counter = ? WHERE eid = ? AND eim_id = ?",
                    (counter, eid, eim_id))
        if association_token is not None:
            self._x("UPDATE association SET association_token = ? WHERE eid = ? AND eim_id = ?",
                    (association_token, eid, eim_id))

    def next_counter(self, eid, eim_id):
        """Reserve and return the next counterValue (strictly increasing per association)."""
        with self.lock:
            self.set_association(eid, eim_id)
            self._x("BEGIN IMMEDIATE")
            try:
                row = self.association(eid, eim_id)
                value = row["counter"] + 1
                self._x("UPDATE association SET counter = ? WHERE eid = ? AND eim_id = ?",
                        (value, eid, eim_id))
                self._x("COMMIT")
            except BaseException:
                self._x("ROLLBACK")
                raise
            return value

    # --- packages ---

    def add_package(self, eid, kind, spec, eim_transaction_id):
        self.ensure_euicc(eid)
        now = time.time()
        cur = self._x(
            "INSERT INTO package (eid, kind, spec, eim_transaction_id, state, created, updated)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (eid, kind, json.dumps(spec, sort_keys=True), bytes(eim_transaction_id), QUEUED, now,
             now))
        return cur.lastrowid

    def package(self, package_id):
        return self._x("SELECT * FROM package WHERE id = ?", (package_id,)).fetchone()

    def package_by_transaction(self, eid, eim_transaction_id):
        if eid is None:
            return self._x("SELECT * FROM package WHERE eim_transaction_id = ?",
                           (bytes(eim_transaction_id),)).fetchone()
        return self._x("SELECT * FROM package WHERE eid = ? AND eim_transaction_id = ?",
                       (eid, bytes(eim_transaction_id))).fetchone()

    def package_by_counter(self, eid, counter):
        return self._x("SELECT * FROM package WHERE eid = ? AND counter = ? AND kind = 'euiccPackage'",
                       (eid, counter)).fetchone()

    def package_by_seq(self, eid, seq_number):
        return self._x("SELECT * FROM package WHERE eid = ? AND seq_number = ?",
                       (eid, seq_number)).fetchone()

    def next_queued(self, eid):
        return self._x("SELECT * FROM package WHERE eid = ? AND state = ? ORDER BY id LIMIT 1",
                       (eid, QUEUED)).fetchone()

    def packages(self, eid):
        return self._x("SELECT * FROM package WHERE eid = ? ORDER BY id", (eid,)).fetchall()

    def update_package(self, package_id, **fields):
        fields["updated"] = time.time()
        names = sorted(fields)
        sql = "UPDATE package SET %s WHERE id = ?" % ", ".join("%s = ?" % n for n in names)
        self._x(sql, [fields[n] for n in names] + [package_id])

    # --- acknowledgements, notifications, SM-DP+ sessions ---

    def add_pending_ack(self, eid, seq_number, what):
        self._x("INSERT OR IGNORE INTO pending_ack (eid, seq_number, what) VALUES (?, ?, ?)",
                (eid, seq_number, what))

    def take_pending_acks(self, eid):
        with self.lock:
            rows = self._x("SELECT seq_number, what FROM pending_ack WHERE eid = ?"
                           " ORDER BY seq_number", (eid,)).fetchall()
            self._x("DELETE FROM pending_ack WHERE eid = ?", (eid,))
        return [(r["seq_number"], r["what"]) for r in rows]

    def pending_acks(self, eid):
        return [r["seq_number"] for r in self._x(
            "SELECT seq_number FROM pending_ack WHERE eid = ? ORDER BY seq_number", (eid,))]

    def add_notification(self, eid, seq_number, der):
        self._x("INSERT INTO notification (eid, seq_number, der, received) VALUES (?, ?, ?, ?)",
                (eid, seq_number, bytes(der), time.time()))

    def notifications(self, eid):
        return self._x("SELECT * FROM notification WHERE eid = ? ORDER BY id", (eid,)).fetchall()

    def add_smdp_session(self, transaction_id, eid, package_id):
        self._x("INSERT OR REPLACE INTO smdp_session (transaction_id, eid, package_id, created)"
                " VALUES (?, ?, ?, ?)", (bytes(transaction_id), eid, package_id, time.time()))

    def smdp_session(self, transaction_id):
        return self._x("SELECT * FROM smdp_session WHERE transaction_id = ?",
                       (bytes(transaction_id),)).fetchone()

    # --- audit ---

    def audit(self, eid, event, detail="", package_id=None):
        self._x("INSERT INTO audit (ts, eid, package_id, event, detail) VALUES (?, ?, ?, ?, ?)",
                (time.time(), eid, package_id, event, detail))

    def audit_log(self, eid=None):
        if eid is None:
            rows = self._x("SELECT * FROM audit ORDER BY id").fetchall()
        else:
            rows = self._x("SELECT * FROM audit WHERE eid = ? ORDER BY id", (eid,)).fetchall()
        return [dict(r) for r in rows]
