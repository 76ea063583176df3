"""The incident log: append-only segment files, a hash chain, forward-secure MACs, checkpoints.

    log = IncidentLog(Path("var"), Keyring.load(Path("var")))
    log.append("access", {"incident": "...", "who": "alice", "why": "ticket 42"})  # durable
    log.close()                                                    # signs a final checkpoint

Files under ``DIR/incidents/``: ``log-00000001.bin`` ... (*segments*, frames as in
``framing``), ``checkpoint.json`` (the newest signed checkpoint), ``torn-<time>.bin`` (torn
tails set aside), ``.lock`` (writers hold it exclusively for each append).

Several writers (threads, processes: ``baomi run --processes N``, the CLI) append to one
chain. Each writer's first append starts a segment (naming its pid and host); after that
every writer extends the newest segment, whoever started it, through the segment state they
share in memory (``head``). A writer starts another segment only when that state is missing
or does not match the files (after a crash), or when ``/dev/shm`` cannot be used; then, as
before, it starts one whenever another writer appended since its own last frame.

What each mechanism does and does not protect against:

* **Frame CRC + lengths** tell a torn write from a record. On open, whatever follows the last
  whole frame of the newest file is copied to ``torn-<time>.bin`` and cut off; the chain
  continues from the last whole frame. ``append`` returns only after write + fsync, so a
  crash can tear only a record that was never acknowledged. CRCs stop no attacker.
  Appends from several threads share fsyncs (*group commit*): frames that arrive while one
  thread's write + fsync is under way queue up and the next thread writes them all with one
  write and one fsync; each append still returns only once its own frame is durable.
  The proxy splits an append in two (``append_unsynced`` on the event loop: chain and write;
  ``sync`` on its record thread: one fsync for every frame written since the last): a frame
  is acknowledged only after an fsync that began after it was written. Written frames are in
  the page cache, so a killed process leaves them whole for the next writer; a machine crash
  loses only frames whose fsync had not returned, which nobody acknowledged. A failed fsync
  stops this writer (later data may be gone from the disk while the file still shows it).
* **Hash chain**: every body names the previous frame's hash and a sequence number, and
  ``hash = SHA-256(prev hash + body + mac)``. A flipped byte, a deleted, inserted or
  reordered frame breaks the chain where it happened. Anyone can recompute SHA-256, so an
  attacker who rewrites *every* later frame repairs the chain: that is what checkpoints and
  MACs are for.
* **Forward-secure MAC**: each segment starts with a random key k0, sealed to the reviewer
  public key in its first frame; frame i carries HMAC(k_i, body) and the writer then keeps
  only k_{i+1} = HMAC(k_i, "next"). Someone who takes over the host at record j learns k_j
  and can forge records from j on, but cannot recompute the MAC of any earlier record of
  any segment: altering one requires replacing its whole segment (new frame-0 key), which
  shows as a different sequence of segments than checkpoints and exports kept elsewhere
  record. Only a reviewer private key checks MACs (``verify --key``). Key erasure in Python
  is best effort: the old key object is dropped, not scrubbed from memory.
* **Checkpoints** (every ``checkpoint_every`` records and on close): an Ed25519 signature over
  the (seq, hash) of the newest record, written to ``checkpoint.json`` and then as a frame.
  ``verify`` reports a log that ends before the last checkpoint (tail truncation) or
  disagrees with it. The signing key lives on the host, so a host attacker can sign a new
  history: checkpoints stop accidents and people without that key; copy ``checkpoint.json``
  off the host for more. Records after the newest checkpoint can be cut off undetected.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import json
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519

from proxy.errors import IncidentLogError
from proxy.record.incidents import envelope, framing
from proxy.record.incidents.files import fsync_dir, write_all, write_atomic
from proxy.record.incidents.head import HeadState, SharedHead
from proxy.record.incidents.keys import Keyring, fingerprint

GENESIS = bytes(32)
CHECKPOINT_EVERY = 100
PROBE_BYTES = 16 * 1024  # an incident frame is 1-3 KiB; room for a few


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def incidents_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "incidents"


def segment_info(number: int) -> bytes:
    return f"baomi segment key {number:08d}".encode()


def next_mac_key(key: bytes) -> bytes:
    return hmac.new(key, b"next", hashlib.sha256).digest()


def frame_mac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).digest()


def chain_hash(prev: bytes, body: bytes, mac: bytes) -> bytes:
    return hashlib.sha256(prev + body + mac).digest()


def checkpoint_statement(seq: int, hash_hex: str, time: str) -> bytes:
    return b"baomi checkpoint v1\n" + framing.canonical(
        {"seq": seq, "hash": hash_hex, "time": time}
    )


# --- reading -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogFile:
    number: int
    path: Path
    size: int  # bytes that existed when the snapshot was taken


@dataclass(frozen=True, slots=True)
class Entry:
    """One frame with its parsed body and where it is."""

    file: LogFile
    frame: framing.Frame
    seq: int
    prev: str
    kind: str
    time: str
    data: dict

    @classmethod
    def of(cls, file: LogFile, frame: framing.Frame) -> Entry:
        f = frame.fields
        return cls(
            file,
            frame,
            f.get("seq", -1),
            f.get("prev", ""),
            f.get("kind", ""),
            f.get("time", ""),
            f.get("data", {}),
        )

    @property
    def where(self) -> str:
        return f"seq {self.seq} ({self.file.path.name} offset {self.frame.offset})"


def log_files(inc_dir: Path) -> list[LogFile]:
    files = []
    for path in inc_dir.glob("log-*.bin"):
        stem = path.stem.removeprefix("log-")
        if stem.isdigit():
            files.append(LogFile(int(stem), path, path.stat().st_size))
    return sorted(files, key=lambda f: f.number)


def snapshot(inc_dir: Path) -> list[LogFile]:
    """The log files and their sizes, taken while no writer is mid-append."""
    return snapshot_with_checkpoint(inc_dir)[0]


def snapshot_with_checkpoint(inc_dir: Path) -> tuple[list[LogFile], bytes | None]:
    """The log files and ``checkpoint.json`` as of one moment between appends.

    Taken apart, a writer could checkpoint in between, and a reader would see a log that
    outruns its checkpoint file or a checkpoint file that outruns the log.
    """
    if not inc_dir.is_dir():
        return [], None
    with _locked(inc_dir, fcntl.LOCK_SH):
        try:
            checkpoint = (inc_dir / "checkpoint.json").read_bytes()
        except FileNotFoundError:
            checkpoint = None
        return log_files(inc_dir), checkpoint


def read_file(file: LogFile) -> bytes:
    """The bytes the snapshot saw. Frames are never rewritten; after the snapshot a writer may
    only cut a dead writer's torn tail, or remove a newest file that held no whole frame."""
    try:
        with open(file.path, "rb") as fh:
            return fh.read(file.size)
    except FileNotFoundError:
        return b""


def entries(inc_dir: Path, start: tuple[int, int] = (0, 0)) -> Iterator[Entry]:
    """Valid frames in log order from (file number, offset); damage is ``verify``'s business."""
    for file in snapshot(inc_dir):
        if file.number < start[0]:
            continue
        buf = read_file(file)
        offset = start[1] if file.number == start[0] else 0
        for item in framing.scan(memoryview(buf)[offset:]):
            if isinstance(item, framing.Frame):
                frame = framing.Frame(item.offset + offset, item.body, item.mac, item.hash)
                yield Entry.of(file, frame)


def entry_at(inc_dir: Path, number: int, offset: int) -> Entry:
    path = inc_dir / f"log-{number:08d}.bin"
    try:
        buf = path.read_bytes()
    except OSError as e:
        raise IncidentLogError(f"cannot read {path.name}: {e.strerror}") from e
    item = framing.parse_at(buf, offset)
    if not isinstance(item, framing.Frame):
        raise IncidentLogError(
            f"{path.name} offset {offset}: {item.reason}; run 'baomi incidents verify'"
        )
    return Entry.of(LogFile(number, path, len(buf)), item)


# --- writing -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Appended:
    seq: int
    hash: str
    file: int
    offset: int


class _Segment:
    """The file this writer appends to and the chain state after its last frame."""

    def __init__(
        self,
        number: int,
        path: Path,
        fd: int,
        size: int,
        seq: int,
        hash_: bytes,
        start_seq: int,
        mac_key: bytes,
    ):
        self.number, self.path, self.fd, self.size = number, path, fd, size
        self.seq, self.hash, self.start_seq, self.mac_key = seq, hash_, start_seq, mac_key
        self.unsynced = False  # frames written by append_unsynced wait for an fsync


class _Pending:
    """One append waiting for its group's fsync (``IncidentLog.append``)."""

    __slots__ = ("data", "done", "error", "failure", "kind", "result")

    def __init__(self, kind: str, data: dict):
        self.kind, self.data = kind, data
        self.done = False
        self.result: Appended | None = None
        self.failure: str | None = None  # the group's write failed: IncidentLogError(failure)
        self.error: BaseException | None = None  # this frame alone could not be built

    def outcome(self) -> Appended:
        if self.error is not None:
            raise self.error
        if self.failure is not None or self.result is None:
            raise IncidentLogError(self.failure or "incident not written")
        return self.result


class IncidentLog:
    """Appends frames durably; safe from several threads and several processes at once."""

    def __init__(self, data_dir: Path, keyring: Keyring, checkpoint_every: int = CHECKPOINT_EVERY,
                 share_head: bool = True):
        """``share_head``: extend the newest segment whoever started it (``head``); False:
        start a new segment whenever another writer appended since this one did."""
        if keyring.signer is None:
            raise IncidentLogError("the incident log needs the checkpoint signing key")
        self.dir = incidents_dir(data_dir)
        self._keyring = keyring
        self._signer: ed25519.Ed25519PrivateKey = keyring.signer
        self.checkpoint_every = checkpoint_every
        self._lock = threading.Lock()
        self._fd_lock = threading.Lock()  # held by sync's fsync: the segment is not closed under it
        self._turn = threading.Condition(threading.Lock())  # guards _queue and _leading
        self._queue: list[_Pending] = []  # appends waiting for the next group commit
        self._leading = False  # a thread is writing a group now
        self._segment: _Segment | None = None
        self._newest_seen = 0  # the newest file number this writer knows of: where to look
        self._after: tuple[int, str] = (0, "")  # _path_after's last answer
        self._since_checkpoint = 0
        self._broken: str | None = None
        try:
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._lock_fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise IncidentLogError(f"cannot open incident log in {self.dir}: {e.strerror}") from e
        self._head: SharedHead | None = None
        if share_head:
            with _flock(self._lock_fd, fcntl.LOCK_EX):
                self._head = SharedHead.join(self.dir)

    def append(self, kind: str, data: dict) -> Appended:
        """Write one frame and fsync it; raise IncidentLogError if it is not durable.

        Group commit: while one thread writes and fsyncs, others queue; the first of them to
        get its turn writes the whole queue with one write and one fsync (at 3 ms a fsync on
        a busy disk, one frame per fsync capped a box at ~300 incidents/s).
        """
        mine = _Pending(kind, data)
        self._enqueue([mine])
        return mine.outcome()

    def append_many(self, items: list[tuple[str, dict]]) -> list[Appended | Exception]:
        """``append`` for several frames at once, in one group (one write, one fsync when no
        other thread is mid-commit): each item's Appended, or the error that kept it out.

            log.append_many([("incident", a), ("incident", b)])  # -> [Appended(...), ...]
        """
        mine = [_Pending(kind, data) for kind, data in items]
        if mine:
            self._enqueue(mine)
        results: list[Appended | Exception] = []
        for pending in mine:
            try:
                results.append(pending.outcome())
            except Exception as e:  # noqa: BLE001 - handed to the item's own caller
                results.append(e)
        return results

    def append_unsynced(self, items: list[tuple[str, dict]],
                        wait: bool = False) -> list[Appended | Exception] | None:
        """Chain and write ``items`` now, without waiting for the disk: durable once a later
        ``sync()`` returns. Each item's Appended or its error; None when it cannot be done at
        once (another thread of this writer or another process holds the log, or this writer
        must start a segment first, which writes and fsyncs a file): use ``append_many``.
        ``wait``: wait for the locks (a thread may; the event loop may not).

        The event loop's half of an append: its system calls (lock, read the shared head,
        write, publish it) are a few microseconds each and never wait for the disk.
        """
        if self._broken or not self._lock.acquire(blocking=wait):
            return None
        group = [_Pending(kind, data) for kind, data in items]
        try:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:  # held by another writer (maybe for an fsync): not now
                return None
            try:
                if not self._extends_own_segment():
                    return None
                self._since_checkpoint += self._append_group(group, sync=False)
                self._publish()
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        except OSError as e:
            return [IncidentLogError(f"cannot write incident log in {self.dir}: {e.strerror}")
                    for _ in items]
        finally:
            self._lock.release()
        results: list[Appended | Exception] = []
        for pending in group:  # a frame that could not be built fails alone
            results.append(pending.error if isinstance(pending.error, Exception)
                           else pending.outcome())
        return results

    def sync(self) -> None:
        """Make every frame ``append_unsynced`` wrote before this call durable (one fsync),
        then sign the checkpoint that is due, if any. Raises IncidentLogError; a failed fsync
        stops this writer (``probe`` answers False until restart)."""
        with self._lock:
            if self._broken:
                raise IncidentLogError(
                    f"incident log unusable after an earlier failure ({self._broken})")
            seg = self._segment  # a segment dropped since was fsynced by _drop_segment
            if seg is not None and seg.unsynced:
                seg.unsynced = False  # frames written from now on wait for the next sync
                self._fd_lock.acquire()
            else:
                seg = None
        if seg is not None:
            try:
                os.fsync(seg.fd)
            except OSError as e:
                self._broken = f"fsync failed: {e.strerror}"
                raise IncidentLogError(
                    f"cannot write incident log in {self.dir}: {e.strerror}") from e
            finally:
                self._fd_lock.release()
        if self._since_checkpoint >= self.checkpoint_every:
            self._checkpoint_due()

    def _checkpoint_due(self) -> None:
        with self._lock:
            try:
                with _flock(self._lock_fd, fcntl.LOCK_EX):
                    if (not self._broken and self._continue_head()
                            and self._since_checkpoint >= self.checkpoint_every):
                        self._checkpoint()
                        self._publish()
            except OSError as e:
                raise IncidentLogError(f"cannot write incident log in {self.dir}: {e.strerror}") from e

    def _enqueue(self, mine: list[_Pending]) -> None:
        """Queue ``mine`` (one group: a leader takes the whole queue) and return once it is
        done, leading the commit when no other thread is."""
        last = mine[-1]
        with self._turn:
            self._queue.extend(mine)
            while self._leading and not last.done:
                self._turn.wait()
            if last.done:  # another thread wrote them with its group
                return
            self._leading = True
            group, self._queue = self._queue, []
        try:
            self._commit(group)
        finally:
            with self._turn:
                self._leading = False
                self._turn.notify_all()

    def _commit(self, group: list[_Pending]) -> None:
        """Append ``group`` durably (one write, one fsync); every member ends done."""
        try:
            with self._lock:
                if self._broken:
                    raise IncidentLogError(
                        f"incident log unusable after an earlier failure ({self._broken})"
                    )
                try:
                    with _flock(self._lock_fd, fcntl.LOCK_EX):
                        if not self._continue_head():
                            self._start_segment()
                        written = self._append_group(group)
                        self._since_checkpoint += written
                        self._publish()  # before the checkpoint: its failure leaves these shared
                        if self._since_checkpoint >= self.checkpoint_every:
                            self._checkpoint()
                            self._publish()
                except OSError as e:
                    raise IncidentLogError(
                        f"cannot write incident log in {self.dir}: {e.strerror}"
                    ) from e
        except IncidentLogError as e:
            for pending in group:
                pending.failure = str(e)  # each waiter raises its own copy
        except BaseException as e:  # re-raised; the waiters must not wait forever
            for pending in group:
                pending.failure = f"incident not written ({type(e).__name__})"
            raise
        finally:
            for pending in group:
                pending.done = True

    def probe(self) -> bool:
        """Could an append succeed now? For readiness after a failure, without adding a frame.

        Writes, fsyncs and removes ``.probe`` (PROBE_BYTES, more than an incident frame) in
        the log directory: a full or read-only file system, or a log stopped by an earlier
        failure, answers False.
        """
        if self._broken:
            return False
        path = self.dir / ".probe"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                write_all(fd, bytes(PROBE_BYTES))
                os.fsync(fd)
            finally:
                os.close(fd)
                path.unlink(missing_ok=True)
        except OSError:
            return False
        return True

    @property
    def stopped(self) -> str | None:
        """Why this writer takes no further record (a failed fsync), or None: only a new
        writer (a restarted process) can go on."""
        return self._broken

    def use_keyring(self, keyring: Keyring) -> None:
        """Seal segments started from now on to ``keyring.current`` (after a key rotation)."""
        with self._lock:
            self._keyring = keyring

    def close(self) -> None:
        """Sign a final checkpoint if this writer wrote the newest frames, then let go."""
        with self._lock:
            if self._lock_fd < 0:
                return
            try:
                with _flock(self._lock_fd, fcntl.LOCK_EX):
                    try:
                        if self._segment is not None and not self._broken \
                                and self._continue_head() and self._since_checkpoint:
                            self._checkpoint()
                            self._publish()
                    finally:
                        if self._head is not None:
                            self._head.leave()
                            self._head = None
            except OSError as e:
                raise IncidentLogError(f"cannot write final checkpoint: {e.strerror}") from e
            finally:
                try:
                    self._drop_segment()
                finally:
                    os.close(self._lock_fd)
                    self._lock_fd = -1

    # -- internals (called with both locks held) --

    def _continue_head(self) -> bool:
        """Can this writer append to the newest segment now? Its first append never does:
        each writer start begins a segment (it names the writer's pid and host)."""
        if self._segment is None:
            return False
        if self._head is None:
            return self._is_head()
        state = self._head.read()
        return state is not None and self._adopt(state)

    def _extends_own_segment(self) -> bool:
        """``_continue_head`` without changing segment (closing ours waits for its fsync)."""
        seg = self._segment
        if seg is None:
            return False
        if self._head is None:
            return self._is_head()
        state = self._head.read()
        return state is not None and state.number == seg.number and self._adopt(state)

    def _adopt(self, state: HeadState) -> bool:
        """Take the shared state as ours if the files agree with it (newest, same size)."""
        seg = self._segment
        assert seg is not None
        if os.path.exists(self._path_after(state.number)):
            return False
        if seg.number != state.number:
            path = _log_path(self.dir, state.number)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            except FileNotFoundError:
                return False
            self._drop_segment()
            seg = self._segment = _Segment(state.number, path, fd, -1, 0, b"", 0, b"")
        st = os.fstat(seg.fd)
        if st.st_nlink == 0 or st.st_size != state.size:
            return False
        seg.size, seg.seq, seg.hash = state.size, state.seq, state.hash
        seg.start_seq, seg.mac_key = state.start_seq, state.mac_key
        self._since_checkpoint = state.since_checkpoint
        self._newest_seen = max(self._newest_seen, state.number)
        return True

    def _path_after(self, number: int) -> str:
        """The name segment ``number``'s successor would have, as a string (kept: a Path
        and its ``exists()`` cost ~18 us a record, ``os.path.exists`` of a str ~2.6)."""
        if self._after[0] != number:
            self._after = (number, str(_log_path(self.dir, number + 1)))
        return self._after[1]

    def _publish(self) -> None:
        seg = self._segment
        if self._head is not None and seg is not None:
            self._head.write(HeadState(seg.number, seg.size, seg.seq, seg.start_seq,
                                       self._since_checkpoint, seg.hash, seg.mac_key))

    def _is_head(self) -> bool:
        seg = self._segment
        if seg is None:
            return False
        if (self.dir / f"log-{seg.number + 1:08d}.bin").exists():
            return False  # another writer started a newer segment
        st = os.fstat(seg.fd)
        return st.st_nlink > 0 and st.st_size == seg.size

    def _start_segment(self) -> None:
        self._drop_segment()
        try:
            self._start_segment_after(recover_head(self.dir, self._newest_seen))
        except FileExistsError:  # a file missing below the newest misled the quick search
            self._start_segment_after(recover_head(self.dir))

    def _start_segment_after(self, head: tuple[int, int, bytes]) -> None:
        number, seq, prev = head
        number += 1
        path = self.dir / f"log-{number:08d}.bin"
        k0 = os.urandom(32)
        data = {
            "file": path.name,
            "key_id": self._keyring.current_id,
            "sealed_key": base64.b64encode(
                envelope.seal(self._keyring.current, k0, segment_info(number))
            ).decode(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }
        body, mac, hash_ = _build(seq + 1, prev, "segment", data, k0)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        try:
            write_all(fd, framing.encode(body, mac, hash_))
            os.fsync(fd)
            fsync_dir(self.dir)
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)  # holds no acknowledged frame
            raise
        size = framing.OVERHEAD + len(body)
        self._segment = _Segment(number, path, fd, size, seq + 1, hash_, seq + 1, next_mac_key(k0))
        self._newest_seen = number

    def _append(self, kind: str, data: dict) -> Appended:
        pending = _Pending(kind, data)
        self._append_group([pending])
        return pending.outcome()

    def _append_group(self, group: list[_Pending], sync: bool = True) -> int:
        """Chain, write and fsync the group's frames at once; how many were written.
        ``sync=False``: written only, for ``sync()`` to make durable.

        A frame that cannot be built (its data is not JSON, or its body is over what the
        reader accepts, ``framing.MAX_BODY``) fails alone; the chain skips it.
        """
        seg = self._segment
        assert seg is not None
        seq, prev, key, size = seg.seq, seg.hash, seg.mac_key, seg.size
        raws = []
        for pending in group:
            try:
                body, mac, hash_ = _build(seq + 1, prev, pending.kind, pending.data, key)
            except Exception as e:  # noqa: BLE001 - this frame's own error, raised by its caller
                pending.error = e
                continue
            if len(body) > framing.MAX_BODY:  # written, it would read back as damage
                pending.error = IncidentLogError(
                    f"incident record too large to store ({len(body)} bytes, the log's frames "
                    f"hold at most {framing.MAX_BODY})"
                )
                continue
            raws.append(framing.encode(body, mac, hash_))
            seq, prev, key = seq + 1, hash_, next_mac_key(key)
            pending.result = Appended(seq, hash_.hex(), seg.number, size)
            size += len(raws[-1])
        if not raws:
            return 0
        try:
            write_all(seg.fd, b"".join(raws))
            if sync:
                os.fsync(seg.fd)  # also makes earlier unsynced frames durable; sync() may
            else:                 # fsync again for them, harmless
                seg.unsynced = True
        except OSError:
            self._undo_partial(seg)
            raise
        # the old key is no longer referenced
        seg.seq, seg.hash, seg.mac_key, seg.size = seq, prev, key, size
        return len(raws)

    def _undo_partial(self, seg: _Segment) -> None:
        """Cut a failed append back so the file ends on a whole frame; else stop writing."""
        try:
            os.ftruncate(seg.fd, seg.size)
            os.fsync(seg.fd)
        except OSError as e:
            self._broken = f"could not undo a partial write: {e.strerror}"

    def _checkpoint(self) -> None:
        seg = self._segment
        assert seg is not None
        if seg.unsynced:  # the checkpoint names the newest frame: durable first
            os.fsync(seg.fd)
            seg.unsynced = False
        statement = self._sign(seg.seq, seg.hash.hex())
        # checkpoint.json first: after a crash between the two it is never behind the log's
        # newest checkpoint frame, so "older than the log" can only mean it was replaced.
        write_atomic(
            self.dir / "checkpoint.json", json.dumps(statement, indent=1).encode() + b"\n"
        )
        self._append("checkpoint", statement)
        self._since_checkpoint = 0

    def _sign(self, seq: int, hash_hex: str) -> dict:
        time = utc_now()
        signature = self._signer.sign(checkpoint_statement(seq, hash_hex, time))
        return {
            "seq": seq,
            "hash": hash_hex,
            "time": time,
            "signature": base64.b64encode(signature).decode(),
            "key": fingerprint(self._signer.public_key()),
        }

    def _drop_segment(self) -> None:
        """Close the segment; frames written unsynced to it are fsynced first (a failure
        stops this writer: ``sync`` then fails their records)."""
        seg, self._segment = self._segment, None
        if seg is None:
            return
        with self._fd_lock:  # a sync under way finishes its fsync on this descriptor first
            try:
                if seg.unsynced:
                    os.fsync(seg.fd)
            except OSError as e:
                self._broken = f"fsync failed: {e.strerror}"
                raise
            finally:
                os.close(seg.fd)


def recover_head(inc_dir: Path, hint: int = 0) -> tuple[int, int, bytes]:
    """(newest file number, last seq, last hash), after setting aside any torn tail.

    ``hint``: a file number known to exist (the caller's last segment): the newest file is
    found from there up, without listing a directory that grows by a file per segment.
    """
    for file in _newest_first(inc_dir, hint):
        buf = read_file(file)
        last: framing.Frame | None = None
        for item in framing.scan(buf):
            if isinstance(item, framing.Frame):
                last = item
        end = last.end if last else 0
        if end < len(buf):
            _set_aside(inc_dir, file.path, buf, end)
        if last is not None:
            _rewrite(file.path, buf[:end])
            fields = last.fields
            return file.number, fields["seq"], last.hash
        file.path.unlink()  # nothing whole in it; its bytes are in torn-*.bin
        fsync_dir(inc_dir)
    return 0, 0, GENESIS


def _rewrite(path: Path, whole: bytes) -> None:
    """Write the frames a new segment will chain after again, and fsync them.

    Why: after a failed fsync (another writer's, maybe a dead process's) the kernel marks
    the pages clean: the frames stay readable from the page cache but are not on the disk,
    nothing writes them again, and once the pages are evicted the file reads zeros there.
    A segment chained after them would follow a hole (``verify``: damaged frame, seq
    missing). Writing the same bytes dirties the pages, so this fsync makes them durable or
    fails (OSError: no segment is started). Costs one write of the newest file per segment
    start, which reads it whole already.
    """
    fd = os.open(path, os.O_WRONLY)
    try:
        view, written = memoryview(whole), 0
        while written < len(whole):
            written += os.pwrite(fd, view[written:], written)
        os.fsync(fd)
    finally:
        os.close(fd)


def _newest_first(inc_dir: Path, hint: int) -> Iterator[LogFile]:
    """Log files from the newest down; the directory is listed only below ``hint``.

    Segment numbers are consecutive (a missing one is reported by ``verify``), so the newest
    is the first number above ``hint`` whose successor does not exist.
    """
    if hint < 1 or not _log_path(inc_dir, hint).exists():
        yield from reversed(log_files(inc_dir))
        return
    newest = hint
    while _log_path(inc_dir, newest + 1).exists():
        newest += 1
    for number in range(newest, hint - 1, -1):
        path = _log_path(inc_dir, number)
        with suppress(FileNotFoundError):
            yield LogFile(number, path, path.stat().st_size)
    yield from reversed([f for f in log_files(inc_dir) if f.number < hint])


def _log_path(inc_dir: Path, number: int) -> Path:
    return inc_dir / f"log-{number:08d}.bin"


def _set_aside(inc_dir: Path, path: Path, buf: bytes, end: int) -> None:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    torn = inc_dir / f"torn-{stamp}.bin"
    fd = os.open(torn, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        write_all(fd, buf[end:])
        os.fsync(fd)
    finally:
        os.close(fd)
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, end)
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(inc_dir)


def _build(
    seq: int, prev: bytes, kind: str, data: dict, mac_key: bytes
) -> tuple[bytes, bytes, bytes]:
    body = framing.body(seq, prev.hex(), kind, utc_now(), data)
    mac = frame_mac(mac_key, body)
    return body, mac, chain_hash(prev, body, mac)


@contextmanager
def _flock(fd: int, how: int) -> Iterator[None]:
    fcntl.flock(fd, how)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


@contextmanager
def _locked(inc_dir: Path, how: int) -> Iterator[None]:
    fd = os.open(inc_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        with _flock(fd, how):
            yield
    finally:
        os.close(fd)
