"""Alert rules, scrape config and Grafana dashboard: checked by promtool and a real Prometheus."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from promql import (
    ALERT_RULES,
    DASHBOARD,
    Prometheus,
    PromQLError,
    all_expressions,
    dashboard_expressions,
    dashboard_panels,
    rule_expressions,
)

from proxy.observe.health import serve
from proxy.observe.metrics import Metrics
from proxy.record.decisions import DecisionRecord

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
RULE_TESTS = ALERT_RULES.with_name("baomi-alerts.test.yml")
SCRAPE_CONFIG = DEPLOY / "prometheus/prometheus.yml"
PROVISIONING = DEPLOY / "grafana/provisioning"


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if not path:
        pytest.fail("promtool not found: run tests/system-deps.sh (Debian package prometheus)")
    return path


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=False, capture_output=True, text=True, timeout=120, cwd=cwd)


# --- promtool ------------------------------------------------------------------------------


def test_promtool_check_rules(promtool):
    out = run(promtool, "check", "rules", str(ALERT_RULES))
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {len(rule_expressions())} rules found" in out.stdout


def test_promtool_test_rules(promtool):
    out = run(promtool, "test", "rules", str(RULE_TESTS))
    assert out.returncode == 0, out.stdout + out.stderr


def test_promtool_check_scrape_config(promtool):
    out = run(promtool, "check", "config", str(SCRAPE_CONFIG))
    assert out.returncode == 0, out.stdout + out.stderr


# A broken rule must make the unit tests fail, or they prove nothing.
@pytest.mark.parametrize(
    ("broken", "original", "replacement"),
    [
        ("passthrough alerts", ', reason!="passthrough"', ""),
        ("blocked traffic counts as bypassed", 'action!="block", ', ""),
        ("failing threshold too high", "> 0.01", "> 0.5"),
        ("latency quantile", "histogram_quantile(0.99,", "histogram_quantile(0.5,"),
        ("severity lowered", "  severity: critical\n", "  severity: warning\n"),
        ("reload alert at start-up", "and on (job, instance)\n", "or on (job, instance)\n"),
        ("surge without a floor", "> 0.1\n", "> 0\n"),
    ],
)
def test_rule_tests_catch_broken_rules(promtool, tmp_path, broken, original, replacement):
    text = ALERT_RULES.read_text()
    assert original in text, broken
    (tmp_path / ALERT_RULES.name).write_text(text.replace(original, replacement, 1))
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    out = run(promtool, "test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert out.returncode != 0, f"promtool tests still pass with: {broken}"


def alerts() -> list[dict]:
    rules = yaml.safe_load(ALERT_RULES.read_text())
    return [r for group in rules["groups"] for r in group["rules"] if "alert" in r]


@pytest.mark.parametrize("rule", alerts(), ids=lambda r: r["alert"])
def test_alert_has_severity_summary_and_runbook(rule):
    assert rule["labels"]["severity"] in ("critical", "warning")
    annotations = rule["annotations"]
    assert set(annotations) >= {"summary", "description", "runbook"}
    assert len(annotations["runbook"]) > 100, "the runbook says what to check and do"


@pytest.mark.parametrize("name", [r["alert"] for r in alerts()])
def test_every_alert_is_tested_firing_and_not_firing(name):
    cases = [
        case
        for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case["alertname"] == name
    ]
    assert any(case["exp_alerts"] for case in cases), f"{name} never tested firing"
    assert any(not case["exp_alerts"] for case in cases), f"{name} never tested silent"


@pytest.mark.parametrize(
    "alert",
    ["BaomiDown", "BaomiAbsent", "BaomiInspectionBypassed", "BaomiInspectionFailing",
     "BaomiBlockSurge", "BaomiIncidentLogFailing", "BaomiPolicyReloadFailed",
     "BaomiInspectionLatencyHigh", "BaomiNotReady"],
)  # fmt: skip
def test_required_alerts_exist(alert):
    assert alert in {r["alert"] for r in alerts()}


# --- Grafana -------------------------------------------------------------------------------


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def data_panels() -> list[dict]:
    return [p for p in dashboard_panels(dashboard()) if p["type"] != "row"]


def test_dashboard_has_a_prometheus_datasource_variable():
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"


@pytest.mark.parametrize("panel", data_panels(), ids=lambda p: p["title"])
def test_panel_has_unit_description_and_datasource(panel):
    assert panel["fieldConfig"]["defaults"].get("unit"), "unit missing"
    assert len(panel.get("description", "")) > 20, "description missing"
    assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    assert panel["targets"], "no query"
    for target in panel["targets"]:
        assert target["datasource"]["uid"] == "${datasource}"
        assert "${datasource}" not in target["expr"]


@pytest.mark.parametrize("expr", dashboard_expressions(), ids=lambda e: e.origin)
def test_dashboard_rates_use_rate_interval(expr):
    windows = re.findall(r"\[([^\]]+)\]", expr.expr)
    if re.search(r"\b(rate|irate|increase)\(", expr.expr):
        assert windows and all(w == "$__rate_interval" for w in windows), expr.expr
    else:
        assert not windows, f"range without rate: {expr.expr}"


@pytest.mark.parametrize(
    "section",
    ["traffic and decisions", "top rules", "entities found", "latency percentiles",
     "uninspected traffic", "errors", "policy reloads", "readiness"],
)  # fmt: skip
def test_dashboard_covers(section):
    assert any(section in p["title"].lower() for p in data_panels() + dashboard()["panels"])


def test_grafana_provisioning():
    datasources = yaml.safe_load((PROVISIONING / "datasources/prometheus.yaml").read_text())
    (ds,) = datasources["datasources"]
    assert ds["type"] == "prometheus" and ds["url"].startswith("http")
    providers = yaml.safe_load((PROVISIONING / "dashboards/baomi.yaml").read_text())
    (provider,) = providers["providers"]
    assert provider["type"] == "file" and provider["options"]["path"].startswith("/")


# --- metric names --------------------------------------------------------------------------


def exported_names() -> set[str]:
    """Every sample name a busy Metrics exports (labelled families need a child to show)."""
    m = Metrics()
    m.policy_reload("success", "sha256:00", rules=["block-ids"])
    text = generate_latest(m.registry).decode()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def referenced_names() -> list[tuple[str, str]]:
    variables = [
        v["query"]["query"]
        for v in dashboard()["templating"]["list"]
        if isinstance(v.get("query"), dict)
    ]
    texts = [(e.origin, e.expr) for e in dashboard_expressions() + rule_expressions()]
    texts += [("variable", q) for q in variables]
    return sorted(
        {(name, origin) for origin, text in texts for name in re.findall(r"\bbaomi_\w+", text)}
    )


def test_dashboard_and_rules_reference_baomi_metrics():
    assert len({name for name, _ in referenced_names()}) >= 12


@pytest.mark.parametrize(("name", "origin"), referenced_names())
def test_referenced_metric_exists(name, origin):
    assert name in exported_names(), f"{origin} uses {name}, which Metrics does not export"


# --- a real Prometheus scraping proxy/observe/health.py --------------------------------------------


@pytest.fixture(scope="module")
def scraped():
    metrics = Metrics(mode="transparent")
    for component in metrics.ready():
        metrics.set_ready(component, True)
    metrics.policy_reload("success", "sha256:feed", rules=["block-ids"])
    block = DecisionRecord(
        time="2026-05-01T08:00:00Z", incident_id="i1", source="10.0.0.5", user=None,
        scheme="https", host="x.example", port=443, method="POST", path="/", mode="transparent",
        action="block", rule="block-ids", enforced=True, would_be=None, reason="",
        entity_counts={"CN_RESIDENT_ID": 1}, masked=[], locations=[], policy_hash="sha256:feed",
        bytes_inspected=100, inspect_seconds=0.004,
    )  # fmt: skip
    metrics.observe(block)
    metrics.observe(dataclasses.replace(block, action="allow", rule="default", entity_counts={}))
    server = serve("127.0.0.1", 0, metrics)
    try:
        with Prometheus(target=f"127.0.0.1:{server.port}") as prom:
            prom.wait_for('up{job="baomi"} == 1')
            yield prom, metrics
    finally:
        server.shutdown()


@pytest.mark.e2e
def test_prometheus_scrapes_baomi_metrics(scraped):
    prom, _ = scraped
    (sample,) = prom.wait_for('baomi_requests_total{action="block"}')
    assert sample["metric"]["mode"] == "transparent"
    assert sample["value"][1] == "1"
    (info,) = prom.query("baomi_policy_info")
    assert info["metric"]["hash"] == "sha256:feed"


@pytest.mark.e2e
def test_prometheus_sees_new_events(scraped):
    prom, metrics = scraped
    metrics.incident_log_failure()
    prom.wait_for('baomi_incident_log_failures_total{job="baomi"} == 1')


@pytest.mark.e2e
def test_prometheus_rejects_a_bad_query(scraped):
    prom, _ = scraped
    with pytest.raises(PromQLError, match="bad_data"):
        prom.query("sum(rate(baomi_requests_total[$__rate_interval]))")


def test_all_expressions_cover_dashboard_and_rules():
    exprs = all_expressions()
    assert len(exprs) == len(dashboard_expressions()) + len(rule_expressions())
    assert not [e for e in exprs if "$" in e.expr]


@pytest.mark.e2e
@pytest.mark.parametrize("expr", all_expressions(), ids=lambda e: e.origin)
def test_expression_is_valid_promql(scraped, expr):
    prom, _ = scraped
    prom.query(expr.expr)  # raises PromQLError on a parse or type error
