"""Keep evidence values out of a record's clear fields (path, locations, reason, ...).

Only ``evidence`` is encrypted; every other field of a DecisionRecord is written in clear
(``decisions.jsonl``, incident metadata, the review index). A detected value can reach a
clear field without going through a masked snippet: a resident ID in a REST path, a phone
number used as a query field name (location ``query:13800138000``). For a record whose
path was "/api/customers/11010519491231002X/notes" (the fingerprint is keyed: not a doctest)::

    redact_record(record).path      # -> '/api/customers/11****************#7f3a2c/notes'

A value found in the path that cannot be located in it (odd encoding) withholds the whole
path: failing closed costs a reviewer a URL, not a customer their ID.
"""

from __future__ import annotations

import weakref
from dataclasses import fields, replace
from urllib.parse import unquote

from detectors.mask import mask_value
from proxy.record.decisions import DecisionRecord

PATH_WITHHELD = "[path withheld: it held {entity}]"
_MIN_VALUE = 2  # a two-character Chinese name is still a name


# Fields baomi itself fills (who, when, how it was decided), never from request text: a value
# found in the request that happens to equal one of them (the client's own address in a
# Referer, say) must not blank the audit trail. ``host`` is masked only by values found in a
# host name (location ``host``): a reviewer needs to see where a request went.
_OWN_FIELDS = frozenset({
    "time", "incident_id", "source", "port", "mode", "action", "enforced", "would_be",
    "rule", "policy_hash", "approval", "uninspected", "error_stage", "outcome", "scheme",
    "method", "bytes_inspected", "inspect_seconds", "records",
})


# Clear fields that may hold request text (path and host are handled on their own).
_SCRUBBED = tuple(f.name for f in fields(DecisionRecord)
                  if f.name not in ("evidence", "path", "host") and f.name not in _OWN_FIELDS)


def redact_record(record: DecisionRecord, masks: dict[str, str] | None = None) -> DecisionRecord:
    """The record with every evidence value in its clear fields replaced by its masked form.

    ``masks``: raw value -> masked form (``longest_first``) for every evidence value, when
    the caller has them already (``decision_record`` masks each finding once for ``masked``).
    A record this returns is known redacted (``is_redacted``) until it is replaced.
    """
    if masks is None:
        masks = _masks(record.evidence)
    if not masks:
        return _redacted(record)
    changes: dict[str, object] = {}
    if (path := _path(record, masks)) != record.path:
        changes["path"] = path
    host_masks = _masks(tuple(e for e in record.evidence
                              if isinstance(e, dict) and e.get("location") == "host"))
    if host_masks:
        changes["host"] = scrub(record.host, host_masks)
    for name in _SCRUBBED:
        value = getattr(record, name)
        if value is None or isinstance(value, (bool, int, float)):
            continue  # nothing to scrub in it
        clean = _scrub_value(value, masks)
        if clean != value:
            changes[name] = clean
    if not changes:  # the values were only in the body (most records): no copy of 30 fields
        return _redacted(record)
    return _redacted(replace(record, **changes))  # type: ignore[arg-type]


# Records redact_record returned, by identity (a weak reference each: nothing is kept alive).
# Identity, not a flag on the record: ``replace`` makes a new record, and a field changed
# after redaction could hold a value again, so a replaced record is redacted anew.
_REDACTED: weakref.WeakValueDictionary[int, DecisionRecord] = weakref.WeakValueDictionary()


def is_redacted(record: DecisionRecord) -> bool:
    """Did ``redact_record`` return this very object? Then its clear fields need no second pass
    (the incident store's metadata is taken from the record the decision log wrote)."""
    return _REDACTED.get(id(record)) is record


def _redacted(record: DecisionRecord) -> DecisionRecord:
    _REDACTED[id(record)] = record
    return record


def _masks(evidence: tuple[dict, ...]) -> dict[str, str]:
    pairs = {}
    for item in evidence:
        if not isinstance(item, dict):
            continue
        value, entity = str(item.get("value") or ""), str(item.get("entity") or "")
        pairs[value] = mask_value(entity, value)
    return longest_first(pairs)


def longest_first(pairs: dict[str, str]) -> dict[str, str]:
    """raw value -> masked form, longest first so a value inside another is not half-masked;
    values too short to be data (one character) are left out."""
    return dict(sorted(((v, m) for v, m in pairs.items() if len(v) >= _MIN_VALUE),
                       key=lambda kv: -len(kv[0])))


def scrub(text: str, masks: dict[str, str]) -> str:
    for raw, masked in masks.items():
        text = text.replace(raw, masked)
    return text


def _scrub_value(value: object, masks: dict[str, str]) -> object:
    if isinstance(value, str):
        return scrub(value, masks)
    if isinstance(value, list):
        return [_scrub_value(v, masks) for v in value]
    if isinstance(value, dict):
        return {scrub(k, masks) if isinstance(k, str) else k: _scrub_value(v, masks)
                for k, v in value.items()}
    return value


def _path(record: DecisionRecord, masks: dict[str, str]) -> str:
    """The path with found values masked, percent-decoded when a value hides behind %XX."""
    decoded = unquote(record.path, errors="replace")
    path = scrub(record.path, masks)
    if _holds_any(path, masks):  # only visible decoded: /u/%31%33%38...
        path = scrub(decoded, masks)
    for item in record.evidence:
        if not isinstance(item, dict) or item.get("location") != "path":
            continue
        value = str(item.get("value") or "")
        if value in decoded or masks.get(value, "\0") in path:
            continue  # masked above, or already masked (a record is redacted once per writer)
        # Found in the path only through a decoding we cannot redo here (base64 ...): show nothing.
        return PATH_WITHHELD.format(entity=item.get("entity") or "personal data")
    if _holds_any(path, masks):
        return PATH_WITHHELD.format(entity="personal data")
    return path


def _holds_any(path: str, masks: dict[str, str]) -> bool:
    decoded = unquote(path, errors="replace")
    return any(raw in path or raw in decoded for raw in masks)
