"""The newest segment's writing state, shared in memory by every writer process of one log.

    head = SharedHead.join(Path("var/incidents"))   # under the log's lock; None: not shareable
    state = head.read()                             # None if empty or half-written
    head.write(HeadState(number, size, seq, start_seq, since_checkpoint, hash, mac_key))
    head.leave()                                    # under the log's lock; the last one wipes it

Why: every frame extends one chain, so a writer may append only to the newest segment, and
only with that segment's current forward-secure MAC key. Held by one process alone, the key
makes every other process start a new segment (a file, a sealed key, two more fsyncs) each
time writers alternate: with 2 processes that cut incident writes to a quarter and left a
file per incident. Shared, all writers extend the newest segment and a new one starts only
when a writer starts (or finds the state stale).

Where: a 0600 file in ``/dev/shm`` (tmpfs: memory, never the disk), named after the log
directory's device and inode. The key in it is overwritten in place by each append, as the
key in a writer's memory was: whoever reads it at record j learns k_j, as someone who takes
over a writer process would, and no earlier key. The last writer to leave wipes and removes
it; a writer that joins when no other is alive wipes it too (a fresh start, fresh keys).
Someone else's file under that name (another owner, wider mode, not a regular file) is not
used: the log then works as before, one segment per writer turn.

The state is one fixed-size record with a CRC, written with one ``pwrite`` only after the
frame it describes is written (and fsynced, unless it came from ``append_unsynced``: the
frame is then in the page cache, which outlives a killed writer, and a machine crash wipes
``/dev/shm`` too); every reader also checks it against the file (newest, same size).
Anything that does not match (a writer killed between its write and its ``pwrite``, a
half-written record, a torn tail) makes the next writer start a new segment the usual way.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import stat
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

SHM = Path("/dev/shm")  # noqa: S108 - opened O_NOFOLLOW; used only if ours, 0600, regular
_MAGIC = b"BMIHEAD1"
_STATE = struct.Struct("<8s5Q32s32s")
_RECORD = struct.Struct(f"<{_STATE.size}sI")


@dataclass(frozen=True, slots=True)
class HeadState:
    number: int  # segment file number
    size: int  # bytes of whole frames in it
    seq: int  # of its last frame
    start_seq: int  # of its first frame
    since_checkpoint: int  # records since the last checkpoint, over all writers
    hash: bytes  # of its last frame
    mac_key: bytes  # the key for its next frame


class SharedHead:
    def __init__(self, path: Path, fd: int):
        self.path, self.fd = path, fd

    @classmethod
    def join(cls, inc_dir: Path) -> SharedHead | None:
        """Open (or create) the log's shared state; call with the log's lock held."""
        try:
            st = os.stat(inc_dir)
            name = hashlib.sha256(f"{st.st_dev}:{st.st_ino}".encode()).hexdigest()[:32]
            path = SHM / f"baomi-incidents-{name}"
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError:
            return None  # no /dev/shm here: each writer keeps its own segment
        own = os.fstat(fd)
        if own.st_uid != os.geteuid() or own.st_mode & 0o077 or not stat.S_ISREG(own.st_mode):
            os.close(fd)
            return None
        head = cls(path, fd)
        if head._alone():
            head.wipe()  # nobody alive wrote it: keys from a past run are not reused
        fcntl.flock(fd, fcntl.LOCK_SH)  # "a writer is alive" for the lifetime of this one
        return head

    def read(self) -> HeadState | None:
        raw = os.pread(self.fd, _RECORD.size, 0)
        if len(raw) != _RECORD.size:
            return None
        body, crc = _RECORD.unpack(raw)
        if zlib.crc32(body) != crc:
            return None
        magic, number, size, seq, start_seq, since, hash_, key = _STATE.unpack(body)
        if magic != _MAGIC or number < 1:
            return None
        return HeadState(number, size, seq, start_seq, since, hash_, key)

    def write(self, s: HeadState) -> None:
        body = _STATE.pack(_MAGIC, s.number, s.size, s.seq, s.start_seq, s.since_checkpoint,
                           s.hash, s.mac_key)
        if os.pwrite(self.fd, _RECORD.pack(body, zlib.crc32(body)), 0) != _RECORD.size:
            self.wipe()  # never leave half a record that a CRC might accept

    def wipe(self) -> None:
        os.pwrite(self.fd, bytes(_RECORD.size), 0)

    def leave(self) -> None:
        """Stop sharing; the last writer out wipes the key and removes the file."""
        try:
            if self._alone():
                self.wipe()
                self.path.unlink(missing_ok=True)
        finally:
            os.close(self.fd)

    def _alone(self) -> bool:
        """No other writer holds the file (they hold LOCK_SH while alive)."""
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
