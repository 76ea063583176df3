"""Prose the NER model left to the rules (over its per-request budget) reaches the proxy's
metrics: Detector.ner_skipped_bytes -> the worker's reply (Inspection.ner_skipped_bytes) ->
``baomi_ner_skipped_bytes_total``."""

from __future__ import annotations

import asyncio
import json

import pytest
from detection_support import shared_detector
from fakes import FakeDetector, InProcessInspector, MemoryRecorder
from harness import REPO
from mitmproxy.test import taddons, tflow

from detectors.engine import NER_MAX_BYTES, DetectorConfig
from detectors.model import Segment
from policies.load import load_policy
from proxy.extraction.extract import Limits, RawRequest, extract
from proxy.hook.addon import BaomiAddon
from proxy.hook.state import Runtime
from proxy.observe.metrics import Metrics
from proxy.workers.inspection import detect_segments, inspect_request
from proxy.workers.pool import InspectionPool

SENTENCE = "昨天下午王小明和同事一起去上海参加了项目评审会，大家讨论了下个季度的计划。 "
PROSE_BYTES = 40_000  # over NER_MAX_BYTES (32 KiB): the rest is left to the rules
LIMITS = Limits()


def prose_request() -> RawRequest:
    body = json.dumps({"messages": [{"role": "user",
                                     "content": SENTENCE * (PROSE_BYTES // len(SENTENCE.encode()))}]},
                      ensure_ascii=False).encode()
    return RawRequest("POST", "https://api.example.com/v1/chat", (("content-type",
                      "application/json"),), body)


def value(metrics: Metrics) -> float | None:
    return metrics.registry.get_sample_value("baomi_ner_skipped_bytes_total", {})


def test_the_metric_counts_bytes_and_ignores_nothing_skipped():
    metrics = Metrics(mode="regular")
    metrics.ner_skipped(0)
    assert value(metrics) == 0
    metrics.ner_skipped(1234)
    metrics.ner_skipped(66)
    assert value(metrics) == 1300


def test_detect_segments_reports_what_the_budget_skipped_for_this_call(monkeypatch):
    detector = shared_detector()
    short = Segment("会议纪要由赵志刚整理，周一发给全组。", "json:$.a", ("a",))
    assert detect_segments(detector, [(3, short)])[1] == 0
    monkeypatch.setattr(detector, "ner_max_bytes", 0)
    findings, skipped = detect_segments(detector, [(3, short)])
    assert skipped == len("会议纪要由赵志刚整理,周一发给全组。".encode())  # normalised "，"
    assert all(f.segment == 3 for f in findings)


def test_a_worker_that_extracts_reports_the_skipped_prose():
    detector = shared_detector()
    inspection = inspect_request(detector, prose_request(), LIMITS)
    prose = len(json.loads(prose_request().body)["messages"][0]["content"].encode())
    # The model reads whole windows up to NER_MAX_BYTES; at least the rest is skipped (more
    # where windows overlap).
    assert inspection.ner_skipped_bytes >= prose - NER_MAX_BYTES > 0
    before = detector.ner_skipped_bytes
    detector.analyze(list(extract(prose_request(), LIMITS).segments))
    assert inspection.ner_skipped_bytes == detector.ner_skipped_bytes - before  # this request's


def test_the_skipped_bytes_cross_the_pipe_from_a_real_worker():
    async def run():
        pool = InspectionPool(DetectorConfig(), size=1, start_timeout=120)
        await pool.start()
        try:
            return await pool.inspect(prose_request(), LIMITS, timeout=60)
        finally:
            pool.close()

    inspection = asyncio.run(run())
    assert inspection.ner_skipped_bytes == inspect_request(shared_detector(), prose_request(),
                                                           LIMITS).ner_skipped_bytes > 0


class Skipping(FakeDetector):
    """The fake detector, whose NER budget skips ``per_call`` bytes on every call."""

    def __init__(self, per_call: int):
        super().__init__()
        self.per_call = per_call
        self.ner_skipped_bytes = 0

    def analyze(self, segments):
        self.ner_skipped_bytes += self.per_call
        return super().analyze(segments)


@pytest.mark.parametrize(("body", "masked"), [({"note": "hello"}, False),
                                              ({"customer": {"phone": "13800138000"}}, True)],
                         ids=["allowed", "masked"])
def test_the_addon_counts_a_requests_skipped_prose(body, masked):
    policy = load_policy(REPO / "policies" / "default.yaml")
    metrics = Metrics(mode="regular")
    addon = BaomiAddon(Runtime(policy), InProcessInspector(Skipping(777)), MemoryRecorder(),
                       metrics)
    flow = tflow.tflow()
    flow.request.scheme, flow.request.host, flow.request.port = "https", "api.partner.example", 443
    flow.request.path, flow.request.method = "/v1/x", "POST"
    flow.request.headers["host"] = "api.partner.example"
    flow.request.headers["content-type"] = "application/json"
    flow.request.raw_content = json.dumps(body).encode()
    with taddons.context(addon):
        asyncio.run(addon.request(flow))
    assert flow.response is None  # sent on, not refused
    sent = flow.request.raw_content
    assert (b"13800138000" not in sent and b"138" in sent) if masked else sent == json.dumps(body).encode()
    assert value(metrics) == 777
