"""The addon with mitmproxy's test helpers (taddons/tflow): decisions applied to flows, and every
failure path ending in the policy's failure action rather than an upstream request.

Detection is the fake of tests/fakes.py (fixed markers, in this process): these tests are about
what the addon does with findings, whatever the recognizers find."""

from __future__ import annotations

import asyncio
import json

import pytest
from fakes import MARKERS, FakeDetector, InProcessInspector, MemoryRecorder
from harness import REPO
from mitmproxy.test import taddons, tflow

from detectors.model import Segment
from policies.load import load_policy
from proxy.errors import DetectionFailed, DetectionTimeout
from proxy.hook.addon import BaomiAddon, destination_names
from proxy.hook.state import Runtime

MOBILE = "13800138000"
RESIDENT_ID = "11010519491231002X"
assert MARKERS[MOBILE] == "PHONE_NUMBER" and MARKERS[RESIDENT_ID] == "CN_RESIDENT_ID"


@pytest.fixture(scope="module")
def policy():
    return load_policy(REPO / "policies" / "default.yaml")


@pytest.fixture
def detector():
    return FakeDetector()


def make_flow(body: dict | bytes, scheme="https", host="api.partner.example", path="/v1/x",
              ctype="application/json"):
    f = tflow.tflow()
    f.request.scheme, f.request.host, f.request.port = scheme, host, 443 if scheme == "https" else 80
    f.request.path, f.request.method = path, "POST"
    f.request.headers["host"] = host
    f.request.headers["content-type"] = ctype
    f.request.raw_content = json.dumps(body).encode() if isinstance(body, dict) else body
    f.request.headers["content-length"] = str(len(f.request.raw_content))
    return f


def run_addon(policy, detector, flow, *, fail=None, recorder=None):
    recorder = recorder or MemoryRecorder()
    addon = BaomiAddon(Runtime(policy), InProcessInspector(detector, fail), recorder)
    with taddons.context(addon):
        asyncio.run(addon.request(flow))
    return recorder


@pytest.mark.parametrize("body,action,status", [
    ({"note": "hello", "order": "SO-1"}, "allow", None),
    ({"customer": {"phone": MOBILE}}, "mask", None),
    ({"customer": {"id_no": RESIDENT_ID}}, "block", 403),
])
def test_decisions_applied(policy, detector, body, action, status):
    flow = make_flow(body)
    rec = run_addon(policy, detector, flow)
    record = flow.metadata["baomi"]
    assert record.action == action
    assert rec.records == [record]
    if status:
        assert flow.response.status_code == status
        assert flow.response.headers["x-baomi-incident"] == record.incident_id
    else:
        assert flow.response is None


def test_mask_rewrites_body_and_length(policy, detector):
    flow = make_flow({"customer": {"phone": MOBILE, "name": "x"}})
    run_addon(policy, detector, flow)
    sent = json.loads(flow.request.raw_content)
    assert sent["customer"]["phone"] == "138********"
    assert flow.request.headers["content-length"] == str(len(flow.request.raw_content))


def test_plain_http_with_data_blocked(policy, detector):
    flow = make_flow({"phone": MOBILE}, scheme="http")
    run_addon(policy, detector, flow)
    assert flow.response.status_code == 403


@pytest.mark.parametrize("error,rule", [
    (DetectionTimeout("slow"), "on_timeout"),
    (DetectionFailed("crash"), "on_error"),
])
def test_inspection_failure_blocks(policy, detector, error, rule):
    flow = make_flow({"note": "anything"})
    run_addon(policy, detector, flow, fail=error)
    assert flow.response.status_code == 403
    assert flow.metadata["baomi"].rule == rule


def test_unexpected_bug_fails_closed(policy, detector):
    flow = make_flow({"note": "anything"})
    run_addon(policy, detector, flow, fail=ZeroDivisionError())
    assert flow.response.status_code == 403
    assert flow.metadata["baomi"].rule == "on_error"


def test_record_failure_blocks_even_clean_traffic(policy, detector):
    flow = make_flow({"note": "hello"})
    run_addon(policy, detector, flow, recorder=MemoryRecorder(fail=True))
    assert flow.response.status_code == 503
    assert flow.metadata["baomi"].rule == "on_record_failure"


def test_host_header_and_sni_both_decide():
    flow = make_flow({"x": 1}, host="198.18.2.2")
    flow.request.headers["host"] = "Fronted.Example."
    flow.client_conn.sni = "cdn.example"
    # regular mode: the host mitmproxy connects to is decided on too
    assert destination_names(flow) == ["cdn.example", "fronted.example", "198.18.2.2"]


def test_mask_rewrite_timeout_gets_on_timeout_and_forwards_nothing(policy, detector):
    flow = make_flow({"customer": {"phone": MOBILE}})
    addon = BaomiAddon(Runtime(policy), InProcessInspector(detector, fail_mask=DetectionTimeout("slow")),
                       MemoryRecorder())
    with taddons.context(addon):
        asyncio.run(addon.request(flow))
    assert flow.response.status_code == 403
    assert flow.metadata["baomi"].rule == "on_timeout"


def test_fake_detector_finds_every_marker_and_nothing_else():
    # What the tests above rely on: exact markers only (a near miss and a name are not found).
    segments = [Segment(f"a {MOBILE} b {MOBILE}", "json:$.a"),
                Segment(f"13800138001 张伟 {RESIDENT_ID}", "json:$.b")]
    found = FakeDetector().analyze(segments)
    assert [(f.entity, f.segment, f.start, f.end, f.location, f.value) for f in found] == [
        ("PHONE_NUMBER", 0, 2, 13, "json:$.a", MOBILE),
        ("PHONE_NUMBER", 0, 16, 27, "json:$.a", MOBILE),
        ("CN_RESIDENT_ID", 1, 15, 33, "json:$.b", RESIDENT_ID),
    ]
