"""The review queue: a SQLite view of the log, rebuilt from it at any time.

    index = ReviewIndex.open(Path("var"))   # catches up with the log (new frames only)
    index.incidents(status="new", since="2025-03-01")
    index.incident("0b6f...")["status"]     # 'new' | 'triaged' | 'escalated' | ...
    index.incident("0b6f...")["severity"]   # 'high': set by triage, else derived (SEVERITIES)

The log is the source of truth: triage changes and reveals are log frames first, and this
index only ever applies frames. Deleting ``index.sqlite`` (or ``baomi incidents reindex``)
loses nothing. The proxy never touches the index, so its hot path stays one fsync.
No evidence is stored here; reviewer notes are, in clear (they are typed, not detected).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from proxy.record.incidents.log import Entry, entries, incidents_dir, log_files

# The review states (the CLI and the console accept the same set). "in_progress" and
# "confirmed" were the first statuses; logs and scripts that use them keep working.
STATUSES = ("new", "triaged", "escalated", "false_positive", "resolved", "duplicate",
            "in_progress", "confirmed")
SEVERITIES = ("low", "medium", "high", "critical")


def default_severity(meta: dict) -> str:
    """Before anyone triages it: the deciding rule's ``severity`` (carried in the record, as
    the console and CLI read only the log); a rule without one: block -> high, mask or
    uninspected -> medium, else low.
    """
    if meta.get("rule_severity") in SEVERITIES:
        return meta["rule_severity"]
    if meta.get("action") == "block" and not meta.get("uninspected"):
        return "high"
    if meta.get("action") == "mask" or meta.get("uninspected"):
        return "medium"
    return "low"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY, seq INTEGER, file INTEGER, offset INTEGER, time TEXT, action TEXT,
    rule TEXT, host TEXT, status TEXT NOT NULL DEFAULT 'new', assignee TEXT, period TEXT,
    meta TEXT NOT NULL, severity TEXT);
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY, incident TEXT, time TEXT, who TEXT, what TEXT);
CREATE TABLE IF NOT EXISTS notes (
    seq INTEGER PRIMARY KEY, incident TEXT, time TEXT, who TEXT, note TEXT);
CREATE TABLE IF NOT EXISTS accesses (
    seq INTEGER PRIMARY KEY, incident TEXT, time TEXT, who TEXT, reason TEXT);
CREATE TABLE IF NOT EXISTS periods (
    id TEXT PRIMARY KEY, day TEXT, key_id TEXT, sealed_sha256 TEXT, seq INTEGER,
    purged_seq INTEGER);
CREATE TABLE IF NOT EXISTS watermark (
    one INTEGER PRIMARY KEY CHECK (one = 1), file INTEGER, offset INTEGER, seq INTEGER);
"""


class ReviewIndex:
    def __init__(self, data_dir: Path, db: sqlite3.Connection):
        self.data_dir = Path(data_dir)
        self.db = db

    @classmethod
    def open(cls, data_dir: Path, sync: bool = True) -> ReviewIndex:
        inc = incidents_dir(data_dir)
        inc.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = inc / "index.sqlite"
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        db = sqlite3.connect(path)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA synchronous=NORMAL")  # rebuildable: no need to pay for durability
        stale = _stale_schema(db)
        if stale:  # an index from before a column was added: rebuilt from the log below
            db.executescript("DROP TABLE incidents; DROP TABLE IF EXISTS watermark;")
        db.executescript(_SCHEMA)
        index = cls(data_dir, db)
        if sync:
            index.sync()
        return index

    def close(self) -> None:
        self.db.close()

    # -- catching up with the log --

    def sync(self) -> int:
        """Apply frames written since the last sync; rebuild if the log no longer fits."""
        inc = incidents_dir(self.data_dir)
        row = self.db.execute("SELECT file, offset, seq FROM watermark").fetchone()
        start = (row["file"], row["offset"]) if row else (0, 0)
        if row and not _still_there(inc, row["file"], row["offset"]):
            return self.rebuild()
        return self._apply_all(entries(inc, start))

    def rebuild(self) -> int:
        with self.db:
            for table in ("incidents", "history", "notes", "accesses", "periods", "watermark"):
                self.db.execute(f"DELETE FROM {table}")  # noqa: S608 - names from the tuple above
        return self._apply_all(entries(incidents_dir(self.data_dir)))

    def _apply_all(self, items: Iterable[Entry]) -> int:
        count = 0
        with self.db:
            for entry in items:
                _APPLY.get(entry.kind, _ignore)(self.db, entry)
                self.db.execute(
                    "INSERT OR REPLACE INTO watermark VALUES (1, ?, ?, ?)",
                    (entry.file.number, entry.frame.end, entry.seq),
                )
                count += 1
        return count

    # -- queries --

    def incidents(
        self,
        since: str | None = None,
        rule: str | None = None,
        action: str | None = None,
        status: str | None = None,
        user: str | None = None,
        group: str | None = None,
    ) -> list[dict]:
        """``user``/``group``: the sender and one of their directory groups, any case (read
        from the metadata, so incidents recorded before users existed need no migration)."""
        sql, args = "SELECT * FROM incidents WHERE 1=1", []
        if user is not None:
            sql += " AND lower(json_extract(meta, '$.user')) = lower(?)"
            args.append(user)
        if group is not None:
            sql += (" AND EXISTS (SELECT 1 FROM json_each(meta, '$.user_groups')"
                    " WHERE lower(value) = lower(?))")
            args.append(group)
        for column, op, value in (
            ("time", ">=", since),
            ("rule", "=", rule),
            ("action", "=", action),
            ("status", "=", status),
        ):
            if value is not None:
                sql += f" AND {column} {op} ?"
                args.append(value)
        rows = self.db.execute(sql + " ORDER BY seq", args).fetchall()
        return [_incident_row(r) for r in rows]

    def incident(self, incident_id: str) -> dict | None:
        row = self.db.execute("SELECT * FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        return _incident_row(row) if row else None

    def history(self, incident_id: str) -> list[dict]:
        return self._rows("SELECT * FROM history WHERE incident = ? ORDER BY seq", incident_id)

    def notes(self, incident_id: str) -> list[dict]:
        return self._rows("SELECT * FROM notes WHERE incident = ? ORDER BY seq", incident_id)

    def accesses(self) -> list[dict]:
        return self._rows("SELECT * FROM accesses ORDER BY seq")

    def period(self, period_id: str) -> dict | None:
        rows = self._rows("SELECT * FROM periods WHERE id = ?", period_id)
        return rows[0] if rows else None

    def periods_before(self, day: str) -> list[dict]:
        return self._rows(
            "SELECT * FROM periods WHERE day < ? AND purged_seq IS NULL ORDER BY seq", day
        )

    def _rows(self, sql: str, *args: object) -> list[dict]:
        return [dict(r) for r in self.db.execute(sql, args).fetchall()]


def _stale_schema(db: sqlite3.Connection) -> bool:
    columns = {r[1] for r in db.execute("PRAGMA table_info(incidents)")}
    return bool(columns) and "severity" not in columns


def _incident_row(row: sqlite3.Row) -> dict:
    d = dict(row)
    d["meta"] = json.loads(d["meta"])
    return d


def _still_there(inc: Path, number: int, offset: int) -> bool:
    for file in log_files(inc):
        if file.number == number:
            return file.size >= offset
    return number == 0


# --- applying frames -----------------------------------------------------------------------------


def _incident(db: sqlite3.Connection, e: Entry) -> None:
    meta = e.data.get("meta", {})
    db.execute(
        "INSERT OR REPLACE INTO incidents (id, seq, file, offset, time, action, rule, host, status,"
        " assignee, period, meta, severity) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'new', NULL, ?, ?, ?)",
        (
            meta.get("incident"),
            e.seq,
            e.file.number,
            e.frame.offset,
            meta.get("time"),
            meta.get("action"),
            meta.get("rule"),
            meta.get("host"),
            meta.get("period"),
            json.dumps(meta, ensure_ascii=False, sort_keys=True),
            default_severity(meta),
        ),
    )
    db.execute(
        "INSERT OR REPLACE INTO history VALUES (?, ?, ?, ?, ?)",
        (e.seq, meta.get("incident"), e.time, "baomi", f"recorded: {meta.get('action')}"),
    )


def _triage(db: sqlite3.Connection, e: Entry) -> None:
    d = e.data
    row = db.execute(
        "SELECT status, assignee, severity FROM incidents WHERE id = ?", (d.get("incident"),)
    ).fetchone()
    if row is None:
        return  # triage of an incident the log does not hold; verify/reindex will not invent it
    changes = []
    if d.get("status") and d["status"] != row["status"]:
        changes.append(f"status {row['status']} -> {d['status']}")
        db.execute("UPDATE incidents SET status = ? WHERE id = ?", (d["status"], d["incident"]))
    if d.get("assignee") is not None and d["assignee"] != row["assignee"]:
        changes.append(f"assignee {row['assignee'] or '-'} -> {d['assignee']}")
        db.execute("UPDATE incidents SET assignee = ? WHERE id = ?", (d["assignee"], d["incident"]))
    if d.get("severity") and d["severity"] != row["severity"]:
        changes.append(f"severity {row['severity']} -> {d['severity']}")
        db.execute("UPDATE incidents SET severity = ? WHERE id = ?", (d["severity"], d["incident"]))
    if d.get("note"):
        changes.append("note added")
        db.execute(
            "INSERT OR REPLACE INTO notes VALUES (?, ?, ?, ?, ?)",
            (e.seq, d["incident"], e.time, d.get("who"), d["note"]),
        )
    db.execute(
        "INSERT OR REPLACE INTO history VALUES (?, ?, ?, ?, ?)",
        (e.seq, d["incident"], e.time, d.get("who"), "; ".join(changes) or "no change"),
    )


def _access(db: sqlite3.Connection, e: Entry) -> None:
    d = e.data
    db.execute(
        "INSERT OR REPLACE INTO accesses VALUES (?, ?, ?, ?, ?)",
        (e.seq, d.get("incident"), e.time, d.get("who"), d.get("why")),
    )
    db.execute(
        "INSERT OR REPLACE INTO history VALUES (?, ?, ?, ?, ?)",
        (e.seq, d.get("incident"), e.time, d.get("who"), f"evidence revealed: {d.get('why')}"),
    )


def _period(db: sqlite3.Connection, e: Entry) -> None:
    d = e.data
    db.execute(
        "INSERT OR REPLACE INTO periods VALUES (?, ?, ?, ?, ?, NULL)",
        (d.get("period"), d.get("day"), d.get("key_id"), d.get("sealed_sha256"), e.seq),
    )


def _purge(db: sqlite3.Connection, e: Entry) -> None:
    for period_id in e.data.get("periods", []):
        db.execute("UPDATE periods SET purged_seq = ? WHERE id = ?", (e.seq, period_id))


def _application(db: sqlite3.Connection, e: Entry) -> None:
    """Transfer applications (proxy.record.approvals): a line in their incident's history."""
    d = e.data
    if e.kind == "application":
        who, what = d.get("requester") or f"client {d.get('client')}", "filed"
    elif e.kind == "application_decision":
        who, what = d.get("who"), "approved" if d.get("decision") == "approve" else "rejected"
    else:
        who, what = d.get("who"), "approval revoked"
    if d.get("incident"):
        db.execute("INSERT OR REPLACE INTO history VALUES (?, ?, ?, ?, ?)",
                   (e.seq, d["incident"], e.time, who, f"transfer application {d.get('id')}: "
                    f"{what}"))


def _ignore(db: sqlite3.Connection, e: Entry) -> None:
    pass  # segment, checkpoint, rotation frames carry nothing for the review queue


_APPLY = {
    "incident": _incident,
    "triage": _triage,
    "access": _access,
    "period": _period,
    "purge": _purge,
    "application": _application,
    "application_decision": _application,
    "approval_revocation": _application,
}
