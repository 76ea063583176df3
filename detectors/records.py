"""Customer records: count people, not matches.

    group([Finding("PERSON", .., "json:$.customers[3].name", ..),
           Finding("PHONE_NUMBER", .., "json:$.customers[3].phone", ..),
           Finding("PHONE_NUMBER", .., "json:$.customers[4].phone", ..)])
      -> (CustomerRecord("json:$.customers[3]", Counter({"PERSON": 1, "PHONE_NUMBER": 1})),
          CustomerRecord("json:$.customers[4]", Counter({"PHONE_NUMBER": 1})))

Findings that belong together form one record, keyed by their location
(``record_key``): one JSON array element or data-keyed object (``[3]``, ``{3}``), one
CSV/XLSX row (``:row12``, ``!row7``), one JSON document, one form, one query string. In
free text (a text body, a multipart text part, a PDF page) findings of one segment are
grouped by proximity: a new record starts after a gap of more than ``GAP`` characters or
when an entity the current record already holds comes again (the next person's phone).

A record is a customer record when it identifies someone: it holds an identifying
entity (phone, e-mail, ID or passport number, card, IBAN, an exact customer match), or
a person's name together with other personal data. The same person seen twice (the
phone in the URL and in the body) counts once: a record whose identifying values all
appear in another record is dropped.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from detectors.dictionary import value_form
from detectors.model import Finding

IDENTIFYING = frozenset(
    {
        "PHONE_NUMBER",
        "EMAIL_ADDRESS",
        "CN_RESIDENT_ID",
        "CN_PASSPORT",
        "CREDIT_CARD",
        "IBAN_CODE",
        "CUSTOMER_RECORD",
    }
)
# Not about a person: a company code, a machine address, a document label.
NOT_PERSONAL = frozenset({"CN_USCC", "IP_ADDRESS", "CONFIDENTIAL_MARKER"})
GAP = 200  # characters between two findings of one free-text record, at most

# One element of a list of records: "[3]", a data-valued JSON key "{3}", a table row.
_ELEMENT = re.compile(r"\[\d+\]|\{\d+\}|[:!]row\d+")
_FIELDS = ("json:$", "form:", "query:")


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    """One person's data in a request. Only entity names, scores and hashes: no values."""

    key: str  # "json:$.customers[3]", "multipart:orders.csv:row12", "body@2"
    entities: Counter[str]  # findings per entity; read-only by convention
    best: Mapping[str, float] = field(default_factory=dict)  # highest score per entity
    identifiers: frozenset[bytes] = frozenset()  # hashes of the values that identify

    def has_any(self, entities: frozenset[str], min_score: float = 0.0) -> bool:
        return any(self.best.get(e, -1.0) >= min_score for e in entities)


def record_key(location: str) -> str | None:
    """The record a location belongs to; None for free text (grouped by proximity).

    >>> record_key("json:$.customers[3].phone"), record_key("json:$.customer.phone")
    ('json:$.customers[3]', 'json:$')
    >>> record_key("multipart:orders.csv:row12"), record_key("form:mobile")
    ('multipart:orders.csv:row12', 'form:')
    """
    elements = list(_ELEMENT.finditer(location))
    if len(elements) > 1 and elements[-1].end() == len(location) and location.endswith("]"):
        elements.pop()  # a scalar in a list inside a record: {"phones": ["138..", "139.."]}
    if elements:
        return location[: elements[-1].end()]
    at = max(location.rfind(kind) + len(kind) if kind in location else -1 for kind in _FIELDS)
    return location[:at] if at > 0 else None


def group(findings: Sequence[Finding]) -> tuple[CustomerRecord, ...]:
    """Customer records in the order first seen, one per person (see module docstring)."""
    buckets: dict[str, list[Finding]] = {}
    for key, members in _grouped(findings):
        buckets.setdefault(key, []).extend(members)
    records = [_record(key, members) for key, members in buckets.items()]
    return _distinct_people([r for r in records if _identifies(r.entities)])


def _grouped(findings: Sequence[Finding]) -> list[tuple[str, list[Finding]]]:
    text: dict[tuple[int, str], list[Finding]] = {}
    out: list[tuple[str, list[Finding]]] = []
    for finding in findings:
        if finding.entity in NOT_PERSONAL:
            continue
        key = record_key(finding.location)
        if key is None:
            text.setdefault((finding.segment, finding.location), []).append(finding)
        else:
            out.append((key, [finding]))
    for (segment, location), members in text.items():
        for n, window in enumerate(_windows(members)):
            out.append((f"{location}#{segment}@{n}", window))
    return out


def _windows(findings: list[Finding]) -> list[list[Finding]]:
    windows: list[list[Finding]] = []
    end = -GAP - 1
    for finding in sorted(findings, key=lambda f: (f.start, f.end)):
        held = {f.entity for f in windows[-1]} if windows else set()
        if finding.start - end > GAP or finding.entity in held:
            windows.append([])
        windows[-1].append(finding)
        end = max(end, finding.end)
    return windows


def _record(key: str, members: list[Finding]) -> CustomerRecord:
    entities = Counter(f.entity for f in members)
    best: dict[str, float] = {}
    for f in members:
        best[f.entity] = max(best.get(f.entity, 0.0), f.score)
    strong = [f for f in members if f.entity in IDENTIFYING] or members
    identifiers = frozenset(_digest(value_form(f.value)) for f in strong)
    return CustomerRecord(key, entities, MappingProxyType(best), identifiers)


def _identifies(entities: Counter[str]) -> bool:
    if not IDENTIFYING.isdisjoint(entities):
        return True
    return "PERSON" in entities and len(entities) > 1


def _distinct_people(records: list[CustomerRecord]) -> tuple[CustomerRecord, ...]:
    """Drop records whose identifying values all appear in a record that is kept."""
    order = sorted(range(len(records)), key=lambda i: -len(records[i].identifiers))
    by_value: dict[bytes, list[CustomerRecord]] = {}
    kept: set[int] = set()
    for i in order:
        record = records[i]
        anchor = min(record.identifiers)
        if any(record.identifiers <= other.identifiers for other in by_value.get(anchor, ())):
            continue
        kept.add(i)
        for value in record.identifiers:
            by_value.setdefault(value, []).append(record)
    return tuple(records[i] for i in sorted(kept))


def _digest(value: str) -> bytes:
    # Records live next to decisions and may be logged by mistake: hashes, not values.
    return hashlib.blake2b(value.encode(), digest_size=8).digest()
