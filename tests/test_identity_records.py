"""The sender in every record: DecisionRecord fields (old lines still parse), the incident
store and `incidents list/show --user/--group`, ECS/OCSF/syslog exports (schemas), the refusal
("You, alice, tried to send ..." in both languages) and the identity metrics (no user labels)."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from incidents_cli import keyed_dir, record, run
from prometheus_client import generate_latest

from policies.facts import Decision, RequestFacts
from proxy.act import refusal as act
from proxy.observe.metrics import Metrics
from proxy.record.build import decision_record
from proxy.record.decisions import DecisionRecord
from proxy.record.incidents import IncidentStore
from proxy.record.incidents.export import to_syslog

SCHEMAS = Path(__file__).parent / "schemas"
SENDERS = [
    {"user": "alice", "user_groups": ["payroll", "staff"], "identity": "proxyauth"},
    {"user": "Bob", "user_groups": [], "identity": "header"},
    {"user": None, "user_groups": [], "identity": "none"},
]


def test_old_decision_lines_still_parse():
    line = record().public()
    for name in ("user_groups", "identity"):
        line.pop(name)
    old = DecisionRecord(**line)
    assert (old.user_groups, old.identity) == ([], "none")
    assert [f.name for f in fields(DecisionRecord)][-3:] == ["user_groups", "identity",
                                                            "rule_severity"]


def test_decision_record_takes_the_sender_from_the_facts():
    facts = RequestFacts("10.0.0.5", "api.example.com", 443, "https", "POST", "/x",
                         datetime(2026, 1, 1, tzinfo=UTC), user="alice",
                         groups=frozenset({"staff", "payroll"}), identity_method="ldap")
    built = decision_record(facts, Decision("allow", "default"), None,
                                policy_hash="sha256:x", mode="regular", seconds=0.0)
    assert (built.user, built.user_groups, built.identity) == ("alice", ["payroll", "staff"], "ldap")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    data_dir, _ = keyed_dir(tmp_path_factory.mktemp("senders"))
    store = IncidentStore(data_dir)
    for n, sender in enumerate(SENDERS):
        store.write(record(incident_id=f"BM-{n}", **sender))
    store.close()
    return data_dir


def listed(data_dir: Path, *filters: str) -> list[str]:
    result = run("incidents", "list", "--json", "--data-dir", str(data_dir), *filters)
    assert result.code == 0, result.err
    return [json.loads(line)["id"] for line in result.out.splitlines()]


@pytest.mark.parametrize("filters, ids", [
    ((), ["BM-0", "BM-1", "BM-2"]),
    (("--user", "alice"), ["BM-0"]),
    (("--user", "BOB"), ["BM-1"]),  # any case
    (("--user", "carol"), []),
    (("--group", "Payroll"), ["BM-0"]),
    (("--group", "staff", "--user", "bob"), []),
    (("--group", "sales"), []),
])
def test_incidents_list_filters(data_dir, filters, ids):
    assert listed(data_dir, *filters) == ids


def test_incidents_list_table_and_show_name_the_sender(data_dir):
    table = run("incidents", "list", "--data-dir", str(data_dir)).out
    assert table.splitlines()[0].split()[:6] == ["TIME", "ID", "ACTION", "RULE", "HOST", "USER"]
    assert [line.split()[5] for line in table.splitlines()[1:]] == ["alice", "Bob", "-"]
    shown = run("incidents", "show", "BM-0", "--data-dir", str(data_dir)).out.splitlines()
    assert "user          alice" in shown
    assert "identity      proxyauth" in shown
    assert "user_groups   payroll, staff" in shown


def export(data_dir: Path, fmt: str) -> list[str]:
    result = run("incidents", "export", "--format", fmt, "--data-dir", str(data_dir))
    assert result.code == 0, result.err
    return result.out.splitlines()


def test_ecs_export_carries_user_and_groups(data_dir):
    validator = jsonschema.Draft202012Validator(
        json.loads((SCHEMAS / "ecs-incident.schema.json").read_text()))
    docs = [json.loads(line) for line in export(data_dir, "ecs")]
    for doc in docs:
        assert not [e.message for e in validator.iter_errors(doc)], doc
    assert docs[0]["user"] == {"name": "alice", "group": {"name": ["payroll", "staff"]}}
    assert docs[1]["user"] == {"name": "Bob"}
    assert "user" not in docs[2]
    assert [d["baomi"]["identity"] for d in docs] == ["proxyauth", "header", "none"]
    assert not validator.is_valid({**docs[0], "user": {"name": "a", "group": {"name": [1]}}})


def test_ocsf_export_carries_actor_user_and_groups(data_dir):
    validator = jsonschema.Draft202012Validator(
        json.loads((SCHEMAS / "ocsf-2006-data-security-finding.schema.json").read_text()))
    docs = [json.loads(line) for line in export(data_dir, "ocsf")]
    for doc in docs:
        assert not [e.message for e in validator.iter_errors(doc)], doc
    assert docs[0]["actor"] == {"user": {"name": "alice", "groups": [{"name": "payroll"},
                                                                     {"name": "staff"}]}}
    assert docs[1]["actor"] == {"user": {"name": "Bob"}}
    assert "actor" not in docs[2]
    assert docs[0]["unmapped"]["identity"] == "proxyauth"
    assert not validator.is_valid({**docs[0], "actor": {"user": {"name": "a", "groups": [{}]}}})


def test_syslog_export_carries_user_groups_and_method():
    meta = {"incident": "BM-1", "action": "block", "user": "alice", "identity": "ldap",
            "user_groups": ["payroll", "staff"], "time": "2026-01-01T00:00:00Z"}
    line = to_syslog({"meta": meta, "status": "new"}, hostname="gw")
    assert ' user="alice" groups="payroll,staff" identity="ldap" status="new"' in line


def refused(user: str | None) -> DecisionRecord:
    return record(user=user, incident_id="BM-20260101T000000Z-0badc0de")


@pytest.mark.parametrize("lang, sentence", [
    ("en", "You, alice, tried to send this request. Blocked by the data-protection policy"),
    ("zh", "您（alice）试图发送此请求。已被数据保护策略拦截"),
])
def test_refusal_names_a_known_sender(lang, sentence):
    assert act.refusal_message(refused("alice"), lang).startswith(sentence)
    assert sentence.split("。")[0].split(". ")[0] in act.block_page(refused("alice"), lang)
    assert act.refusal_message(refused(None), lang).startswith(sentence.split("。")[-1].split(
        ". ")[-1])


def test_refusal_page_escapes_the_user_name():
    page = act.block_page(refused("<b>mallory</b>"), "en")
    assert "You, &lt;b&gt;mallory&lt;/b&gt;, tried" in page and "<b>mallory" not in page


def test_identity_metrics_count_methods_never_users():
    metrics = Metrics()
    for method in ("proxyauth", "ldap", "header", "ipmap", "none", "alice"):
        metrics.identity(method)
    metrics.identity_rejected("untrusted_header")
    metrics.identity_rejected("bob")
    text = generate_latest(metrics.registry).decode()
    for method in ("proxyauth", "ldap", "header", "ipmap", "none", "other"):
        assert f'baomi_identified_requests_total{{method="{method}"}} 1.0' in text
    assert 'baomi_identity_rejections_total{reason="untrusted_header"} 1.0' in text
    assert 'baomi_identity_rejections_total{reason="other"} 1.0' in text
    assert 'baomi_identity_rejections_total{reason="missing_credentials"} 0.0' in text
    assert "alice" not in text and "bob" not in text
