"""A masked request's record is masked and redacted once: ``decision_record`` masks each
found value once (for ``masked`` and for redaction), and the incident store takes the clear
metadata from that redacted record without a second pass, unless the record was replaced
since (a replaced field could hold a value again)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace

from incidents_cli import RAW_ID, RAW_PHONE

import detectors.mask
from detectors.model import Finding
from policies.facts import Decision, RequestFacts
from proxy.record.build import decision_record
from proxy.record.incidents import store as store_module
from proxy.record.incidents.redact import is_redacted, redact_record
from proxy.record.incidents.store import incident_metadata

FINDINGS = (
    Finding("PHONE_NUMBER", 0.9, 0, 11, "json:$.a", 0, RAW_PHONE),
    Finding("PHONE_NUMBER", 0.9, 0, 11, "json:$.b", 1, RAW_PHONE),
    Finding("CN_RESIDENT_ID", 1.0, 3, 21, "path", 2, RAW_ID),
    Finding("PHONE_NUMBER", 0.9, 0, 11, "json:$.c", 3, RAW_PHONE),
)


def built():
    facts = RequestFacts("10.0.0.5", "api.example.com", 443, "https", "POST",
                         f"/c/{RAW_ID}/notes", datetime(2026, 1, 1, tzinfo=UTC))
    inspection = SimpleNamespace(findings=FINDINGS, contexts=("a", "b", "c", "d"),
                                 bytes_inspected=100)
    return decision_record(facts, Decision("mask", "mask-phones", "phone"), inspection,
                           policy_hash="sha256:x", mode="regular", seconds=0.001)


def test_each_found_value_is_masked_once(monkeypatch):
    calls = []
    real = detectors.mask.mask_value

    def counted(entity, value, **kwargs):
        calls.append(entity)
        return real(entity, value, **kwargs)

    monkeypatch.setattr(detectors.mask, "mask_value", counted)
    record = built()
    assert sorted(calls) == ["CN_RESIDENT_ID", "PHONE_NUMBER"]
    assert record.masked == sorted({f.masked() for f in FINDINGS})
    assert record.path == "/c/11****************/notes"
    assert RAW_ID not in json.dumps(record.public()) and RAW_PHONE not in json.dumps(record.public())
    # the same clear fields as redacting from the evidence alone
    assert redact_record(replace(record, path=f"/c/{RAW_ID}/notes")).public() == record.public()


def test_the_store_does_not_redact_the_built_record_again(monkeypatch):
    record = built()
    assert is_redacted(record)
    passes = []
    monkeypatch.setattr(store_module, "redact_record",
                        lambda r: passes.append(r) or redact_record(r))
    meta = incident_metadata(record, "p1")
    assert passes == []
    assert meta["path"] == "/c/11****************/notes"
    assert RAW_ID not in json.dumps(meta, ensure_ascii=False)


def test_a_replaced_record_is_redacted_again(monkeypatch):
    changed = replace(built(), reason=f"found {RAW_PHONE}")  # e.g. a later edit quoting a value
    assert not is_redacted(changed)
    passes = []
    monkeypatch.setattr(store_module, "redact_record",
                        lambda r: passes.append(r) or redact_record(r))
    meta = incident_metadata(changed, "p1")
    assert passes == [changed]
    assert RAW_PHONE not in json.dumps(meta, ensure_ascii=False)
