"""The record path's shortcuts give exactly what the long way gives.

An incident frame's body is spliced from its metadata's canonical JSON (encoded once, for
the evidence's associated data) instead of encoded again: byte for byte what ``canonical``
makes of the whole frame, over drawn metadata (any text, nesting, numbers). A record whose
values are only in the body is not copied by redaction, and one with a value in a clear
field still is. Random bytes are read a page at a time and each handed out once: across
threads, and never to a forked child as well as its parent.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import date

from harness import REPO
from hypothesis import given, settings
from hypothesis import strategies as st
from incidents_cli import RAW_PHONE, keyed_dir, record

from proxy.record.build import new_incident_id
from proxy.record.incidents import IncidentStore, entropy, framing
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


def test_entropy_hands_out_each_byte_once_across_threads():
    drawn: list[list[bytes]] = [[], []]

    def draw(mine: list[bytes]) -> None:
        for _ in range(3000):
            mine.append(entropy.token(12))

    threads = [threading.Thread(target=draw, args=(mine,)) for mine in drawn]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tokens = drawn[0] + drawn[1]
    assert all(len(t) == 12 for t in tokens)
    assert len(set(tokens)) == len(tokens)  # 6000 nonces, pages refilled under way
    assert len(entropy.token(entropy.PAGE + 1)) == entropy.PAGE + 1


FORKED = """
import os, sys
sys.path.insert(0, {repo!r})
from proxy.record.incidents import entropy
entropy.token(4)  # the parent has bytes buffered now
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(w, entropy.token(12))
    os._exit(0)
os.waitpid(pid, 0)
child = os.read(r, 12)
print(child.hex(), entropy.token(12).hex())
"""


def test_a_forked_child_never_reuses_its_parents_bytes():
    out = subprocess.run([sys.executable, "-c", FORKED.format(repo=str(REPO))],
                         capture_output=True, text=True, check=True, timeout=60).stdout.split()
    child, parent = out
    assert len(child) == len(parent) == 24 and child != parent


def test_incident_ids_and_nonces_are_fresh():
    ids = {new_incident_id() for _ in range(2000)}
    assert len(ids) == 2000 and all(len(i.rsplit("-", 1)[1]) == 8 for i in ids)
