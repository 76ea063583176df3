"""`baomi edm build`: a customer CSV -> the Exact Data Match index (see detectors/edm.py).

    report = build_index(Path("customers.csv"), key, Path("/var/lib/baomi/edm/c.edm"))
    report.rows, report.entries  ->  (1000000, 5999214)

The CSV is read and checked in this process (a bad row stops the build with its line number);
normalising and HMAC-ing the cells, the costly part, runs on every core in batches of BATCH
rows, at most two batches per worker in flight so memory stays bounded. The index is written
to a temporary file and renamed into place: a reader never sees half an index.
"""

from __future__ import annotations

import array
import collections
import csv
import itertools
import json
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detectors.edm import (
    FORMAT,
    KINDS,
    MAGIC,
    TAG_BYTES,
    EdmError,
    Keyed,
    align,
    key_id,
    normalise,
)


@dataclass(frozen=True, slots=True)
class BuildReport:
    rows: int
    entries: int
    columns: tuple[str | None, ...]  # kind per CSV column, None: not indexed
    skipped_cells: int  # empty or too short to identify anyone


HEADER_WORDS = {
    "name": ("姓名", "名字", "客户名", "联系人", "收件人", "name", "fullname", "customer"),
    "phone": ("手机", "电话", "联系方式", "mobile", "phone", "tel", "cell"),
    "id_no": (
        "身份证",
        "证件",
        "护照",
        "id_no",
        "idno",
        "id_card",
        "idcard",
        "passport",
        "national_id",
        "ssn",
    ),
    "email": ("邮箱", "邮件", "email", "e-mail", "mail"),
    "card": ("卡号", "银行卡", "card", "account_no", "pan"),
    "address": ("地址", "住址", "address", "addr"),
}


def kinds_from_header(header: Sequence[str]) -> tuple[str | None, ...]:
    """('客户姓名', '手机号', 'notes') -> ('name', 'phone', None); the first matching kind wins."""
    kinds: list[str | None] = []
    for cell in header:
        label = cell.strip().casefold().replace(" ", "_")
        # Check id/email/card/address before name and phone: "id_card_name"-like labels are rare,
        # "customer_email" is not.
        order = ("id_no", "email", "card", "address", "phone", "name")
        kinds.append(next((k for k in order if any(w in label for w in HEADER_WORDS[k])), None))
    return tuple(kinds)


def parse_columns(spec: str) -> tuple[str | None, ...]:
    """'name,phone,-,email' -> ('name', 'phone', None, 'email'); '-' skips a column."""
    kinds: list[str | None] = []
    for word in spec.split(","):
        word = word.strip().lower()
        if word in ("-", "skip", ""):
            kinds.append(None)
        elif word in KINDS:
            kinds.append(word)
        else:
            raise EdmError(f"unknown column kind {word!r}; expected one of {', '.join(KINDS)} or -")
    if not any(kinds):
        raise EdmError("--columns names no column to index")
    return tuple(kinds)


def build_index(
    csv_path: Path,
    key: bytes,
    out: Path,
    columns: tuple[str | None, ...] | None = None,
    *,
    header: bool = True,
    encoding: str = "utf-8-sig",
    workers: int | None = None,
) -> BuildReport:
    """Read the customer CSV, write the index atomically. Raises EdmError on bad input."""
    with _open_csv(csv_path, encoding) as handle:
        reader = csv.reader(handle, strict=True)  # a stray quote is an error, not a cell
        first = _next_row(reader, csv_path)
        if first is None:
            raise EdmError(f"{csv_path}: empty file; expected a CSV of customers")
        if columns is None:
            if not header:
                raise EdmError("--no-header needs --columns (the column kinds)")
            columns = kinds_from_header(first)
            if not any(columns):
                raise EdmError(
                    f"{csv_path}:1: no column header names a known kind; expected headers such as "
                    "姓名/name, 手机/phone, 身份证/id_no, 邮箱/email, 卡号/card, 地址/address, "
                    "or --columns"
                )
        elif header and len(first) != len(columns):
            raise EdmError(
                f"{csv_path}:1: the header has {len(first)} cells but --columns names "
                f"{len(columns)}; expected one kind (or -) per column"
            )
        batches = _Batches(reader, columns, csv_path, [] if header else [first])
        tags, rows, skipped = _tag_all(batches, columns, key, workers)
    if not len(tags):
        raise EdmError(f"{csv_path}: no cell could be indexed; expected customer rows")
    order = np.argsort(tags, kind="stable")
    meta = {
        "format": FORMAT,
        "tag_bytes": TAG_BYTES,
        "key_id": key_id(key),
        "rows": batches.count,
        "entries": len(tags),
        "columns": sorted({c for c in columns if c}),
    }
    _write_index(out, meta, tags[order], rows[order])
    return BuildReport(batches.count, len(tags), columns, skipped)


BATCH = 20_000  # rows per unit of work; two in flight per worker bounds memory


class _Batches:
    """(first row number, cells of the indexed columns) per BATCH rows; checks every row."""

    def __init__(self, reader, columns: tuple[str | None, ...], path: Path, pending: list):
        self.reader, self.path, self.pending = reader, path, pending
        self.width = len(columns)
        self.wanted = [i for i, kind in enumerate(columns) if kind]
        self.count = 0  # customer rows seen

    def __iter__(self) -> Iterator[tuple[int, list[tuple[str, ...]]]]:
        batch: list[tuple[str, ...]] = []
        for row in self._rows():
            if len(row) != self.width:
                if not any(cell.strip() for cell in row):
                    continue  # a blank line
                raise EdmError(
                    f"{self.path}:{self.reader.line_num}: {len(row)} cells, expected {self.width}; "
                    "quote cells that contain commas, or fix --columns"
                )
            self.count += 1
            batch.append(tuple(row[i] for i in self.wanted))
            if len(batch) == BATCH:
                yield self.count - len(batch) + 1, batch
                batch = []
        if batch:
            yield self.count - len(batch) + 1, batch

    def _rows(self) -> Iterator[list[str]]:
        yield from self.pending
        while True:
            try:
                row = next(self.reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as e:
                raise EdmError(
                    f"{self.path}:{self.reader.line_num + 1}: {_csv_problem(e)}"
                ) from None
            yield row


def _tag_all(
    batches: _Batches, columns: tuple[str | None, ...], key: bytes, workers: int | None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Fingerprints of every batch: in this process for one batch, else on every core."""
    kinds = tuple(kind for kind in columns if kind)
    parts: list[tuple[bytes, bytes, int]] = []
    feed = iter(batches)
    head = list(itertools.islice(feed, 2))
    if len(head) < 2 or workers == 1:
        keyed = Keyed(key)
        parts = [
            _tag_batch(keyed, kinds, start, cells) for start, cells in itertools.chain(head, feed)
        ]
    else:
        size = workers or os.cpu_count() or 1
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            size, context, initializer=_worker_init, initargs=(key, kinds)
        ) as pool:
            pending: collections.deque = collections.deque()
            for start, cells in itertools.chain(head, feed):
                pending.append(pool.submit(_worker_batch, start, cells))
                if len(pending) >= 2 * size:
                    parts.append(pending.popleft().result())
            parts.extend(f.result() for f in pending)
    tags = np.frombuffer(b"".join(p[0] for p in parts), dtype="<u8")
    rows = np.frombuffer(b"".join(p[1] for p in parts), dtype=np.uint32)
    return tags, rows, sum(p[2] for p in parts)


def _tag_batch(
    keyed: Keyed, kinds: tuple[str, ...], start: int, cells: list[tuple[str, ...]]
) -> tuple[bytes, bytes, int]:
    """Tags (8 bytes each, as ``Keyed.tag``) and row numbers of one batch; the hot loop of a
    build, so the HMAC is written out here rather than called per cell."""
    tags = bytearray()
    rows = array.array("I")
    skipped = 0
    inner_pad, outer_pad = keyed.pads()
    prefixes = [kind.encode() + b"\0" for kind in kinds]
    for number, row in enumerate(cells, start):
        for kind, prefix, cell in zip(kinds, prefixes, row, strict=True):
            value = normalise(kind, cell) if cell else None
            if value is None:
                skipped += 1
                continue
            inner = inner_pad.copy()
            inner.update(prefix + value.encode())
            outer = outer_pad.copy()
            outer.update(inner.digest())
            tags += outer.digest()[:TAG_BYTES]
            rows.append(number)
    return bytes(tags), rows.tobytes(), skipped


_WORKER: tuple[Keyed, tuple[str, ...]] | None = None


def _worker_init(key: bytes, kinds: tuple[str, ...]) -> None:
    global _WORKER
    _WORKER = (Keyed(key), kinds)


def _worker_batch(start: int, cells: list[tuple[str, ...]]) -> tuple[bytes, bytes, int]:
    assert _WORKER is not None, "worker not initialised"
    return _tag_batch(_WORKER[0], _WORKER[1], start, cells)


def _open_csv(path: Path, encoding: str):
    try:
        return open(path, encoding=encoding, newline="", errors="strict")
    except (OSError, LookupError) as e:
        raise EdmError(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None


def _next_row(reader: Iterator[list[str]], path: Path) -> list[str] | None:
    try:
        return next(reader, None)
    except (csv.Error, UnicodeDecodeError) as e:
        raise EdmError(f"{path}:1: {_csv_problem(e)}") from None


def _csv_problem(e: Exception) -> str:
    if isinstance(e, UnicodeDecodeError):
        return "not valid text in this encoding; expected UTF-8 (or pass --encoding gb18030)"
    return f"not valid CSV ({e}); expected comma-separated cells, quoted when they hold commas"


def _write_index(out: Path, meta: dict, tags: np.ndarray, rows: np.ndarray) -> None:
    header = json.dumps(meta, sort_keys=True).encode()
    start = align(len(MAGIC) + 4 + len(header))
    temporary = out.with_name(out.name + ".tmp")
    try:
        with open(temporary, "wb") as f:
            os.fchmod(f.fileno(), 0o640)
            f.write(MAGIC + len(header).to_bytes(4, "little") + header)
            f.write(b"\0" * (start - f.tell()))
            f.write(tags.astype("<u8").tobytes())
            f.write(rows.astype("<u4").tobytes())
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, out)
    except OSError as e:
        raise EdmError(f"cannot write index {out}: {e.strerror}") from None
