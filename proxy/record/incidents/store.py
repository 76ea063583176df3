"""The proxy's Recorder: one encrypted, chained, fsynced incident per noteworthy record.

    store = IncidentStore(Path("var"))      # needs DIR/keys (ensure_keys or 'baomi keys init')
    store.write(record)                     # durable on return, or IncidentLogError
    store.close()                           # final signed checkpoint

Recorded: block and mask; monitor (or unenforced) records with findings or a would-be
block/mask; anything uninspected (bypass, oversize, error, timeout). Everything else returns
without writing. Metadata is stored in clear (no raw values: masked snippets only);
``record.evidence`` is encrypted under the period's data key with the metadata as
associated data.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from proxy.errors import IncidentLogError, KeyStoreError
from proxy.record.decisions import NOT_PREPARED, NOT_WRITTEN, DecisionRecord, Pending
from proxy.record.incidents import envelope, framing
from proxy.record.incidents.keys import Keyring
from proxy.record.incidents.log import CHECKPOINT_EVERY, Appended, IncidentLog
from proxy.record.incidents.periods import Period
from proxy.record.incidents.redact import is_redacted, redact_record

_META_FIELDS = (
    "time",
    "source",
    "user",
    "scheme",
    "host",
    "port",
    "method",
    "path",
    "mode",
    "action",
    "rule",
    "enforced",
    "would_be",
    "reason",
    "entity_counts",
    "masked",
    "locations",
    "policy_hash",
    "approval",
    "uninspected",
    "error_stage",
    "bytes_inspected",
    "user_groups",
    "identity",
    "rule_severity",
)


def should_record(record: DecisionRecord) -> bool:
    """Block/mask always; monitor with findings or a would-be block/mask; any bypass.

    allow + uninspected="passthrough" -> True;  allow, nothing found -> False
    """
    if record.outcome:  # what became of an already recorded request: the decision log's
        return False
    if record.uninspected:
        return True
    if record.action in ("block", "mask"):
        return True
    would_act = record.would_be in ("block", "mask")
    if record.action == "monitor" or not record.enforced:
        return bool(record.entity_counts) or would_act
    return False


def incident_metadata(record: DecisionRecord, period_id: str) -> dict:
    # metadata is stored in clear: no evidence value in it (the decision log's record is
    # redacted already: decision_record)
    clear = record if is_redacted(record) else redact_record(record)
    meta = {name: getattr(clear, name) for name in _META_FIELDS}
    meta["incident"] = record.incident_id
    meta["period"] = period_id
    meta["evidence_items"] = len(record.evidence)
    # customer records (people, detectors.records): what a transfer application asks for
    record_count = getattr(record, "record_count", None) or record.records or None
    if record_count is not None:
        meta["record_count"] = record_count
    return meta


def evidence_plaintext(record: DecisionRecord) -> bytes:
    return json.dumps(
        list(record.evidence), ensure_ascii=False, sort_keys=True, default=_jsonable
    ).encode()


def _jsonable(value: object) -> object:
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode()}
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


class IncidentStore:
    """Implements ``proxy.record.decisions.Recorder``; safe to call from many threads."""

    def __init__(
        self,
        data_dir: Path,
        checkpoint_every: int = CHECKPOINT_EVERY,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ):
        self.data_dir = Path(data_dir)
        self._today = today  # the period clock; tests move it
        self._keyring = _load_keyring(self.data_dir)
        self._log = IncidentLog(self.data_dir, self._keyring, checkpoint_every)
        self._period_lock = threading.Lock()
        self._period: Period | None = None

    def write(self, record: DecisionRecord) -> None:
        if not should_record(record):
            return
        try:
            self._write(record)
        except IncidentLogError:
            raise
        except Exception as e:  # noqa: BLE001 - Recorder contract: any failure is IncidentLogError
            # ``from None``: the original message might quote a value from the record
            raise IncidentLogError(f"cannot record incident ({type(e).__name__})") from None

    def prepare(self, record: DecisionRecord) -> object:
        """The record's incident frame data (None: it needs no incident), for ``write_many``:
        built and sealed by the caller (the event loop), so the writing thread only chains,
        writes and fsyncs. NOT_PREPARED while today's period is not started yet: that
        writes a frame, which is the writing thread's business."""
        if not should_record(record):
            return None
        period = self._period
        if period is None or period.day != self._today().isoformat():
            return NOT_PREPARED
        return self._frame(record, period)

    def write_now(self, record: DecisionRecord, prepared: object) -> Pending | object | None:
        """Write the record's prepared frame now, without waiting for the disk (the event
        loop's part; see ``decisions.write_now``): a Pending whose sync makes it durable,
        None when it needs no incident, NOT_WRITTEN when ``write_many`` must (not prepared,
        or the log cannot take it at once). Raises the record's IncidentLogError."""
        if prepared is None or not should_record(record):
            return None
        if not isinstance(prepared, dict):
            return NOT_WRITTEN
        outcome = self._log.append_unsynced([("incident", prepared)])
        if outcome is None:
            return NOT_WRITTEN
        if isinstance(outcome[0], Exception):
            raise _recording_error(outcome[0])
        return Pending(syncs=(self._log.sync,))

    def write_many(self, records: list[DecisionRecord],
                   prepared: list | None = None) -> list[IncidentLogError | None]:
        """``write`` for several records in one group commit (one write, one fsync): for
        each record None once it is durable (or needs no incident), else its error.
        ``prepared``: each record's ``prepare`` result, or NOT_PREPARED."""
        results: list[IncidentLogError | None] = [None] * len(records)
        frames, owners = [], []
        for i, record in enumerate(records):
            ready = NOT_PREPARED if prepared is None else prepared[i]
            if ready is None or not should_record(record):
                continue
            try:
                frame = self._frame(record) if ready is NOT_PREPARED else ready
                assert isinstance(frame, dict)  # prepare's frame data
                frames.append(("incident", frame))
                owners.append(i)
            except Exception as e:  # noqa: BLE001 - this record alone is unrecorded
                results[i] = _recording_error(e)
        for i, outcome in zip(owners, self._append(frames), strict=True):
            if isinstance(outcome, Exception):
                results[i] = _recording_error(outcome)
        return results

    def _append(self, frames: list[tuple[str, dict]]) -> list:
        """``append_many`` as write then sync: the log's lock is never held for an fsync
        (the event loop's ``write_now`` would find it taken and hand its records over too).
        A whole group fails when the sync does."""
        if not frames:
            return []
        outcome = self._log.append_unsynced(frames, wait=True)
        if outcome is None:  # a segment to start (or an earlier failure): the full path
            return self._log.append_many(frames)
        if any(isinstance(o, Appended) for o in outcome):
            try:
                self._log.sync()
            except IncidentLogError as e:
                return [o if isinstance(o, Exception) else e for o in outcome]
        return outcome

    def _write(self, record: DecisionRecord) -> None:
        self._log.append("incident", self._frame(record))

    def _frame(self, record: DecisionRecord, period: Period | None = None) -> dict:
        """The incident frame's data: clear metadata, evidence sealed under the period key."""
        period = period or self._current_period()
        meta = incident_metadata(record, period.id)
        clear = framing.canonical(meta)  # the evidence's associated data, and the frame's
        sealed = base64.b64encode(envelope.encrypt_evidence(period.key, evidence_plaintext(record),
                                                            clear))
        return framing.Encoded({"meta": meta, "evidence": sealed.decode()},
                               b'{"evidence":"' + sealed + b'","meta":' + clear + b"}")

    def probe(self) -> bool:
        """True when the log could take a record now (see ``IncidentLog.probe``); never raises."""
        return self._log.probe()

    @property
    def stopped(self) -> str | None:
        """Why the log takes no further record until the process restarts, or None."""
        return self._log.stopped

    def close(self) -> None:
        self._period = None  # drop the data key
        self._log.close()

    def _current_period(self) -> Period:
        """The period for today; a new UTC day starts a new data key (and reloads reviewer keys)."""
        day = self._today().isoformat()
        with self._period_lock:
            if self._period is not None and self._period.day == day:
                return self._period
            self._period = None  # yesterday's key goes before today's is made
            if self._period_is_stale_keyring():
                self._keyring = _load_keyring(self.data_dir)
                self._log.use_keyring(self._keyring)
            period = Period.start(self.data_dir, self._keyring, day)
            self._log.append("period", period.frame_data())
            self._period = period
            return period

    def _period_is_stale_keyring(self) -> bool:
        current = self.data_dir / "keys" / "current"
        try:
            return current.read_text().strip() != self._keyring.current_id
        except OSError as e:
            raise IncidentLogError(f"cannot read reviewer key list: {e.strerror}") from e


def _recording_error(e: Exception) -> IncidentLogError:
    """As ``write`` raises it: an IncidentLogError; another error by its type only (its
    message might quote a value from the record)."""
    if isinstance(e, IncidentLogError):
        return e
    return IncidentLogError(f"cannot record incident ({type(e).__name__})")


def _load_keyring(data_dir: Path) -> Keyring:
    try:
        return Keyring.load(data_dir)
    except (KeyStoreError, OSError, ValueError) as e:
        raise IncidentLogError(f"incident store has no usable keys: {e}") from e
