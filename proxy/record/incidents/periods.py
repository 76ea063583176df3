"""Data-key periods: one random AES key per UTC day (and per writer), sealed to reviewers.

    period = Period.start(keyring, day="2025-03-01")   # writes datakeys/<id>.sealed, fsynced
    period.frame_data()    # what the log records: id, day, key id, SHA-256 of the sealed key
    data_key = open_period_key(data_dir, period_id, key_id, private_keys)   # reviewers only

Sealed data keys live in their own files, not in the append-only log, so retention can
destroy them (``shred``) without rewriting the log; the log keeps their SHA-256 so a
sealed key that vanishes without a purge record is reported by ``verify``. Shredding
overwrites then unlinks: copies in backups, snapshots or SSD spare blocks survive, and
whoever has such a copy plus the reviewer private key can still read that period.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import x25519

from proxy.errors import IncidentLogError, KeyStoreError, UsageError
from proxy.record.incidents import envelope
from proxy.record.incidents.files import fsync_dir
from proxy.record.incidents.keys import Keyring


def datakeys_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "incidents" / "datakeys"


def period_info(period_id: str) -> bytes:
    return f"baomi data key {period_id}".encode()


@dataclass(frozen=True, slots=True)
class Period:
    id: str  # "2025-03-01-1f2e3d4c"
    day: str  # UTC day, "2025-03-01"
    key_id: str  # reviewer key the data key is sealed to
    sealed_sha256: str
    key: bytes = field(repr=False)  # the data key: in memory for this period only

    @classmethod
    def start(cls, data_dir: Path, keyring: Keyring, day: str) -> Period:
        period_id = f"{day}-{uuid.uuid4().hex[:8]}"
        key = envelope.new_data_key()
        sealed = envelope.seal(keyring.current, key, period_info(period_id))
        _write_sealed(datakeys_dir(data_dir), period_id, sealed)
        return cls(period_id, day, keyring.current_id, hashlib.sha256(sealed).hexdigest(), key)

    def frame_data(self) -> dict:
        return {
            "period": self.id,
            "day": self.day,
            "key_id": self.key_id,
            "sealed_sha256": self.sealed_sha256,
        }


def sealed_path(data_dir: Path, period_id: str) -> Path:
    if "/" in period_id or period_id.startswith("."):
        raise UsageError("malformed period id")
    return datakeys_dir(data_dir) / f"{period_id}.sealed"


def open_period_key(
    data_dir: Path, period_id: str, key_id: str, private_keys: dict[str, x25519.X25519PrivateKey]
) -> bytes:
    """The period's data key, unsealed with the reviewer key it was sealed to."""
    path = sealed_path(data_dir, period_id)
    if not path.exists():
        raise KeyStoreError(f"period {period_id}: data key destroyed (purged) or missing")
    if key_id not in private_keys:
        raise KeyStoreError(f"period {period_id} is sealed to reviewer key {key_id}; pass that key")
    return envelope.unseal(private_keys[key_id], path.read_bytes(), period_info(period_id))


def shred(data_dir: Path, period_id: str) -> bool:
    """Overwrite and delete a sealed data key; False if it was already gone."""
    path = sealed_path(data_dir, period_id)
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        return False
    try:
        os.write(fd, bytes(os.fstat(fd).st_size))
        os.fsync(fd)
    finally:
        os.close(fd)
    path.unlink()
    fsync_dir(path.parent)
    return True


def _write_sealed(directory: Path, period_id: str, sealed: bytes) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(directory / f"{period_id}.sealed", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, sealed)
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_dir(directory)
    except OSError as e:
        raise IncidentLogError(f"cannot store the period data key: {e.strerror}") from e
