"""Exact Data Match: is this the phone number AND the name of one of OUR customers?

    new_key(key_path)                                 # 32 random bytes, kept apart
    build_index(csv_path, key, out_path)              # detectors.edm_build: no cleartext
    index = EdmIndex.open(out_path, key_path)         # each detector worker, at start
    index.match(segments, findings)
      -> [Finding("CUSTOMER_RECORD", 1.0, .. span of the phone ..)]

The index holds, for every non-empty cell of the customer table, the first 8 bytes of
HMAC-SHA256(key, column kind + NUL + normalised cell) next to the row number, sorted so
that a lookup is a binary search over a memory-mapped array (workers share the pages).
8 bytes: with 10 million entries a random value collides with probability ~5e-13 per
lookup, and a match also needs a second field of the same row, so longer tags only cost
memory. Without the key, the fingerprints cannot be tested against guesses (see EDM.md).

A CUSTOMER_RECORD is raised on a strong field (phone, e-mail, ID/passport number, card)
that is in the index when a second field of the same row is in the request near it: another
finding of the same record (``detectors.records.record_key``) or a candidate word around it
(cells between delimiters, 2-4 character Chinese words), which catches an export row
"张伟,13800138000" where 张伟 was not found as a PERSON. Only strong-field findings cost an
HMAC; a request without one never touches the index.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import mmap
import os
import re
import secrets
import stat
import unicodedata
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from detectors.errors import EdmError
from detectors.model import Finding, Segment
from detectors.records import GAP, record_key

ENTITY = "CUSTOMER_RECORD"
KEY_BYTES = 32
TAG_BYTES = 8
MAGIC = b"BAOMIEDM"
FORMAT = 1
KINDS = ("name", "phone", "id_no", "email", "card", "address")
STRONG = {
    "PHONE_NUMBER": "phone",
    "EMAIL_ADDRESS": "email",
    "CN_RESIDENT_ID": "id_no",
    "CN_PASSPORT": "id_no",
    "CREDIT_CARD": "card",
}
SECOND = {**STRONG, "PERSON": "name", "ADDRESS": "address"}  # findings that can be field two
NEAR = 100  # characters either side of a strong field searched for candidate words
MAX_CANDIDATES = 512  # per strong field: bounds the HMACs a hostile request can cause
MAX_ROWS_PER_VALUE = 10_000  # a "strong" value shared by more rows than this identifies nobody

_CELL = re.compile(r"[^,;\t|\r\n\"'，；、。:：()（）\[\]{}<>]+")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]{2,}")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'.-]*")
_SPACE = re.compile(r"\s+")
_NOT_DIGIT = re.compile(r"[^0-9]")
_NOT_ALNUM = re.compile(r"[\W_]")


# ---------------------------------------------------------------- normalising cells


def normalise(kind: str, value: str) -> str | None:
    """The form a cell is fingerprinted in; None when it is too short to identify anyone.

    >>> normalise("phone", "+86 138-0013-8000"), normalise("id_no", "11010519491231002x")
    ('13800138000', '11010519491231002X')
    >>> normalise("name", " 张 伟 "), normalise("email", "Li.Lei@Example.COM")
    ('张伟', 'li.lei@example.com')
    """
    text = value if value.isascii() else unicodedata.normalize("NFKC", value)
    if kind == "phone":
        return _phone(_NOT_DIGIT.sub("", text))
    if kind == "card":
        digits = _NOT_DIGIT.sub("", text)
        return digits if 12 <= len(digits) <= 19 else None
    if kind == "id_no":
        ident = _NOT_ALNUM.sub("", text).upper()
        return ident if len(ident) >= 6 else None
    squeezed = _SPACE.sub("", text).casefold()
    if kind == "email":
        return squeezed if "@" in squeezed[1:-1] else None
    return squeezed if len(squeezed) >= (2 if kind == "name" else 4) else None  # name, address


def _phone(digits: str) -> str | None:
    """Domestic form: +86/0086 dropped; a landline gets its trunk 0 back (as value_form)."""
    for prefix in ("0086", "86"):
        rest = digits[len(prefix) :]
        if digits.startswith(prefix) and 9 <= len(rest) <= 11 and rest[0] != "0":
            if (rest[0] == "1" and len(rest) == 11) or rest[:3] in ("400", "800"):
                digits = rest
            elif len(rest) <= 10:
                digits = "0" + rest
            break
    return digits if len(digits) >= 7 else None


class Keyed:
    """HMAC-SHA256 (RFC 2104) with the padded key hashed once: the same bytes as
    ``hmac.digest(key, message, "sha256")`` at about half the cost per short message."""

    def __init__(self, key: bytes):
        block = key.ljust(64, b"\0")  # keys are 32 bytes, shorter than SHA-256's block
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def __repr__(self) -> str:
        return "Keyed(<key>)"

    def pads(self) -> tuple[Any, Any]:
        """The hashed inner and outer pads, for loops that inline ``tag``."""
        return self._inner, self._outer

    def tag(self, kind: str, normalised: str) -> int:
        # The kind is part of the message: a name can never match a phone column.
        inner = self._inner.copy()
        inner.update(kind.encode() + b"\0" + normalised.encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return int.from_bytes(outer.digest()[:TAG_BYTES], "little")


def fingerprint(key: bytes, kind: str, normalised: str) -> int:
    """HMAC-SHA256(key, kind NUL value), first 8 bytes as a little-endian integer."""
    digest = hmac.digest(key, kind.encode() + b"\0" + normalised.encode(), "sha256")
    return int.from_bytes(digest[:TAG_BYTES], "little")


def key_id(key: bytes) -> str:
    """Tells whether an index was built with this key, without revealing the key."""
    return hmac.digest(key, b"baomi-edm key id", "sha256")[:8].hex()


# ---------------------------------------------------------------- key file


def new_key(path: Path) -> None:
    """Write 32 random bytes to a new file, mode 0600; never overwrite a key."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise EdmError(f"{path} exists; expected a new file (a key is never overwritten)") from None
    except OSError as e:
        raise EdmError(f"cannot create key file {path}: {e.strerror}") from None
    with os.fdopen(fd, "wb") as out:
        out.write(secrets.token_bytes(KEY_BYTES))


def read_key(path: Path, index: Path | None = None) -> bytes:
    """The key, after checking it is private (0600 or stricter) and kept apart from ``index``."""
    try:
        info = path.stat()
    except OSError as e:
        raise EdmError(f"cannot read EDM key file {path}: {e.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise EdmError(f"EDM key file {path} is not a regular file")
    if info.st_mode & 0o077:
        raise EdmError(
            f"EDM key file {path} has mode {stat.S_IMODE(info.st_mode):04o}; expected 0600 or "
            f"stricter (chmod 600 {path})"
        )
    if index is not None and path.resolve().parent == index.resolve().parent:
        raise EdmError(
            f"EDM key file {path} is in the same directory as the index {index}; expected it "
            "kept apart (whoever has both can brute-force phone numbers, see detectors/EDM.md)"
        )
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise EdmError(f"EDM key file {path} holds {len(key)} bytes; expected {KEY_BYTES}")
    return key


def align(n: int) -> int:
    return (n + 7) // 8 * 8


# ---------------------------------------------------------------- using


class EdmIndex:
    """A memory-mapped index and its key. One per detector worker."""

    def __init__(self, tags: np.ndarray, rows: np.ndarray, key: bytes, meta: dict):
        self._tags, self._rows, self._keyed, self.meta = tags, rows, Keyed(key), meta

    def __repr__(self) -> str:  # the key must never reach a log
        return f"EdmIndex({self.meta.get('rows')} rows, {len(self._tags)} entries)"

    @classmethod
    def open(cls, index: Path, key_file: Path) -> EdmIndex:
        key = read_key(key_file, index)
        try:
            with open(index, "rb") as f:
                mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as e:  # ValueError: an empty file cannot be mapped
            raise EdmError(
                f"cannot read EDM index {index}: {getattr(e, 'strerror', None) or e}"
            ) from None
        meta, start = _header(mapped, index)
        if meta.get("key_id") != key_id(key):
            raise EdmError(f"EDM index {index} was built with another key than {key_file}")
        n = meta["entries"]
        if len(mapped) != start + n * (TAG_BYTES + 4):
            raise EdmError(f"EDM index {index} is truncated or damaged; rebuild it")
        tags = np.frombuffer(mapped, dtype="<u8", count=n, offset=start)
        rows = np.frombuffer(mapped, dtype="<u4", count=n, offset=start + n * TAG_BYTES)
        return cls(tags, rows, key, meta)

    def rows_of(self, kind: str, value: str) -> np.ndarray:
        """Row numbers whose ``kind`` column holds ``value`` (raw; normalised here)."""
        normalised = normalise(kind, value)
        if normalised is None:
            return self._rows[:0]
        tag = np.uint64(self._keyed.tag(kind, normalised))
        low = int(self._tags.searchsorted(tag, "left"))
        high = int(self._tags.searchsorted(tag, "right"))
        return self._rows[low:high]

    def match(self, segments: Sequence[Segment], findings: Sequence[Finding]) -> list[Finding]:
        """CUSTOMER_RECORD findings: strong fields with a second field of the same customer."""
        strong = []
        for finding in findings:
            kind = STRONG.get(finding.entity)
            if kind is not None:
                rows = self.rows_of(kind, finding.value)
                if 0 < len(rows) <= MAX_ROWS_PER_VALUE:
                    strong.append((finding, frozenset(rows.tolist())))
        if not strong:
            return []
        nearby = _Neighbourhood(segments, findings)
        return [
            Finding(ENTITY, 1.0, f.start, f.end, f.location, f.segment, f.value)
            for f, rows in strong
            if self._second_field(f, rows, nearby)
        ]

    def _second_field(self, strong: Finding, rows: frozenset[int], nearby: _Neighbourhood) -> bool:
        own = (STRONG[strong.entity], normalise(STRONG[strong.entity], strong.value))
        for kind, value in nearby.candidates(strong):
            if (kind, normalise(kind, value)) == own:
                continue
            if not rows.isdisjoint(self.rows_of(kind, value).tolist()):
                return True
        return False


def _header(mapped: mmap.mmap, index: Path) -> tuple[dict, int]:
    if mapped[: len(MAGIC)] != MAGIC:
        raise EdmError(f"{index} is not an EDM index; expected a file from `baomi edm build`")
    size = int.from_bytes(mapped[len(MAGIC) : len(MAGIC) + 4], "little")
    try:
        meta = json.loads(mapped[len(MAGIC) + 4 : len(MAGIC) + 4 + size])
    except ValueError:
        raise EdmError(f"EDM index {index} has a damaged header; rebuild it") from None
    if (
        not isinstance(meta, dict)
        or meta.get("format") != FORMAT
        or meta.get("tag_bytes") != TAG_BYTES
    ):
        raise EdmError(f"EDM index {index} has an unsupported format; rebuild it with this version")
    if not isinstance(meta.get("entries"), int) or meta["entries"] < 0:
        raise EdmError(f"EDM index {index} has a damaged header; rebuild it")
    return meta, align(len(MAGIC) + 4 + size)


class _Neighbourhood:
    """What may be the second field of a strong one: findings of its record, words near it."""

    def __init__(self, segments: Sequence[Segment], findings: Sequence[Finding]):
        self.segments, self.findings = segments, findings
        self._records: dict[str, list[int]] | None = None

    def candidates(self, strong: Finding) -> Iterator[tuple[str, str]]:
        key = record_key(strong.location)
        yielded = 0
        for other in self.findings:
            kind = SECOND.get(other.entity)
            if (
                kind is None
                or other is strong
                or (other.start, other.segment) == (strong.start, strong.segment)
            ):
                continue
            if self._together(strong, other, key):
                yield kind, other.value
        for text in self._texts(strong, key):
            for word in _words(text):
                yielded += 2
                if yielded > MAX_CANDIDATES:
                    return
                yield "name", word
                yield "address", word

    @staticmethod
    def _together(a: Finding, b: Finding, key: str | None) -> bool:
        if key is not None:
            return record_key(b.location) == key
        return a.segment == b.segment and abs(a.start - b.start) <= GAP

    def _texts(self, strong: Finding, key: str | None) -> Iterator[str]:
        text = self.segments[strong.segment].text
        yield text[max(0, strong.start - NEAR) : strong.start]
        yield text[strong.end : strong.end + NEAR]
        if key is None:
            return
        for index in self._same_record(key):
            if index != strong.segment:
                yield self.segments[index].text[: 2 * NEAR]

    def _same_record(self, key: str) -> list[int]:
        if self._records is None:
            self._records = {}
            for i, segment in enumerate(self.segments):
                k = record_key(segment.location)
                if k is not None:
                    self._records.setdefault(k, []).append(i)
        return self._records.get(key, [])


def _words(text: str) -> Iterator[str]:
    """Cells between delimiters, Chinese words of 2-4 characters, pairs of Latin words."""
    for cell in _CELL.findall(text):
        cell = cell.strip()
        if 2 <= len(cell) <= 64:
            yield cell
    for run in _CJK_RUN.findall(text):
        for size in (2, 3, 4):
            for i in range(len(run) - size + 1):
                yield run[i : i + size]
    latin = _LATIN_WORD.findall(text)
    for first, second in itertools.pairwise(latin):
        yield f"{first} {second}"
