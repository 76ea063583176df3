"""The approval store: transfer applications, decisions and revocations in the data dir.

    store = ApprovalStore(Path("var"))
    app = store.file("BM-20261206T010000Z-9f3a1c2b", purpose="payroll run", recipient="ACME HR",
                     method="HTTPS upload", agreement="NDA-2026-7", wanted_until=until,
                     max_records=50)
    approval = store.approve(app.id, "carol", expires=sooner)      # narrowing only
    store.revoke(approval.id, "carol", "contract ended")
    store.state().approvals[approval.id].status(now)               # 'revoked'

Where it lives, and why it can be trusted:

* **The incident log is the record.** Every act is first a frame of the tamper-evident
  incident log (``proxy.record.incidents.log``: hash chain, forward-secure MACs, signed
  checkpoints), kinds ``application``, ``application_decision`` and ``approval_revocation``;
  ``baomi incidents verify`` walks them like any other frame. If the frame cannot be written
  the act does not happen.
* **``DIR/approvals/state.json`` is the current state rebuilt from those frames** (every
  application and approval, and the log position it has read up to), replaced atomically
  after every act. The proxy polls its mtime and reads only this small file. Delete it and
  the next command rebuilds it from the log; ``rebuild()`` does so on purpose.

Writers (CLI, console, several at once) hold ``DIR/approvals/.lock`` while they catch up with
the log, check the act against the current state, append its frame and write the state.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from proxy.errors import ApplicationError
from proxy.record.approvals.model import (
    Application,
    StoredApproval,
    exact_host,
    format_time,
    parse_time,
)
from proxy.record.incidents.files import write_atomic
from proxy.record.incidents.index import ReviewIndex
from proxy.record.incidents.log import Entry, entries, incidents_dir, log_files
from proxy.record.incidents.review import log_writer

KINDS = ("application", "application_decision", "approval_revocation")
MAX_TEXT = 500  # characters of purpose, recipient, method, agreement, reasons
MAX_VALIDITY = timedelta(days=366)
MAX_RECORDS = 1_000_000


def approvals_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "approvals"


def state_path(data_dir: Path) -> Path:
    return approvals_dir(data_dir) / "state.json"


def new_application_id(now: datetime) -> str:
    """``app-20261206-9f3a1c2b``: dated, unguessable, never a policy group name (those have
    no date-like shape requirement, so the merge also refuses colliding ids)."""
    return f"app-{now:%Y%m%d}-{secrets.token_hex(4)}"


@dataclass
class State:
    """Everything the frames say so far, and where in the log that is (file, offset, seq)."""

    applications: dict[str, Application] = field(default_factory=dict)
    approvals: dict[str, StoredApproval] = field(default_factory=dict)
    watermark: tuple[int, int, int] = (0, 0, 0)

    def as_json(self) -> bytes:
        return json.dumps({
            "version": 1,
            "watermark": list(self.watermark),
            "applications": [a.as_dict() for a in self.applications.values()],
            "approvals": [a.as_dict() for a in self.approvals.values()],
        }, ensure_ascii=False, sort_keys=True, indent=1).encode() + b"\n"

    @classmethod
    def from_json(cls, raw: bytes) -> State:
        d = json.loads(raw)
        return cls(
            {a["id"]: Application.from_dict(a) for a in d["applications"]},
            {a["id"]: StoredApproval.from_dict(a) for a in d["approvals"]},
            tuple(d["watermark"]),
        )

    def application_for(self, incident: str) -> Application | None:
        return next((a for a in self.applications.values() if a.incident == incident), None)


def read_state(data_dir: Path) -> State:
    """The state as last written (what the proxy reads); empty when there is none yet.

    Raises ValueError / KeyError / TypeError on a damaged file (the caller decides).
    """
    try:
        raw = state_path(data_dir).read_bytes()
    except FileNotFoundError:
        return State()
    return State.from_json(raw)


class ApprovalStore:
    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)

    # -- reading --

    def state(self) -> State:
        """The current state, caught up with the log."""
        with self._locked():
            return self._sync()

    def rebuild(self) -> State:
        """Forget state.json and replay every frame of the log."""
        with self._locked():
            state = _catch_up(State(), self.data_dir)
            self._write(state)
            return state

    # -- acts --

    def file(self, incident_id: str, *, purpose: str, recipient: str, method: str,
             agreement: str, wanted_until: datetime, max_records: int,
             now: datetime | None = None) -> Application:
        """File an application for a recorded incident; one per incident (the link is single use)."""
        now = now or datetime.now(UTC)
        meta = _incident_meta(self.data_dir, incident_id)
        entities = sorted((meta.get("entity_counts") or {}).keys())
        if not entities:
            raise ApplicationError(f"incident {incident_id} found no data an approval could cover")
        client = meta.get("source") or ""
        if not meta.get("user") and not client:
            raise ApplicationError(f"incident {incident_id} names neither a user nor a client")
        host = exact_host(meta.get("host"))
        if host is None:  # '*' or '.bank.example' would become a glob or a whole domain
            raise ApplicationError(f"incident {incident_id} has no exact destination host "
                                   "(a DNS name or an IP address) an approval could name")
        _check_until(wanted_until, now, "wanted validity")
        application_id = new_application_id(now)
        data = {
            "id": application_id, "incident": incident_id,
            "requester": meta.get("user") or None, "client": client, "host": host,
            "entities": entities, "records": int(meta.get("record_count") or 0),
            "purpose": _text(purpose, "purpose"), "recipient": _text(recipient, "recipient"),
            "method": _text(method, "method"), "agreement": _text(agreement, "agreement"),
            "wanted_until": format_time(wanted_until), "max_records": _count(max_records),
        }
        with self._locked():
            state = self._sync()
            if state.application_for(incident_id) is not None:
                raise ApplicationError(
                    f"an application for incident {incident_id} was already filed "
                    "(the link works once)")
            state = self._act(state, "application", data)
            return state.applications[application_id]

    def approve(self, application_id: str, approver: str, *, entities: list[str] | None = None,
                expires: datetime | None = None, max_records: int | None = None,
                now: datetime | None = None) -> StoredApproval:
        """Approve as asked, or narrower: fewer data classes, sooner expiry, fewer records."""
        now = now or datetime.now(UTC)
        with self._locked():
            state = self._sync()
            app = _pending(state, application_id, approver)
            chosen = sorted(set(entities if entities is not None else app.entities))
            if not chosen or not set(chosen) <= set(app.entities):
                raise ApplicationError("data classes must be a non-empty subset of those applied "
                                       f"for ({', '.join(app.entities)})")
            wanted = parse_time(app.wanted_until)
            until = expires or wanted
            if until > wanted:
                raise ApplicationError(f"expiry {format_time(until)} is later than the applicant "
                                       f"asked for ({app.wanted_until})")
            _check_until(until, now, "expiry")
            limit = app.max_records if max_records is None else _count(max_records)
            if limit > app.max_records:
                raise ApplicationError(f"max records {limit} is more than the applicant asked "
                                       f"for ({app.max_records})")
            data = {"id": app.id, "incident": app.incident, "decision": "approve", "who": approver,
                    "entities": chosen, "expires": format_time(until), "max_records": limit}
            return self._act(state, "application_decision", data).approvals[app.id]

    def reject(self, application_id: str, approver: str, reason: str) -> Application:
        with self._locked():
            state = self._sync()
            app = _pending(state, application_id, approver)
            data = {"id": app.id, "incident": app.incident, "decision": "reject", "who": approver,
                    "reason": _text(reason, "reason")}
            return self._act(state, "application_decision", data).applications[app.id]

    def revoke(self, approval_id: str, who: str, reason: str | None = None) -> StoredApproval:
        with self._locked():
            state = self._sync()
            approval = state.approvals.get(approval_id)
            if approval is None:
                raise ApplicationError(f"no approval {approval_id!r} in the data dir "
                                       "(see 'baomi approvals list'; policy approvals are "
                                       "revoked by editing the policy)")
            if approval.revoked_at is not None:
                raise ApplicationError(f"approval {approval_id} was already revoked "
                                       f"({approval.revoked_at})")
            data = {"id": approval_id, "incident": approval.incident, "who": who,
                    "reason": _text(reason, "reason") if reason else None}
            return self._act(state, "approval_revocation", data).approvals[approval_id]

    # -- internals --

    def _act(self, state: State, kind: str, data: dict) -> State:
        with log_writer(self.data_dir) as log:  # durable before anything else changes
            log.append(kind, data)
        state = _catch_up(state, self.data_dir)
        self._write(state)
        return state

    def _sync(self) -> State:
        try:
            state = read_state(self.data_dir)
        except (ValueError, KeyError, TypeError):
            state = State()  # damaged: the log has everything
        if not _still_there(self.data_dir, state.watermark):
            state = State()  # the log was replaced or cut: replay it
        before = state.watermark
        state = _catch_up(state, self.data_dir)
        if state.watermark != before or not state_path(self.data_dir).exists():
            self._write(state)
        return state

    def _write(self, state: State) -> None:
        write_atomic(state_path(self.data_dir), state.as_json(), 0o600)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        directory = approvals_dir(self.data_dir)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock


# --- applying frames (the only way state changes) -------------------------------------------------


def _catch_up(state: State, data_dir: Path) -> State:
    file, offset, _ = state.watermark
    for entry in entries(incidents_dir(data_dir), (file, offset)):
        if entry.kind in KINDS:
            _APPLY[entry.kind](state, entry)
        state.watermark = (entry.file.number, entry.frame.end, entry.seq)
    return state


def _apply_application(state: State, e: Entry) -> None:
    d = e.data
    state.applications[d["id"]] = Application(
        id=d["id"], incident=d["incident"], filed=e.time, requester=d.get("requester"),
        client=d.get("client") or "", host=d.get("host") or "", entities=tuple(d["entities"]),
        records=int(d.get("records") or 0), purpose=d["purpose"], recipient=d["recipient"],
        method=d["method"], agreement=d["agreement"], wanted_until=d["wanted_until"],
        max_records=int(d["max_records"]))


def _apply_decision(state: State, e: Entry) -> None:
    d = e.data
    app = state.applications.get(d.get("id", ""))
    if app is None or app.status != "pending":
        return  # verify judges the log; the state never invents or re-decides
    approved = d.get("decision") == "approve"
    state.applications[app.id] = replace(
        app, status="approved" if approved else "rejected", decided_by=d.get("who"),
        decided_at=e.time, decision_reason=d.get("reason"))
    if approved:
        state.approvals[app.id] = StoredApproval(
            id=app.id, application=app.id, incident=app.incident, requester=app.requester,
            client=app.client, host=app.host, entities=tuple(d["entities"]),
            purpose=app.purpose, recipient=app.recipient, method=app.method,
            agreement=app.agreement, approver=d.get("who") or "", starts=e.time,
            expires=d["expires"], max_records=int(d["max_records"]))


def _apply_revocation(state: State, e: Entry) -> None:
    d = e.data
    approval = state.approvals.get(d.get("id", ""))
    if approval is None or approval.revoked_at is not None:
        return
    state.approvals[approval.id] = replace(
        approval, revoked_at=e.time, revoked_by=d.get("who"), revoke_reason=d.get("reason"))


_APPLY = {
    "application": _apply_application,
    "application_decision": _apply_decision,
    "approval_revocation": _apply_revocation,
}


# --- checks ---------------------------------------------------------------------------------------


def _incident_meta(data_dir: Path, incident_id: str) -> dict:
    index = ReviewIndex.open(data_dir)
    try:
        incident = index.incident(incident_id)
    finally:
        index.close()
    if incident is None:
        raise ApplicationError(f"no incident {incident_id!r} in the incident store")
    return incident["meta"]


def _pending(state: State, application_id: str, approver: str) -> Application:
    app = state.applications.get(application_id)
    if app is None:
        raise ApplicationError(f"no application {application_id!r}")
    if app.status != "pending":
        raise ApplicationError(f"application {application_id} was already {app.status}")
    if app.requester and app.requester.casefold() == approver.casefold():
        raise ApplicationError("an approver cannot decide their own application")
    return app


def _text(value: str | None, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise ApplicationError(f"{what} is required")
    if len(text) > MAX_TEXT:
        raise ApplicationError(f"{what} is longer than {MAX_TEXT} characters")
    return text


def _count(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RECORDS:
        raise ApplicationError(f"max records must be a whole number from 1 to {MAX_RECORDS}")
    return value


def _check_until(until: datetime, now: datetime, what: str) -> None:
    if until.tzinfo is None:
        raise ApplicationError(f"{what} needs a timezone")
    if until <= now:
        raise ApplicationError(f"{what} {format_time(until)} is not in the future")
    if until - now > MAX_VALIDITY:
        raise ApplicationError(f"{what} is more than {MAX_VALIDITY.days} days away")


def _still_there(data_dir: Path, watermark: tuple[int, int, int]) -> bool:
    """Does the log still hold what the state was built from (file and offset)?"""
    number, offset, _ = watermark
    if number == 0:
        return True
    for file in log_files(incidents_dir(data_dir)):
        if file.number == number:
            return file.size >= offset
    return False
