"""Metrics counted from DecisionRecords, and the /metrics /healthz /readyz listener."""

from __future__ import annotations

import dataclasses
import json

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from policies.entities import KNOWN_ENTITIES
from proxy.observe.health import serve
from proxy.observe.metrics import (
    ACTIONS,
    MAX_RULES,
    STAGES,
    UNINSPECTED_REASONS,
    Metrics,
    mode_kind,
)
from proxy.record.decisions import DecisionRecord

BASE = DecisionRecord(
    time="2026-05-01T08:00:00Z",
    incident_id="inc-0001",
    source="10.0.0.5",
    user=None,
    scheme="https",
    host="api.example.com",
    port=443,
    method="POST",
    path="/v1/orders",
    mode="regular",
    action="allow",
    rule="default",
    enforced=True,
    would_be=None,
    reason="",
    entity_counts={},
    masked=[],
    locations=[],
    policy_hash="sha256:00",
    bytes_inspected=4096,
    inspect_seconds=0.003,
)


def record(**changes) -> DecisionRecord:
    return dataclasses.replace(BASE, **changes)


def value(m: Metrics, name: str, **labels: str) -> float | None:
    return m.registry.get_sample_value(name, labels)


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(mode="regular")


@pytest.mark.parametrize(
    ("changes", "action", "mode"),
    [
        ({}, "allow", "regular"),
        ({"action": "block", "rule": "block-ids"}, "block", "regular"),
        ({"action": "mask", "rule": "mask-contact"}, "mask", "regular"),
        ({"action": "monitor", "would_be": "block", "enforced": False}, "monitor", "regular"),
        ({"mode": "transparent"}, "allow", "transparent"),
        ({"mode": "upstream:http://proxy.corp:3128"}, "allow", "upstream"),
        ({"mode": "regular@8081"}, "allow", "regular"),
        ({"mode": "carrier-pigeon"}, "allow", "other"),
        ({"action": "forward-anyway"}, "other", "regular"),  # a bug upstream stays bounded
    ],
)
def test_requests_by_action_and_mode(metrics, changes, action, mode):
    metrics.observe(record(**changes))
    metrics.observe(record(**changes))
    assert value(metrics, "baomi_requests_total", action=action, mode=mode) == 2


@pytest.mark.parametrize(
    ("spec", "kind"),
    [
        ("regular", "regular"),
        ("Transparent", "transparent"),
        ("upstream:https://user:secret@10.1.1.1:3128", "upstream"),
        ("reverse:http://127.0.0.1:9000@8080", "reverse"),
        ("wireguard:/etc/wg.conf", "wireguard"),
        ("", "other"),
        ("13800138000", "other"),
    ],
)
def test_mode_kind_never_keeps_arguments(spec, kind):
    assert mode_kind(spec) == kind


def test_detections_count_findings_per_entity(metrics):
    metrics.observe(record(entity_counts={"PHONE_NUMBER": 3, "CN_RESIDENT_ID": 1}))
    metrics.observe(record(entity_counts={"PHONE_NUMBER": 2, "EMAIL_ADDRESS": 0}))
    assert value(metrics, "baomi_detections_total", entity="PHONE_NUMBER") == 5
    assert value(metrics, "baomi_detections_total", entity="CN_RESIDENT_ID") == 1
    assert value(metrics, "baomi_detections_total", entity="EMAIL_ADDRESS") == 0


def test_unknown_entity_from_an_extra_recognizer_is_other(metrics):
    metrics.observe(record(entity_counts={"ACME_EMPLOYEE_ID": 2}))
    assert value(metrics, "baomi_detections_total", entity="other") == 2
    assert value(metrics, "baomi_detections_total", entity="ACME_EMPLOYEE_ID") is None


@pytest.mark.parametrize(
    ("changes", "rule", "action"),
    [
        ({"action": "block", "rule": "block-ids"}, "block-ids", "block"),
        ({"action": "mask", "rule": "mask-contact"}, "mask-contact", "mask"),
        ({"action": "block", "rule": "on_timeout"}, "on_timeout", "block"),
        ({"action": "monitor", "rule": "block-ids", "would_be": "block"}, "block-ids", "monitor"),
        (
            {"action": "monitor", "rule": "mask-contact", "would_be": "mask"},
            "mask-contact",
            "monitor",
        ),
        # not a policy rule name (a host, a value): never a label
        ({"action": "block", "rule": "api.example.com/v1"}, "other", "block"),
        ({"action": "block", "rule": "张三"}, "other", "block"),
        ({"action": "block", "rule": ""}, "other", "block"),
    ],
)
def test_rule_actions_count_blocks_and_masks(metrics, changes, rule, action):
    metrics.observe(record(**changes))
    assert value(metrics, "baomi_rule_actions_total", rule=rule, action=action) == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"action": "allow", "rule": "allow-internal"},
        {"action": "monitor", "rule": "default", "would_be": "allow"},
    ],
)
def test_rule_actions_skip_what_was_let_through(metrics, changes):
    metrics.observe(record(**changes))
    out = generate_latest(metrics.registry).decode()
    assert f'rule="{changes["rule"]}"' not in out


def test_rule_labels_are_capped(metrics):
    for i in range(MAX_RULES + 5):
        metrics.observe(record(action="block", rule=f"rule-{i}"))
    assert value(metrics, "baomi_rule_actions_total", rule="rule-0", action="block") == 1
    assert (
        value(metrics, "baomi_rule_actions_total", rule=f"rule-{MAX_RULES}", action="block") is None
    )
    assert value(metrics, "baomi_rule_actions_total", rule="other", action="block") == 5


@pytest.mark.parametrize(
    ("uninspected", "action", "reason"),
    [
        ("oversize", "block", "oversize"),
        ("undecodable", "allow", "undecodable"),
        ("uninspectable", "block", "undecodable"),  # InspectionError.kind spelling
        ("passthrough", "allow", "passthrough"),
        ("timeout", "block", "timeout"),
        ("error", "monitor", "error"),
        ("cosmic-ray", "block", "other"),
    ],
)
def test_uninspected_by_reason_and_action(metrics, uninspected, action, reason):
    metrics.observe(record(uninspected=uninspected, action=action))
    assert value(metrics, "baomi_uninspected_total", reason=reason, action=action) == 1


@pytest.mark.parametrize(
    ("changes", "timed"),
    [
        ({"inspect_seconds": 0.003}, True),
        ({"inspect_seconds": 5.2, "uninspected": "timeout", "action": "block"}, True),
        ({"inspect_seconds": 0.0, "uninspected": "passthrough"}, False),
        ({"inspect_seconds": 0.0, "uninspected": "oversize", "action": "block"}, False),
    ],
)
def test_latency_histogram_times_inspected_requests(metrics, changes, timed):
    metrics.observe(record(**changes))
    name = "baomi_inspection_duration_seconds"
    assert value(metrics, f"{name}_count") == (1 if timed else 0)
    if timed:
        assert value(metrics, f"{name}_sum") == pytest.approx(changes["inspect_seconds"])


def test_latency_buckets(metrics):
    metrics.observe(record(inspect_seconds=0.003))  # between 2.5 ms and 5 ms
    bucket = "baomi_inspection_duration_seconds_bucket"
    assert value(metrics, bucket, le="0.0025") == 0
    assert value(metrics, bucket, le="0.005") == 1
    assert value(metrics, bucket, le="0.001") == 0
    assert value(metrics, bucket, le="10.0") == 1


def test_inspected_bytes(metrics):
    metrics.observe(record(bytes_inspected=1000))
    metrics.observe(record(bytes_inspected=0, uninspected="passthrough"))
    assert value(metrics, "baomi_inspected_bytes_total") == 1000


@pytest.mark.parametrize(("stage", "label"), [(s, s) for s in STAGES] + [("parse", "other")])
def test_errors_by_stage(metrics, stage, label):
    metrics.detection_error(stage)
    assert value(metrics, "baomi_errors_total", stage=label) == 1


def test_observe_does_not_count_errors_twice(metrics):
    metrics.observe(record(error_stage="detect", uninspected="error", action="block"))
    assert value(metrics, "baomi_errors_total", stage="detect") == 0


def test_incident_log_failures(metrics):
    assert value(metrics, "baomi_incident_log_failures_total") == 0
    metrics.incident_log_failure()
    assert value(metrics, "baomi_incident_log_failures_total") == 1


def test_policy_reload_exports_only_the_current_hash(metrics):
    assert "baomi_policy_info{" not in generate_latest(metrics.registry).decode()
    metrics.policy_reload("success", "sha256:aaaa", rules=["block-ids", "mask-contact"])
    first = value(metrics, "baomi_policy_last_reload_success_timestamp_seconds")
    assert first > 1.7e9
    assert value(metrics, "baomi_policy_last_reload_successful") == 1
    assert value(metrics, "baomi_rule_actions_total", rule="mask-contact", action="mask") == 0

    metrics.policy_reload("success", "sha256:bbbb")
    metrics.policy_reload("failure", None)
    out = generate_latest(metrics.registry).decode()
    assert 'baomi_policy_info{hash="sha256:bbbb"} 1.0' in out
    assert "sha256:aaaa" not in out
    assert value(metrics, "baomi_policy_reloads_total", result="success") == 2
    assert value(metrics, "baomi_policy_reloads_total", result="failure") == 1
    assert value(metrics, "baomi_policy_last_reload_successful") == 0
    assert value(metrics, "baomi_policy_last_reload_success_timestamp_seconds") >= first


def test_readiness(metrics):
    assert metrics.ready() == {"policy": False, "detector": False, "incident_log": False}
    metrics.set_ready("policy", True)
    assert metrics.ready()["policy"] is True
    assert value(metrics, "baomi_ready", component="policy") == 1
    assert value(metrics, "baomi_ready", component="detector") == 0
    metrics.set_ready("policy", False)
    assert value(metrics, "baomi_ready", component="policy") == 0


def test_unknown_readiness_component_is_a_bug(metrics):
    with pytest.raises(ValueError, match="unknown component"):
        metrics.set_ready("database", True)


def test_series_alerts_need_exist_at_zero(metrics):
    for action in ACTIONS:
        assert value(metrics, "baomi_requests_total", action=action, mode="regular") == 0
    for reason in UNINSPECTED_REASONS:
        for action in ACTIONS:
            assert value(metrics, "baomi_uninspected_total", reason=reason, action=action) == 0
    for stage in STAGES:
        assert value(metrics, "baomi_errors_total", stage=stage) == 0
    for entity in KNOWN_ENTITIES:
        assert value(metrics, "baomi_detections_total", entity=entity) == 0
    for result in ("success", "failure"):
        assert value(metrics, "baomi_policy_reloads_total", result=result) == 0
    assert value(metrics, "baomi_inspection_duration_seconds_count") == 0


def test_build_info(metrics):
    families = {f.name: f for f in metrics.registry.collect()}
    (sample,) = families["baomi_build_info"].samples
    assert set(sample.labels) == {"version", "python", "mitmproxy"}
    assert sample.labels["mitmproxy"].startswith("12.")


# Personal data a record may carry outside entity_counts; none of it may reach /metrics.
SECRETS = [
    "13800138000", "138********", "110105199003072316", "11****************", "张三",
    "zhang.san@example.com", "z***@example.com", "crm.partner-example.cn", "/customers/",
    "10.9.8.7", "alice", "$.customer.phone", "inc-9f3c", "6222020200112233445",
]  # fmt: skip


def leaky_record() -> DecisionRecord:
    return record(
        incident_id="inc-9f3c",
        source="10.9.8.7",
        user="alice",
        host="crm.partner-example.cn",
        path="/customers/110105199003072316/phone/13800138000",
        mode="upstream:http://alice:13800138000@10.9.8.7:3128",
        action="block",
        rule="block-ids",
        reason="CN_RESIDENT_ID 11**************** to crm.partner-example.cn",
        entity_counts={"CN_RESIDENT_ID": 1, "PHONE_NUMBER": 1, "张三": 1},
        masked=["11****************", "138********", "z***@example.com"],
        locations=["json:$.customer.phone", "query:id=13800138000"],
        evidence=({"value": "13800138000", "name": "张三", "card": "6222020200112233445"},),
    )


@pytest.mark.parametrize("encode", [generate_latest, generate_openmetrics])
def test_no_personal_data_in_exposition(encode):
    metrics = Metrics(mode="upstream:http://alice:13800138000@10.9.8.7:3128")
    leaky = leaky_record()
    metrics.observe(leaky)
    metrics.observe(
        dataclasses.replace(
            leaky,
            action="monitor",
            would_be="mask",
            uninspected="timeout",
            rule="zhang.san@example.com",
        )
    )
    metrics.policy_reload("success", "sha256:abcd", rules=["block-ids", "13800138000@x"])
    out = encode(metrics.registry).decode()
    assert "baomi_requests_total" in out  # the output is not trivially empty
    for secret in SECRETS:
        assert secret not in out, f"exposition leaks {secret[:3]}…"


# --- the listener -------------------------------------------------------------------------


@pytest.fixture
def listener(metrics):
    server = serve("127.0.0.1", 0, metrics)
    yield f"http://127.0.0.1:{server.port}", metrics
    server.shutdown()


def test_healthz_is_ok_while_alive(listener):
    base, _ = listener
    r = httpx.get(f"{base}/healthz")
    assert (r.status_code, r.text) == (200, "ok\n")


@pytest.mark.parametrize(
    ("ready", "status", "not_ready"),
    [
        ({}, 503, ["detector", "incident_log", "policy"]),
        ({"policy": True, "detector": True}, 503, ["incident_log"]),
        ({"policy": True, "detector": True, "incident_log": True}, 200, []),
    ],
)
def test_readyz(listener, ready, status, not_ready):
    base, metrics = listener
    for component, ok in ready.items():
        metrics.set_ready(component, ok)
    r = httpx.get(f"{base}/readyz")
    assert r.status_code == status
    assert r.headers["content-type"] == "application/json"
    assert json.loads(r.text)["not_ready"] == not_ready


def test_readyz_turns_503_when_a_component_fails(listener):
    base, metrics = listener
    for component in metrics.ready():
        metrics.set_ready(component, True)
    assert httpx.get(f"{base}/readyz").status_code == 200
    metrics.set_ready("incident_log", False)
    assert httpx.get(f"{base}/readyz").status_code == 503


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        ("", "text/plain; version=0.0.4"),
        ("application/openmetrics-text; version=1.0.0", "application/openmetrics-text"),
    ],
)
def test_metrics_endpoint(listener, accept, content_type):
    base, metrics = listener
    metrics.observe(record(action="block", rule="block-ids"))
    r = httpx.get(f"{base}/metrics", headers={"Accept": accept})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(content_type)
    assert 'baomi_requests_total{action="block",mode="regular"} 1.0' in r.text


def test_unknown_path_is_404(listener):
    base, _ = listener
    assert httpx.get(f"{base}/metrics/../admin").status_code == 404


def test_shutdown_stops_serving(metrics):
    server = serve("127.0.0.1", 0, metrics)
    url = f"http://127.0.0.1:{server.port}/healthz"
    assert httpx.get(url).status_code == 200
    server.shutdown()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url)
