"""The record path's shortcuts give exactly what the long way gives.

An incident frame's body is spliced from its metadata's canonical JSON (encoded once, for
the evidence's associated data) instead of encoded again: byte for byte what ``canonical``
makes of the whole frame, over drawn metadata (any text, nesting, numbers). A record whose
values are only in the body is not copied by redaction, and one with a value in a clear
field still is.
"""

from __future__ import annotations

import json
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st
from incidents_cli import RAW_PHONE, keyed_dir, record

from proxy.record.incidents import IncidentStore, framing
from proxy.record.incidents.log import entries
from proxy.record.incidents.redact import is_redacted, redact_record
from proxy.record.incidents.verify import verify

_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
_LEAF = st.none() | st.booleans() | st.integers(-2**63, 2**63) | _TEXT
_VALUE = st.recursive(_LEAF, lambda kids: st.lists(kids, max_size=3)
                      | st.dictionaries(_TEXT, kids, max_size=3), max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(data=st.dictionaries(_TEXT, _VALUE, max_size=6), seq=st.integers(0, 2**40),
       kind=_TEXT, time=_TEXT, prev=st.binary(min_size=32, max_size=32))
def test_a_spliced_body_is_the_canonical_body(data, seq, kind, time, prev):
    whole = framing.canonical({"seq": seq, "prev": prev.hex(), "kind": kind, "time": time,
                               "data": data})
    spliced = framing.body(seq, prev.hex(), kind, time,
                           framing.Encoded(data, framing.canonical(data)))
    assert spliced == whole
    assert framing.body(seq, prev.hex(), kind, time, data) == whole


def test_an_incident_frame_is_its_metadata_and_sealed_evidence_canonically(tmp_path):
    data_dir, _ = keyed_dir(tmp_path)
    store = IncidentStore(data_dir, today=lambda: date(2026, 12, 6))
    odd = record(reason='引号 "quoted" \\ back\tslash \u2028 line 张伟', user="王芳",
                 path="/api/客户/\x7f", entity_counts={"PHONE_NUMBER": 1, "PERSON": 2})
    store.write(odd)  # the period's frames first
    frame = store._frame(odd)
    assert isinstance(frame, framing.Encoded)
    assert frame.json == framing.canonical(dict(frame))
    store.write(odd)
    store.close()
    incident = [e for e in entries(data_dir / "incidents") if e.kind == "incident"][-1]
    assert incident.data["meta"]["reason"] == odd.reason and incident.data["meta"]["user"] == "王芳"
    assert verify(data_dir).ok


def test_redaction_copies_a_record_only_when_a_clear_field_changes():
    body_only = record(evidence=({"entity": "PHONE_NUMBER", "value": RAW_PHONE,
                                  "location": "json:$.contact.mobile", "context": "tel"},),
                       incident_id="BM-1")
    same = redact_record(body_only)
    assert same is body_only and is_redacted(same)
    in_reason = record(evidence=body_only.evidence, reason=f"call {RAW_PHONE}",
                       path=f"/u/{RAW_PHONE}", incident_id="BM-2")
    clear = redact_record(in_reason)
    assert clear is not in_reason and is_redacted(clear)
    assert RAW_PHONE not in json.dumps(clear.public(), ensure_ascii=False)
    assert clear.reason.startswith("call 138") and clear.path.startswith("/u/138")
