"""Server state in SQLite: registrations, bootstrap configurations and results, Send data,
notifications and an audit log of every operation. `:memory:` for tests; a file survives a
restart of the server object."""

import json
import sqlite3
import time

from .codecs import ObjLnk

_SCHEMA = """
CREATE TABLE IF NOT EXISTS registrations (
    reg_id TEXT PRIMARY KEY, endpoint TEXT UNIQUE NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bootstrap_configs (endpoint TEXT PRIMARY KEY, config TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bootstrap_results (
    id INTEGER PRIMARY KEY, endpoint TEXT, started REAL, finished REAL, result TEXT, detail TEXT);
CREATE TABLE IF NOT EXISTS sends (
    id INTEGER PRIMARY KEY, endpoint TEXT, received REAL, content_format INTEGER,
    payload BLOB, vals TEXT);
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY, endpoint TEXT, path TEXT, received REAL, content_format INTEGER,
    payload BLOB, vals TEXT);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY, ts REAL, endpoint TEXT, operation TEXT, path TEXT, code TEXT,
    detail TEXT);
"""


def _to_json(value):
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and not isinstance(value, ObjLnk):
        return [_to_json(v) for v in value]
    if isinstance(value, ObjLnk):
        return {"objlnk": str(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"hex": bytes(value).hex()}
    return value


def _from_json(value):
    if isinstance(value, dict):
        if set(value) == {"objlnk"}:
            return ObjLnk.parse(value["objlnk"])
        if set(value) == {"hex"}:
            return bytes.fromhex(value["hex"])
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


def dumps(value):
    return json.dumps(_to_json(value), sort_keys=False)


def loads(text):
    return _from_json(json.loads(text))


class Store:
    def __init__(self, path=":memory:"):
        self.path = path
        self.db = sqlite3.connect(path)
        if path != ":memory:":
            # every event is committed at once; WAL keeps that from costing an fsync per row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        self.db.commit()

    def close(self):
        self.db.close()

    def _run(self, sql, args=()):
        cur = self.db.execute(sql, args)
        self.db.commit()
        return cur

    # registrations
    def save_registration(self, reg):
        self._run("DELETE FROM registrations WHERE endpoint=? AND reg_id<>?", (reg.endpoint, reg.reg_id))
        self._run("INSERT OR REPLACE INTO registrations VALUES (?,?,?)",
                  (reg.reg_id, reg.endpoint, dumps(reg.to_dict())))

    def delete_registration(self, reg_id):
        self._run("DELETE FROM registrations WHERE reg_id=?", (reg_id,))

    def registrations(self):
        return [loads(row[0]) for row in self.db.execute("SELECT data FROM registrations")]

    # bootstrap
    def save_bootstrap_config(self, endpoint, config):
        self._run("INSERT OR REPLACE INTO bootstrap_configs VALUES (?,?)", (endpoint, dumps(config)))

    def bootstrap_config(self, endpoint):
        row = self.db.execute("SELECT config FROM bootstrap_configs WHERE endpoint=?", (endpoint,)).fetchone()
        return loads(row[0]) if row else None

    def add_bootstrap_result(self, endpoint, started, result, detail):
        self._run("INSERT INTO bootstrap_results (endpoint, started, finished, result, detail) "
                  "VALUES (?,?,?,?,?)", (endpoint, started, time.time(), result, dumps(detail)))

    def bootstrap_results(self, endpoint):
        rows = self.db.execute("SELECT started, finished, result, detail FROM bootstrap_results "
                               "WHERE endpoint=? ORDER BY id", (endpoint,))
        return [{"started": r[0], "finished": r[1], "result": r[2], "detail": loads(r[3])} for r in rows]

    # data from the client
    def add_send(self, endpoint, content_format, payload, values):
        self._run("INSERT INTO sends (endpoint, received, content_format, payload, vals) VALUES (?,?,?,?,?)",
                  (endpoint, time.time(), content_format, bytes(payload), dumps(values)))

    def sends(self, endpoint):
        rows = self.db.execute("SELECT received, content_format, payload, vals FROM sends "
                               "WHERE endpoint=? ORDER BY id", (endpoint,))
        return [{"received": r[0], "content_format": r[1], "payload": r[2], "values": loads(r[3])}
                for r in rows]

    def add_notification(self, endpoint, path, content_format, payload, values):
        self._run("INSERT INTO notifications (endpoint, path, received, content_format, payload, vals) "
                  "VALUES (?,?,?,?,?,?)",
                  (endpoint, path, time.time(), content_format, bytes(payload), dumps(values)))

    def notifications(self, endpoint):
        rows = self.db.execute("SELECT path, received, content_format, payload, vals FROM notifications "
                               "WHERE endpoint=? ORDER BY id", (endpoint,))
        return [{"path": r[0], "received": r[1], "content_format": r[2], "payload": r[3],
                 "values": loads(r[4])} for r in rows]

    def audit(self, endpoint, operation, path, code, detail=""):
        self._run("INSERT INTO audit (ts, endpoint, operation, path, code, detail) VALUES (?,?,?,?,?,?)",
                  (time.time(), endpoint, operation, path, code, detail))

    def audit_log(self, endpoint=None):
        sql = "SELECT ts, endpoint, operation, path, code, detail FROM audit"
        rows = self.db.execute(sql + " WHERE endpoint=? ORDER BY id" if endpoint else sql + " ORDER BY id",
                               (endpoint,) if endpoint else ())
        return [dict(zip(("ts", "endpoint", "operation", "path", "code", "detail"), r)) for r in rows]
