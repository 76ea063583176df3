"""``baomi incidents verify``: walk the whole log and say where it was damaged or altered.

    report = verify(Path("var"))                    # framing, chain, checkpoints, data keys
    report = verify(Path("var"), private_keys)      # ... and the forward-secure MACs
    report.ok, report.problems[0].where             # 'seq 17 (log-00000002.bin offset 5310)'

What it finds is what ``log`` promises (see its docstring): flipped bytes (CRC or hash),
deleted / inserted / reordered frames (sequence numbers and hash links), deleted segment
files (numbering gaps), a tail cut before the newest checkpoint, checkpoints whose signature
fails, sealed data keys gone without a purge record, and, with a reviewer key, any frame
whose MAC was not made by the key its segment started with.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519

from proxy.errors import BaomiError
from proxy.record.incidents import envelope, framing, periods
from proxy.record.incidents.keys import checkpoint_public_key
from proxy.record.incidents.log import (
    GENESIS,
    Entry,
    LogFile,
    chain_hash,
    checkpoint_statement,
    frame_mac,
    incidents_dir,
    next_mac_key,
    read_file,
    segment_info,
    snapshot_with_checkpoint,
)


@dataclass(frozen=True, slots=True)
class Problem:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


@dataclass(slots=True)
class Report:
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    records: int = 0
    files: int = 0
    last_seq: int = 0
    checkpoint_seq: int | None = None
    macs_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


class _MacChain:
    """The forward-secure key of one segment, re-derived from its sealed k0."""

    def __init__(self, k0: bytes, start_seq: int):
        self.k0, self.start_seq = k0, start_seq
        self.index, self.key = 0, k0

    def key_for(self, seq: int) -> bytes | None:
        i = seq - self.start_seq
        if i < 0:
            return None
        if i < self.index:
            self.index, self.key = 0, self.k0
        while self.index < i:
            self.key, self.index = next_mac_key(self.key), self.index + 1
        return self.key


class _Walk:
    def __init__(self, data_dir: Path, private_keys: dict[str, x25519.X25519PrivateKey] | None,
                 checkpoint: bytes | None):
        self.data_dir = data_dir
        self.keys = private_keys
        self.report = Report()
        self.last_seq, self.last_hash = 0, GENESIS
        self.last_where = "start of log"
        self.last_kind = ""
        self.mac: _MacChain | None = None
        self.periods: dict[str, str] = {}
        self.purged: set[str] = set()
        self.last_checkpoint_covers = 0
        self.saw_checkpoint = False
        self.seq_hashes_wanted: dict[int, str] = {}
        self.signer = self._signer()
        self.json_checkpoint = self._load_checkpoint_file(checkpoint)

    def problem(self, where: str, what: str) -> None:
        self.report.problems.append(Problem(where, what))

    def _signer(self) -> ed25519.Ed25519PublicKey | None:
        try:
            return checkpoint_public_key(self.data_dir)
        except BaomiError as e:
            self.problem("keys", str(e))
            return None

    def _load_checkpoint_file(self, checkpoint: bytes | None) -> dict | None:
        if checkpoint is None:
            return None
        try:
            cp = json.loads(checkpoint)
            seq, hash_hex = int(cp["seq"]), str(cp["hash"])
        except (ValueError, KeyError, TypeError):
            self.problem("checkpoint.json", "unreadable")
            return None
        if not self._signature_ok(cp):
            self.problem("checkpoint.json", "signature does not verify")
            return None
        self.seq_hashes_wanted[seq] = hash_hex
        return cp

    def _signature_ok(self, statement: dict) -> bool:
        if self.signer is None:
            return False
        try:
            message = checkpoint_statement(
                int(statement["seq"]), str(statement["hash"]), str(statement["time"])
            )
            self.signer.verify(base64.b64decode(statement["signature"]), message)
            return True
        except (InvalidSignature, KeyError, ValueError, TypeError):
            return False

    # -- walking --

    def file(self, file: LogFile, expected_number: int, newest: bool) -> None:
        if file.number != expected_number:
            missing = ", ".join(f"log-{n:08d}.bin" for n in range(expected_number, file.number))
            self.problem(missing, f"log file(s) missing after {self.last_where} (segment deleted)")
        self.mac = None  # a segment's MAC chain never continues into another file
        buf = read_file(file)
        items = list(framing.scan(buf))
        for i, item in enumerate(items):
            if isinstance(item, framing.Damage):
                self.damage(file, item, newest and i == len(items) - 1)
            else:
                self.frame(Entry.of(file, item))

    def damage(self, file: LogFile, item: framing.Damage, at_end: bool) -> None:
        where = f"{file.path.name} offset {item.offset}"
        if at_end and item.incomplete:
            self.report.notes.append(
                f"{where}: torn tail of {file.size - item.offset} bytes (an unacknowledged write; "
                "the next writer sets it aside)"
            )
            return
        self.problem(where, f"{item.reason}; the record after seq {self.last_seq} is damaged")

    def frame(self, e: Entry) -> None:
        self.report.records += 1
        if chain_hash(bytes.fromhex(e.prev), e.frame.body, e.frame.mac) != e.frame.hash:
            self.problem(e.where, "contents do not match the stored hash (record altered)")
        self.link(e)
        self.last_seq, self.last_hash, self.last_where = e.seq, e.frame.hash, e.where
        self.last_kind = e.kind
        wanted = self.seq_hashes_wanted.get(e.seq)
        if wanted is not None and wanted != e.frame.hash.hex():
            self.problem(e.where, "differs from the record the checkpoint signed")
        getattr(self, f"kind_{e.kind}", self.kind_other)(e)
        self.check_mac(e)

    def link(self, e: Entry) -> None:
        if e.seq > self.last_seq + 1:
            gap = f"{self.last_seq + 1}" + (
                f"..{e.seq - 1}" if e.seq - 1 > self.last_seq + 1 else ""
            )
            self.problem(e.where, f"record(s) seq {gap} missing before it (deleted)")
        elif e.seq <= self.last_seq:
            self.problem(e.where, f"follows seq {self.last_seq}: record inserted or reordered")
        elif e.prev != self.last_hash.hex():
            self.problem(e.where, "does not link to the previous record (altered or replaced)")

    def check_mac(self, e: Entry) -> None:
        if self.mac is None:
            return
        key = self.mac.key_for(e.seq)
        if key is None or frame_mac(key, e.frame.body) != e.frame.mac:
            self.problem(e.where, "MAC does not verify (record forged or altered)")
        else:
            self.report.macs_checked += 1

    # -- per kind --

    def kind_segment(self, e: Entry) -> None:
        if e.frame.offset != 0:
            self.problem(e.where, "segment start inside a file (frames spliced in)")
        self.mac = None
        if self.keys is None:
            return
        key_id = e.data.get("key_id", "")
        if key_id not in self.keys:
            self.report.notes.append(
                f"{e.file.path.name}: MACs not checked (sealed to key {key_id})"
            )
            return
        try:
            k0 = envelope.unseal(
                self.keys[key_id],
                base64.b64decode(e.data["sealed_key"]),
                segment_info(e.file.number),
            )
        except (BaomiError, KeyError, ValueError):
            self.problem(
                e.where, "segment key does not open with the reviewer key (forged segment)"
            )
            return
        self.mac = _MacChain(k0, e.seq)

    def kind_checkpoint(self, e: Entry) -> None:
        self.saw_checkpoint = True
        d = e.data
        self.last_checkpoint_covers = max(self.last_checkpoint_covers, int(d.get("seq", 0)))
        if not self._signature_ok(d):
            self.problem(e.where, "checkpoint signature does not verify")
        elif d.get("seq") != e.seq - 1 or d.get("hash") != e.prev:
            self.problem(e.where, "checkpoint does not cover the record before it")

    def kind_period(self, e: Entry) -> None:
        self.periods[e.data.get("period", "")] = e.data.get("sealed_sha256", "")

    def kind_purge(self, e: Entry) -> None:
        self.purged.update(e.data.get("periods", []))

    def kind_other(self, e: Entry) -> None:
        pass  # incident, access, triage, rotation: covered by chain and MAC alone

    # -- after the walk --

    def finish(self) -> Report:
        r = self.report
        r.last_seq = self.last_seq
        cp = self.json_checkpoint
        if cp is None and self.saw_checkpoint:
            self.problem("checkpoint.json", "missing, but the log holds checkpoints (deleted?)")
        if cp is not None:
            r.checkpoint_seq = cp["seq"]
            if cp["seq"] > self.last_seq:
                self.problem(
                    self.last_where,
                    f"log ends here but the last checkpoint covers seq {cp['seq']} "
                    "(tail truncated)",
                )
            elif cp["seq"] < self.last_checkpoint_covers:
                self.problem("checkpoint.json", "older than the log's newest checkpoint (replaced)")
            after = self.last_seq - cp["seq"] - (self.last_kind == "checkpoint")
            if after > 0:
                r.notes.append(
                    f"{after} record(s) after the last checkpoint (seq {cp['seq']}) "
                    "are not yet covered by a signature"
                )
        self.check_data_keys()
        for torn in sorted(incidents_dir(self.data_dir).glob("torn-*.bin")):
            r.notes.append(
                f"{torn.name}: torn tail set aside after a crash ({torn.stat().st_size} bytes)"
            )
        return r

    def check_data_keys(self) -> None:
        for period_id, digest in self.periods.items():
            path = periods.sealed_path(self.data_dir, period_id)
            if period_id in self.purged:
                if path.exists():
                    self.report.notes.append(
                        f"period {period_id}: purged but key file remains; run purge again"
                    )
                continue
            if not path.exists():
                self.problem(
                    f"period {period_id}", "sealed data key missing without a purge record"
                )
            elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
                self.problem(f"period {period_id}", "sealed data key replaced (hash differs)")


def verify(
    data_dir: Path, private_keys: dict[str, x25519.X25519PrivateKey] | None = None
) -> Report:
    # One moment for both: a writer's checkpoint between the two would look like tampering.
    files, checkpoint = snapshot_with_checkpoint(incidents_dir(data_dir))
    walk = _Walk(Path(data_dir), private_keys, checkpoint)
    walk.report.files = len(files)
    expected = 1
    for i, file in enumerate(files):
        walk.file(file, expected, newest=i == len(files) - 1)
        expected = file.number + 1
    return walk.finish()
