"""One decision record per request, and where it is written.

The addon builds a DecisionRecord for every request and hands it to the recorder
(``Recorder.write``) before the client gets an answer; metrics read the same record.
Nothing here holds raw personal data: only counts, entity names and masked snippets.
``evidence`` (raw values with a little context) is for the encrypted incident store only.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # annotations only: recording needs no policy code at import
    from policies.model import Policy

@dataclass(frozen=True, slots=True, weakref_slot=True)  # weak: redact.is_redacted
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
    masked: list[str]  # masked snippets: "138********#7f3a2c" (detectors.mask)
    locations: list[str]  # where findings were: "json:$.customer.phone"
    policy_hash: str
    approval: str | None = None
    uninspected: str | None = None  # oversize | undecodable | passthrough | error | timeout
    error_stage: str | None = None  # extract | detect | decide | act | record
    bytes_inspected: int = 0
    inspect_seconds: float = 0.0
    records: int = 0  # customer records (people) in the request, see detectors.records
    # A second line for the same request, written when the exchange failed after the decision:
    # upstream_connect | upstream_tls | response_cut | client_aborted | other (see proxy.hook.addon)
    outcome: str | None = None
    evidence: tuple[dict, ...] = field(default=(), repr=False)  # raw; encrypted store only
    # Who sent it (``user`` above) and how baomi knew: proxyauth | ldap | header | ipmap | none.
    # Appended with defaults so that lines written before they existed still parse.
    user_groups: list[str] = field(default_factory=list)  # directory groups, sorted
    identity: str = "none"
    rule_severity: str | None = None  # the deciding rule's ``severity`` (incidents' default)

    def public(self) -> dict:
        """The record without evidence: safe for logs and metrics.

        A shallow dict (its lists and dicts are the record's own: read, never change them);
        ``asdict`` deep-copied every field, a quarter of a decision-log line's cost.
        """
        return {name: getattr(self, name) for name in _PUBLIC_FIELDS}


_PUBLIC_FIELDS = tuple(f.name for f in fields(DecisionRecord) if f.name != "evidence")
# json.dumps(..., ensure_ascii=False, sort_keys=True), without building an encoder per line.
_encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


class Recorder(Protocol):
    def write(self, record: DecisionRecord) -> None:
        """Make the record durable; raise IncidentLogError if that is impossible."""


DEFAULT_MAX_BYTES = 100 * 1024 * 1024  # `baomi run --decision-log-max-bytes`
DEFAULT_KEEP = 10  # `baomi run --decision-log-keep`


def is_clean_allow(record: DecisionRecord) -> bool:
    """Allowed, nothing found, everything inspected: the only records a policy may thin out.

    Blocks, masks, monitors, failures, approvals and anything with findings are always kept.
    """
    return (record.action == "allow" and record.uninspected is None
            and record.error_stage is None and record.approval is None
            and record.outcome is None
            and not any(record.entity_counts.values()))


class DecisionLog:
    """Append-only JSON lines at ``DIR/decisions.jsonl``, one per request, rotated by size.

        log = DecisionLog(Path("var"), max_bytes=100 * 2**20, keep=10,
                          policy=lambda: runtime.policy)

    A line that would take the file past ``max_bytes`` first rotates it: ``.K-1`` -> ``.K`` ...
    ``.1`` -> ``.2``, ``decisions.jsonl`` -> ``.1`` (newest), then a fresh file. The oldest
    copy is overwritten by the rename before it, so a crash between two renames leaves a gap in
    the numbering, never a lost line. ``keep=0`` keeps no copies: the full file is unlinked. A
    single line longer than ``max_bytes`` gets a file to itself.

    Several processes may write one log (``baomi run --processes N``): each line is one
    ``write()`` to an ``O_APPEND`` descriptor under an exclusive ``flock`` on the data directory
    (plus a thread lock: flock does not exclude threads sharing a descriptor), and so are
    rotation and ``reopen``. The lock stays on every line because only it makes the check for a
    crash's half line exact: without it, a line another writer is copying in looks just like
    one (measured: a stray empty line within 600 lock-free lines from 4 processes); it costs
    0.5 us uncontended, held for one line. A writer notices another's rotation cheaply: its
    file unlinked (``keep=0``: ``st_nlink`` 0 from the ``fstat`` it makes anyway), its file too
    full for the line (someone rotated it, or it is about to), or, at most once per
    ``FOLLOW_SECONDS``, the path's inode no longer its file's (a rotation forced by another's
    bigger line; until then its smaller lines go, whole, to the copy). So a full file is
    rotated once, not once per process, and no line lands in an unlinked file. A rename by
    someone else (logrotate) is left alone until ``reopen`` (SIGUSR1), as logrotate expects.
    Every file holds whole lines.

    ``policy`` (a callable returning the policy in force, read per record so reloads apply)
    decides which clean allows are written (``logging.allowed``); without it, all are.
    """

    FOLLOW_SECONDS = 1.0  # how often a writer checks the path is still its file

    def __init__(self, data_dir: Path, sync: bool = True, max_bytes: int = DEFAULT_MAX_BYTES,
                 keep: int = DEFAULT_KEEP, policy: Callable[[], Policy] | None = None):
        """``sync``: fsync every line that is not a clean allow. ``baomi run`` passes False
        because the incident store already makes exactly those records durable (one fsync
        per incident, not two); this log is then the audit trail of every request."""
        if max_bytes <= 0 or keep < 0:
            raise ValueError(f"max_bytes must be > 0 and keep >= 0, got {max_bytes}, {keep}")
        self.sync = sync
        self.max_bytes, self.keep = max_bytes, keep
        self.path = Path(data_dir) / "decisions.jsonl"
        self._policy = policy
        self._clean_allows = 0  # seen so far, for logging.allowed: sample:N
        self._lock = threading.Lock()
        # The directory, not a lock file in it: nothing new appears beside the logs.
        self._dir_fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
        self._real_dir = Path(os.path.realpath(self.path.parent))  # as /proc names it
        self._fd = self._open()
        self._our_end = -1  # where our last line ended: anything else there is checked
        self._next_follow = 0.0  # monotonic time of the next check of the path's inode

    def write(self, record: DecisionRecord) -> None:
        from proxy.errors import IncidentLogError

        line = (_encode(record.public()) + "\n").encode()
        durable = self.sync and (record.action != "allow" or record.uninspected is not None)
        clean = is_clean_allow(record)
        try:
            with self._lock:
                if clean and not self._keeps_clean_allow():
                    return
                with self._exclusive():
                    self._append(line, durable)
        except OSError as e:
            raise IncidentLogError(f"cannot write decision log {self.path}: {e.strerror}") from e

    def write_now(self, record: DecisionRecord, prepared: object = None) -> object:
        """``write`` on the caller's thread when it needs no fsync (``sync=False``, or a line
        ``write`` would not fsync): None; else NOT_WRITTEN (the writer thread's ``write_many``).
        Appending a line never waits for the disk; other writers hold the lock for one line."""
        if self.sync and (record.action != "allow" or record.uninspected is not None):
            return NOT_WRITTEN
        error = self.write_many([record], [prepared if isinstance(prepared, bytes)
                                           else NOT_PREPARED])[0]
        if error is not None:
            raise error
        return None

    def prepare(self, record: DecisionRecord) -> bytes:
        """The record's line, for ``write_many``: encoded by the caller (the event loop),
        so the writing thread only writes."""
        return (_encode(record.public()) + "\n").encode()

    def write_many(self, records: list[DecisionRecord],
                   prepared: list | None = None) -> list[Exception | None]:
        """``write`` for several records, taking the locks once: for each record None once
        its line is written (and fsynced where ``write`` would), else its IncidentLogError.
        ``prepared``: each record's ``prepare`` result, or NOT_PREPARED."""
        from proxy.errors import IncidentLogError

        results: list[Exception | None] = [None] * len(records)
        lines = prepared or [NOT_PREPARED] * len(records)
        with self._lock:
            kept = [(i, r) for i, r in enumerate(records)
                    if not is_clean_allow(r) or self._keeps_clean_allow()]
            if not kept:
                return results
            encoded = [(i, record, lines[i] if isinstance(lines[i], bytes)
                        else self.prepare(record)) for i, record in kept]
            with self._exclusive():
                if not self.sync and self._append_whole(encoded, results):
                    return results
                for i, record, line in encoded:
                    durable = self.sync and (record.action != "allow"
                                             or record.uninspected is not None)
                    try:
                        self._append(line, durable)
                    except OSError as e:  # this line alone; _append cut it back
                        results[i] = IncidentLogError(
                            f"cannot write decision log {self.path}: {e.strerror}")
        return results

    def _append_whole(self, encoded: list, results: list) -> bool:
        """The group's lines with one write when they all fit in the current file (the
        writer thread's syscalls each wait for the GIL); False: the caller goes line by
        line (rotation between them). A failed write fails every line of the group."""
        from proxy.errors import IncidentLogError

        chunk = b"".join(line for _, _, line in encoded)
        try:
            now = self._follow_rotation(chunk)
            if now.st_size + len(chunk) > self.max_bytes:
                return False
            self._append(chunk, False, now)
        except OSError as e:  # _append cut the whole chunk back
            for i, _, _ in encoded:
                results[i] = IncidentLogError(
                    f"cannot write decision log {self.path}: {e.strerror}")
        return True

    def reopen(self) -> None:
        """Start writing to ``decisions.jsonl`` again after someone renamed it (logrotate, then
        SIGUSR1). Between writes; on failure the old file stays in use and the error is raised."""
        from proxy.errors import IncidentLogError

        try:
            with self._lock, self._exclusive():
                self._swap(self._open())
        except OSError as e:
            raise IncidentLogError(f"cannot reopen decision log {self.path}: {e.strerror}") from e

    @contextlib.contextmanager
    def _exclusive(self):
        """Other processes writing this log wait here (each holds it for one line or rotation)."""
        fcntl.flock(self._dir_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._dir_fd, fcntl.LOCK_UN)

    def _follow_rotation(self, line: bytes) -> os.stat_result:
        """Open the live file if another writer rotated ours away (to ``.1``, or unlinked it);
        returns the stat of the file the line goes to.

        The common case costs the one ``fstat`` that ``_append`` needs anyway: the file is
        linked, has room for the line, and the path's inode was checked less than
        ``FOLLOW_SECONDS`` ago.
        """
        mine = os.fstat(self._fd)
        now = time.monotonic()
        if (mine.st_nlink and mine.st_size + len(line) <= self.max_bytes
                and now < self._next_follow):
            return mine
        self._next_follow = now + self.FOLLOW_SECONDS
        try:
            live = os.stat(self.path)
        except FileNotFoundError:
            live = None
        if live is not None and (live.st_dev, live.st_ino) == (mine.st_dev, mine.st_ino):
            return mine
        if mine.st_nlink == 0 or self._is_copy():
            self._swap(self._open())
            return os.fstat(self._fd)
        return mine  # renamed by someone else (logrotate): keep writing there until reopen()

    def _is_copy(self) -> bool:
        """Is our file now one of the numbered copies (``decisions.jsonl.3``)? Linux names an
        open file's current path in /proc, however many rotations moved it on."""
        try:
            now = Path(os.readlink(f"/proc/self/fd/{self._fd}"))
        except OSError:
            return False
        stem, _, number = now.name.rpartition(".")
        return now.parent == self._real_dir and stem == self.path.name and number.isdigit()

    def _keeps_clean_allow(self) -> bool:
        if self._policy is None:
            return True
        seen, self._clean_allows = self._clean_allows, self._clean_allows + 1
        return self._policy().logging.keeps_allowed(seen)

    def _append(self, line: bytes, durable: bool, now: os.stat_result | None = None) -> None:
        """All of ``line`` or none of it: a short write (disk full) is cut back, never left as
        half a line for the next record to be glued to. ``now``: ``_follow_rotation(line)``
        if the caller has just asked it (one fstat a line, not two)."""
        end = (now or self._follow_rotation(line)).st_size
        if end and end + len(line) > self.max_bytes:
            self._rotate()
            end = 0
        if end and end != self._our_end and os.pread(self._fd, 1, end - 1) != b"\n":
            line = b"\n" + line  # a line cut by a crash (ours or another writer's) stays apart
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(self._fd, view):]
            if durable:
                os.fsync(self._fd)
        except OSError:
            os.ftruncate(self._fd, end)
            raise
        self._our_end = end + len(line)

    def _rotate(self) -> None:
        """Oldest first, each rename atomic: every line is in exactly one file at every step."""
        for n in range(self.keep - 1, 0, -1):
            with contextlib.suppress(FileNotFoundError):  # fewer copies so far, or a crash's gap
                os.rename(self._copy(n), self._copy(n + 1))
        try:
            if self.keep:
                os.rename(self.path, self._copy(1))
            else:
                os.unlink(self.path)
        except FileNotFoundError:
            pass  # renamed away by someone else, or a previous rotation failed after this step
        self._swap(self._open())
        if self.sync:  # the renames and the new file's name survive a power cut, like its lines
            directory = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)

    def _copy(self, n: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{n}")

    def _open(self) -> int:
        return os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)  # RDWR: see _append

    def _swap(self, fd: int) -> None:
        old, self._fd = self._fd, fd
        os.close(old)

    def close(self) -> None:
        os.close(self._fd)
        os.close(self._dir_fd)


# A recorder's prepared form of a record that was not prepared: write_many does that work.
NOT_PREPARED = object()
# ``write_now``'s answer when the recorder cannot take the record at once: write_many must.
NOT_WRITTEN = object()


@dataclass(frozen=True, slots=True)
class Pending:
    """``write_now``'s answer for a record written but not durable yet: each of ``syncs``
    (equal ones are called once per group) makes it durable, then each ``(recorder,
    prepared)`` of ``rest`` takes it as ``write_many`` would (a recorder that could not take
    it at once, and every one after it)."""

    syncs: tuple[Callable[[], None], ...] = ()
    rest: tuple[tuple[Recorder, object], ...] = ()


def write_now(recorder: Recorder, record: DecisionRecord, prepared: object) -> object:
    """``recorder.write_now(record, prepared)``: the part of writing that does not wait for
    the disk, done by the caller (the event loop). None: written and as durable as ``write``
    makes it; a Pending; NOT_WRITTEN (also for recorders without ``write_now``). Raises the
    record's error."""
    step = getattr(recorder, "write_now", None)
    if step is None:
        return NOT_WRITTEN
    return step(record, prepared)


def prepare(recorder: Recorder, record: DecisionRecord) -> object:
    """``recorder.prepare(record)`` (the CPU part of writing it: encoding, sealing) when it
    has one and it succeeds, else NOT_PREPARED: ``write_many`` then does it, and reports
    its error for that record alone."""
    step = getattr(recorder, "prepare", None)
    if step is None:
        return NOT_PREPARED
    try:
        return step(record)
    except Exception:  # noqa: BLE001 - redone in write_many, which fails this record alone
        return NOT_PREPARED


def write_many(recorder: Recorder, records: list[DecisionRecord],
               prepared: list | None = None) -> list[Exception | None]:
    """``recorder.write_many(records, prepared)`` when it has one, else ``write`` record by
    record; for each record None or its error (any exception a ``write`` raised)."""
    group = getattr(recorder, "write_many", None)
    if group is not None:
        try:
            if prepared is None or all(p is NOT_PREPARED for p in prepared):
                return group(records)  # also for recorders that prepare nothing
            return group(records, prepared)
        except Exception as e:  # noqa: BLE001 - the whole group failed: each record fails
            from proxy.errors import IncidentLogError

            why = str(e) if isinstance(e, IncidentLogError) else f"cannot record ({type(e).__name__})"
            return [IncidentLogError(why) for _ in records]
    results: list[Exception | None] = []
    for record in records:
        try:
            recorder.write(record)
            results.append(None)
        except Exception as e:  # noqa: BLE001 - handed to this record's own caller
            results.append(e)
    return results


class Recorders:
    """Writes one record to several recorders in order (decision log, incident store).

    Any failure propagates: the caller treats the request as unrecorded and blocks it.
    """

    def __init__(self, *recorders):
        self.recorders = recorders

    def write(self, record: DecisionRecord) -> None:
        for recorder in self.recorders:
            recorder.write(record)

    def prepare(self, record: DecisionRecord) -> tuple:
        """Each recorder's ``prepare`` of the record (NOT_PREPARED where it has none)."""
        return tuple(prepare(recorder, record) for recorder in self.recorders)

    def write_now(self, record: DecisionRecord, prepared: object = None) -> object:
        """Each recorder's ``write_now`` in order, as far as they go: None, a Pending
        (its syncs, and the recorders left from the first that could not take the record at
        once), or NOT_WRITTEN when the first could not. Raises the first error (a record
        one recorder failed is not handed to the next)."""
        mine = prepared if isinstance(prepared, tuple) else (NOT_PREPARED,) * len(self.recorders)
        syncs: tuple = ()
        for n, recorder in enumerate(self.recorders):
            step = write_now(recorder, record, mine[n])
            if step is NOT_WRITTEN:
                if n == 0:
                    return NOT_WRITTEN
                return Pending(syncs, tuple(zip(self.recorders[n:], mine[n:], strict=True)))
            if isinstance(step, Pending):
                if step.rest:
                    return Pending(syncs + step.syncs, step.rest + tuple(
                        zip(self.recorders[n + 1:], mine[n + 1:], strict=True)))
                syncs += step.syncs
        return Pending(syncs) if syncs else None

    def write_many(self, records: list[DecisionRecord],
                   prepared: list | None = None) -> list[Exception | None]:
        """``write`` for several records, each recorder taking them as one group: for each
        record None once every recorder has it, else the first error (a record one recorder
        failed is not handed to the next, as ``write`` would not)."""
        results: list[Exception | None] = [None] * len(records)
        for n, recorder in enumerate(self.recorders):
            pending = [i for i, error in enumerate(results) if error is None]
            if not pending:
                break
            mine = None if prepared is None else [
                prepared[i][n] if isinstance(prepared[i], tuple) else NOT_PREPARED
                for i in pending]
            for i, error in zip(pending,
                                write_many(recorder, [records[i] for i in pending], mine),
                                strict=True):
                results[i] = error
        return results

    @property
    def stopped(self) -> str | None:
        """Why a recorder takes no further record until the process restarts, or None."""
        return next((why for r in self.recorders if (why := getattr(r, "stopped", None))), None)

    def probe(self) -> bool:
        """Could every recorder that can tell take a record now? (readiness after a failure)"""
        return all(r.probe() for r in self.recorders if hasattr(r, "probe"))

    def close(self) -> None:
        for recorder in self.recorders:
            recorder.close()
