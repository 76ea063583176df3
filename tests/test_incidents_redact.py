"""redact_record: no evidence value survives in a record's clear fields."""

from __future__ import annotations

import json

import pytest
from incidents_cli import RAW_ID, RAW_PHONE, record

from proxy.record.incidents.redact import PATH_WITHHELD, redact_record
from proxy.record.incidents.store import incident_metadata

ID_EVIDENCE = {"entity": "CN_RESIDENT_ID", "location": "path", "value": RAW_ID}
PHONE_IN_QUERY = {"entity": "PHONE_NUMBER", "location": f"query:{RAW_PHONE}", "value": RAW_PHONE}
PERCENT_ID = "".join(f"%{ord(c):02X}" for c in RAW_ID)


@pytest.mark.parametrize(
    "path,evidence,expected",
    [
        ("/api/customers/x/notes", (ID_EVIDENCE | {"location": "json:$.id"},), "/api/customers/x/notes"),
        (f"/api/customers/{RAW_ID}/notes", (ID_EVIDENCE,), "/api/customers/11****************/notes"),
        (f"/api/customers/{PERCENT_ID}", (ID_EVIDENCE,), "/api/customers/11****************"),
        # found in the path but not there as written (normalised digits): withhold it all
        ("/api/customers/１１０１０５１９４９１２３１００２Ｘ", (ID_EVIDENCE,),
         PATH_WITHHELD.format(entity="CN_RESIDENT_ID")),
        (f"/u/{RAW_PHONE}/{RAW_ID}", (ID_EVIDENCE, PHONE_IN_QUERY | {"location": "path"}),
         "/u/138********/11****************"),
    ],
)
def test_path(path, evidence, expected):
    assert redact_record(record(path=path, evidence=evidence)).path == expected


@pytest.mark.parametrize(
    "field,value",
    [
        ("locations", [f"query:{RAW_PHONE}", "json:$.id"]),
        ("reason", f"found {RAW_PHONE}"),
        ("masked", [RAW_PHONE]),
        ("user", f"{RAW_PHONE}@corp"),
        ("entity_counts", {RAW_PHONE: 1}),
    ],
)
def test_clear_fields_lose_the_value(field, value):
    out = redact_record(record(**{field: value}, evidence=(PHONE_IN_QUERY,)))
    text = json.dumps(out.public(), ensure_ascii=False)
    assert RAW_PHONE not in text
    assert "138********" in text
    assert out.evidence == (PHONE_IN_QUERY,)  # the encrypted part keeps the raw value


def test_record_without_evidence_is_unchanged():
    r = record(path=f"/u/{RAW_PHONE}", evidence=())
    assert redact_record(r) is r


def test_incident_metadata_is_redacted():
    meta = incident_metadata(record(path=f"/c/{RAW_ID}", evidence=(ID_EVIDENCE,)), "p1")
    assert RAW_ID not in json.dumps(meta, ensure_ascii=False)
    assert meta["path"] == "/c/11****************"


def test_redaction_is_idempotent_for_paths():
    """The decision record is redacted when built and again by the incident store."""
    once = redact_record(record(path=f"/api/customers/{RAW_ID}/notes", evidence=(ID_EVIDENCE,)))
    assert redact_record(once).path == once.path == "/api/customers/11****************/notes"
