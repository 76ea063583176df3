"""One decision record per request, and where it is written.

The addon builds a DecisionRecord for every request and hands it to the recorder
(``Recorder.write``) before the client gets an answer; metrics read the same record.
Nothing here holds raw personal data: only counts, entity names and masked snippets.
``evidence`` (raw values with a little context) is for the encrypted incident store only.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    time: str  # RFC 3339 UTC
    incident_id: str
    source: str  # client address
    user: str | None
    scheme: str
    host: str  # destination host (SNI/Host)
    port: int
    method: str
    path: str  # without query values
    mode: str  # proxy mode: regular, transparent, upstream, ...
    action: str  # block | mask | allow | monitor
    rule: str  # policy rule or failure action (on_timeout, ...)
    enforced: bool  # False in monitor mode
    would_be: str | None  # in monitor mode: what enforce would have done
    reason: str
    entity_counts: dict[str, int]
    masked: list[str]  # masked snippets: "138****8000"
    locations: list[str]  # where findings were: "json:$.customer.phone"
    policy_hash: str
    approval: str | None = None
    uninspected: str | None = None  # oversize | undecodable | passthrough | error | timeout
    error_stage: str | None = None  # extract | detect | decide | act | record
    bytes_inspected: int = 0
    inspect_seconds: float = 0.0
    records: int = 0  # customer records (people) in the request, see detectors.records
    evidence: tuple[dict, ...] = field(default=(), repr=False)  # raw; encrypted store only

    def public(self) -> dict:
        """The record without evidence: safe for logs and metrics."""
        d = asdict(self)
        d.pop("evidence")
        return d


class Recorder(Protocol):
    def write(self, record: DecisionRecord) -> None:
        """Make the record durable; raise IncidentLogError if that is impossible."""


class DecisionLog:
    """Append-only JSON lines at ``DIR/decisions.jsonl``, one per request."""

    def __init__(self, data_dir: Path, sync: bool = True):
        """``sync``: fsync every line that is not a clean allow. ``baomi run`` passes False
        because the incident store already makes exactly those records durable (one fsync
        per incident, not two); this log is then the audit trail of every request."""
        self.sync = sync
        self.path = Path(data_dir) / "decisions.jsonl"
        self._lock = threading.Lock()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._fd = fd

    def write(self, record: DecisionRecord) -> None:
        from proxy.errors import IncidentLogError

        line = (json.dumps(record.public(), ensure_ascii=False, sort_keys=True) + "\n").encode()
        durable = self.sync and (record.action != "allow" or record.uninspected is not None)
        try:
            with self._lock:
                self._append(line, durable)
        except OSError as e:
            raise IncidentLogError(f"cannot write decision log {self.path}: {e.strerror}") from e

    def _append(self, line: bytes, durable: bool) -> None:
        """All of ``line`` or none of it: a short write (disk full) is cut back, never left as
        half a line for the next record to be glued to."""
        end = os.fstat(self._fd).st_size
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(self._fd, view):]
            if durable:
                os.fsync(self._fd)
        except OSError:
            os.ftruncate(self._fd, end)
            raise

    def close(self) -> None:
        os.close(self._fd)


class Recorders:
    """Writes one record to several recorders in order (decision log, incident store).

    Any failure propagates: the caller treats the request as unrecorded and blocks it.
    """

    def __init__(self, *recorders):
        self.recorders = recorders

    def write(self, record: DecisionRecord) -> None:
        for recorder in self.recorders:
            recorder.write(record)

    def probe(self) -> bool:
        """Could every recorder that can tell take a record now? (readiness after a failure)"""
        return all(r.probe() for r in self.recorders if hasattr(r, "probe"))

    def close(self) -> None:
        for recorder in self.recorders:
            recorder.close()
