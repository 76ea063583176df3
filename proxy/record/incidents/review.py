"""What reviewers do: reveal evidence, triage, purge. Each act is a log frame first.

    reveal(data_dir, "0b6f...", private_keys, why="ticket SEC-42")  # access frame, then decrypt
    triage(data_dir, "0b6f...", status="triaged", assignee="bob", note="sent to HR")
    sealed_evidence(data_dir, "0b6f...", why="SEC-42", actor="alice")  # for the console
    purge(data_dir, before="2025-01-01")  # purge frame, then shred the sealed data keys

If the frame cannot be written, the act does not happen (no reveal without an access record).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import x25519

from proxy.errors import KeyStoreError, UsageError
from proxy.record.incidents import envelope, framing, periods
from proxy.record.incidents.index import SEVERITIES, STATUSES, ReviewIndex
from proxy.record.incidents.keys import Keyring
from proxy.record.incidents.log import IncidentLog, entry_at, incidents_dir


def who() -> str:
    """The person acting: $SUDO_USER, else $USER, else the numeric uid."""
    return os.environ.get("SUDO_USER") or os.environ.get("USER") or f"uid:{os.getuid()}"


@contextmanager
def log_writer(data_dir: Path) -> Iterator[IncidentLog]:
    log = IncidentLog(data_dir, Keyring.load(data_dir))
    try:
        yield log
    finally:
        log.close()


def find_incident(index: ReviewIndex, incident_id: str) -> dict:
    incident = index.incident(incident_id)
    if incident is None:
        raise UsageError(f"no incident {incident_id!r} (see 'baomi incidents list')")
    return incident


@dataclass(frozen=True, slots=True)
class Revealed:
    meta: dict
    evidence: list


def reveal(
    data_dir: Path, incident_id: str, private_keys: dict[str, x25519.X25519PrivateKey], why: str
) -> Revealed:
    if not why.strip():
        raise UsageError("--reason must say why the evidence is needed")
    incident, period = _revealable(data_dir, incident_id)
    if period["key_id"] not in private_keys:
        raise KeyStoreError(
            f"incident {incident_id} is sealed to reviewer key {period['key_id']}; pass that key"
        )
    with log_writer(data_dir) as log:  # the access record is durable before anything is decrypted
        log.append(
            "access", {"incident": incident_id, "who": who(), "uid": os.getuid(), "why": why}
        )
    entry = entry_at(incidents_dir(data_dir), incident["file"], incident["offset"])
    meta = entry.data["meta"]
    key = periods.open_period_key(data_dir, period["id"], period["key_id"], private_keys)
    plain = envelope.decrypt_evidence(
        key, base64.b64decode(entry.data["evidence"]), framing.canonical(meta)
    )
    return Revealed(meta, json.loads(plain))


def triage(
    data_dir: Path,
    incident_id: str,
    status: str,
    assignee: str | None = None,
    note: str | None = None,
    severity: str | None = None,
    actor: str | None = None,
) -> dict:
    """One triage frame; ``actor`` names a console user (default: the OS user, ``who()``)."""
    triage_many(data_dir, [incident_id], status, assignee, note, severity, actor)
    index = ReviewIndex.open(data_dir)
    try:
        return find_incident(index, incident_id)
    finally:
        index.close()


def triage_many(
    data_dir: Path,
    incident_ids: list[str],
    status: str,
    assignee: str | None = None,
    note: str | None = None,
    severity: str | None = None,
    actor: str | None = None,
) -> int:
    """A triage frame per incident, all through one log writer; every id must exist."""
    if status not in STATUSES:
        raise UsageError(f"status {status!r}: expected one of {', '.join(STATUSES)}")
    if severity is not None and severity not in SEVERITIES:
        raise UsageError(f"severity {severity!r}: expected one of {', '.join(SEVERITIES)}")
    index = ReviewIndex.open(data_dir)
    try:
        for incident_id in incident_ids:
            find_incident(index, incident_id)
        with log_writer(data_dir) as log:
            for incident_id in incident_ids:
                frame = {"incident": incident_id, "who": actor or who(), "status": status,
                         "assignee": assignee, "note": note}
                if severity is not None:  # absent, not null: older readers see the same frame
                    frame["severity"] = severity
                log.append("triage", frame)
        index.sync()
        return len(incident_ids)
    finally:
        index.close()


@dataclass(frozen=True, slots=True)
class Sealed:
    """What a reviewer's browser needs to open one incident's evidence (all still encrypted)."""

    key_id: str
    sealed_key: bytes  # HPKE enc || ciphertext of the period's data key
    info: bytes  # HPKE info the data key was sealed with
    evidence: bytes  # nonce || AES-256-GCM ciphertext
    aad: bytes  # the clear metadata, canonical: associated data of ``evidence``


def sealed_evidence(data_dir: Path, incident_id: str, why: str, actor: str) -> Sealed:
    """The access frame first (as ``reveal``), then the sealed data key and evidence, unopened."""
    if not why.strip():
        raise UsageError("a reason must say why the evidence is needed")
    incident, period = _revealable(data_dir, incident_id)
    path = periods.sealed_path(data_dir, period["id"])
    if not path.exists():
        raise KeyStoreError(f"incident {incident_id}: evidence purged (period {period['id']})")
    with log_writer(data_dir) as log:
        log.append("access", {"incident": incident_id, "who": actor, "via": "console", "why": why})
    entry = entry_at(incidents_dir(data_dir), incident["file"], incident["offset"])
    return Sealed(period["key_id"], path.read_bytes(), periods.period_info(period["id"]),
                  base64.b64decode(entry.data["evidence"]), framing.canonical(entry.data["meta"]))


def _revealable(data_dir: Path, incident_id: str) -> tuple[dict, dict]:
    index = ReviewIndex.open(data_dir)
    try:
        incident = find_incident(index, incident_id)
        period = index.period(incident["period"])
    finally:
        index.close()
    if period is None:
        raise UsageError(f"incident {incident_id}: its period is not in the log")
    if period["purged_seq"] is not None:
        raise KeyStoreError(f"incident {incident_id}: evidence purged (period {period['id']})")
    return incident, period


@dataclass(frozen=True, slots=True)
class Purged:
    periods: list[str]
    shredded: int


def purge(data_dir: Path, before: str, today: date | None = None) -> Purged:
    """Destroy the sealed data keys of periods before ``before`` (YYYY-MM-DD); keep metadata."""
    day = parse_day(before)
    today = today or datetime.now(UTC).date()
    if day > today:
        raise UsageError(
            f"--before {before} is after today (UTC): the running period must stay readable"
        )
    index = ReviewIndex.open(data_dir)
    try:
        doomed = [p["id"] for p in index.periods_before(day.isoformat())]
    finally:
        index.close()
    if not doomed:
        return Purged([], 0)
    with log_writer(data_dir) as log:  # recorded before destroyed: a crash leaves keys to re-purge
        log.append("purge", {"before": day.isoformat(), "periods": doomed, "who": who()})
    shredded = sum(periods.shred(data_dir, p) for p in doomed)
    return Purged(doomed, shredded)


def record_rotation(data_dir: Path, key_id: str) -> None:
    with log_writer(data_dir) as log:
        log.append("rotation", {"key_id": key_id, "who": who()})


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as e:
        raise UsageError(f"date {text!r}: expected YYYY-MM-DD") from e
