"""The incident queue's query: filters, sort, a page, counts — over the CLI's review index.

    q = Query.from_args({"status": "new", "entity": "PHONE_NUMBER", "page": "2"})
    page = run(index, q)         # Page(rows, total, counts_by_status, counts_by_severity, ...)
    ids = matching_ids(index, q) # every id of the filtered set (bulk triage)

Reads ``ReviewIndex.db`` (the same SQLite view ``baomi incidents list`` reads; the log stays
the source of truth). Filter values are bound parameters, never SQL text; sort keys come
from a fixed table. Unknown or malformed filters are dropped, not guessed at.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import asdict, dataclass
from datetime import datetime

from proxy.record.incidents.index import SEVERITIES, STATUSES, ReviewIndex

PAGE_SIZE = 25
ACTIONS = ("block", "mask", "monitor", "allow")
SORTS = {
    "newest": "seq DESC",
    "oldest": "seq ASC",
    "severity": ("CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 "
                 "ELSE 3 END, seq DESC"),
}
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?)?")
FILTERS = ("since", "until", "action", "rule", "status", "severity", "user", "group",
           "destination", "entity")


@dataclass(frozen=True)
class Query:
    since: str | None = None
    until: str | None = None
    action: str | None = None
    rule: str | None = None
    status: str | None = None
    severity: str | None = None
    user: str | None = None
    group: str | None = None
    destination: str | None = None
    entity: str | None = None
    sort: str = "newest"
    page: int = 1

    @classmethod
    def from_args(cls, args) -> Query:
        """From a request's query string (or a form): only well-formed values are kept."""
        def text(name: str, limit: int = 200) -> str | None:
            value = (args.get(name) or "").strip()
            return value[:limit] or None

        def one_of(name: str, allowed) -> str | None:
            value = text(name)
            return value if value in allowed else None

        def when(name: str) -> str | None:
            value = text(name, 19)
            return value if value and _TIME.fullmatch(value) and _real_time(value) else None

        page = text("page", 6)
        return cls(
            since=when("since"), until=when("until"), action=one_of("action", ACTIONS),
            rule=text("rule"), status=one_of("status", STATUSES),
            severity=one_of("severity", SEVERITIES), user=text("user"), group=text("group"),
            destination=text("destination"), entity=_entity(text("entity", 64)),
            sort=one_of("sort", SORTS) or "newest",
            page=int(page) if page and page.isdecimal() and int(page) > 0 else 1,
        )

    def filters(self) -> dict[str, str]:
        """The set filters, for links and the bulk confirmation: {'status': 'new', ...}."""
        return {k: v for k, v in asdict(self).items() if k in FILTERS and v is not None}

    def args(self, **override: object) -> dict[str, object]:
        base: dict[str, object] = {**self.filters(), "sort": self.sort, "page": self.page}
        base.update(override)
        return base


@dataclass(frozen=True)
class Page:
    rows: list[dict]
    total: int
    page: int
    pages: int
    by_status: dict[str, int]
    by_severity: dict[str, int]


def _where(q: Query, skip: str | None = None) -> tuple[str, list[object]]:
    sql, args = " WHERE 1=1", list[object]()
    if q.since:
        sql += " AND time >= ?"
        args.append(_bound(q.since))
    if q.until:
        sql += " AND time < ?" if "T" in q.until else " AND substr(time, 1, 10) <= ?"
        args.append(_bound(q.until))
    for column, value in (("action", q.action), ("rule", q.rule), ("status", q.status),
                          ("severity", q.severity)):
        if value is not None and column != skip:
            sql += f" AND {column} = ?"
            args.append(value)
    if q.destination:
        sql += " AND lower(host) = lower(?)"
        args.append(q.destination)
    if q.user:
        sql += " AND lower(json_extract(meta, '$.user')) = lower(?)"
        args.append(q.user)
    if q.group:
        sql += (" AND EXISTS (SELECT 1 FROM json_each(meta, '$.user_groups')"
                " WHERE lower(value) = lower(?))")
        args.append(q.group)
    if q.entity:
        sql += " AND json_extract(meta, '$.entity_counts.' || ?) IS NOT NULL"
        args.append(f'"{q.entity}"')
    return sql, args


def _real_time(value: str) -> bool:
    """'2026-02-30T25:99' has the shape but is no time: dropped like any malformed filter."""
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _entity(value: str | None) -> str | None:
    return value if value and re.fullmatch(r"[A-Za-z0-9_]+", value) else None


def _incident_row(row: sqlite3.Row) -> dict:
    return {**dict(row), "meta": json.loads(row["meta"])}


def _bound(value: str) -> str:
    return datetime.fromisoformat(value).isoformat() if "T" in value else value


def run(index: ReviewIndex, q: Query) -> Page:
    where, args = _where(q)
    total = index.db.execute("SELECT count(*) FROM incidents" + where, args).fetchone()[0]  # noqa: S608 - fixed text + bound values
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(q.page, pages)
    rows = index.db.execute(
        f"SELECT * FROM incidents{where} ORDER BY {SORTS[q.sort]} LIMIT ? OFFSET ?",  # noqa: S608 - fixed text + bound values
        [*args, PAGE_SIZE, (page - 1) * PAGE_SIZE],
    ).fetchall()
    return Page([_incident_row(r) for r in rows], total, page, pages,
                _counts(index, q, "status"), _counts(index, q, "severity"))


def _counts(index: ReviewIndex, q: Query, column: str) -> dict[str, int]:
    """How the filtered set splits by ``column`` (ignoring that column's own filter)."""
    where, args = _where(q, skip=column)
    sql = f"SELECT {column}, count(*) FROM incidents{where} GROUP BY {column}"  # noqa: S608 - column from a fixed pair
    return {str(k): n for k, n in index.db.execute(sql, args).fetchall()}


def matching_ids(index: ReviewIndex, q: Query) -> list[str]:
    where, args = _where(q)
    sql = f"SELECT id FROM incidents{where} ORDER BY seq"  # noqa: S608 - fixed text + bound values
    return [r[0] for r in index.db.execute(sql, args).fetchall()]
