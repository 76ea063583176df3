"""A rule's ``severity`` (issue 15 §3: "severity, set by the rule's default and editable"):
validated with the policy, carried by the decision and its record into the incident's meta,
and the incident's severity until a reviewer changes it; rules without one keep the old
derivation (block -> high)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_approvals import facts, ids

from policies.decide import decide
from policies.errors import PolicyError
from policies.load import parse_policy
from proxy.record.build import decision_record
from proxy.record.incidents import IncidentStore, ensure_keys
from proxy.record.incidents.index import ReviewIndex
from proxy.record.incidents.review import triage

REPO = Path(__file__).resolve().parent.parent
DEFAULT = (REPO / "policies" / "default.yaml").read_text()
RULE = "  - name: block-ids-and-cards\n"


def policy_with(severity_line: str):
    assert DEFAULT.count(RULE) == 1
    return parse_policy(DEFAULT.replace(RULE, RULE + severity_line).encode(), "p.yaml")


def recorded(tmp_path: Path, policy) -> tuple[str, str]:
    """(incident id, its severity in the review index) after one blocked request."""
    ensure_keys(tmp_path)
    decision = decide(policy, facts(), ids(2))
    assert decision.rule == "block-ids-and-cards"
    record = decision_record(facts(), decision, None, policy_hash=policy.hash, mode="regular",
                             seconds=0.0)
    store = IncidentStore(tmp_path)
    try:
        store.write(record)
    finally:
        store.close()
    index = ReviewIndex.open(tmp_path)
    try:
        incident = index.incident(record.incident_id)
    finally:
        index.close()
    assert incident is not None
    assert incident["meta"].get("rule_severity") == decision.severity
    return record.incident_id, incident["severity"]


def test_a_rule_severity_is_the_incident_default_and_stays_editable(tmp_path):
    policy = policy_with("    severity: critical\n")
    assert policy.rules[[r.name for r in policy.rules].index("block-ids-and-cards")].severity \
        == "critical"
    incident_id, severity = recorded(tmp_path, policy)
    assert severity == "critical"
    assert triage(tmp_path, incident_id, "triaged", severity="low", actor="rita")[
        "severity"] == "low"


def test_policy_check_shows_a_rule_severity():
    from policies.load import summarize

    lines = summarize(policy_with("    severity: critical\n")).splitlines()
    assert next(line for line in lines if "block-ids-and-cards" in line).endswith(
        "[severity critical]")
    assert "[severity" not in summarize(policy_with(""))


def test_a_rule_without_severity_derives_it_from_the_action(tmp_path):
    policy = policy_with("")
    assert recorded(tmp_path, policy)[1] == "high"


@pytest.mark.parametrize("value", ["urgent", "HIGH", "3", "[high]"])
def test_an_unknown_severity_is_a_policy_error(value):
    with pytest.raises(PolicyError, match="severity"):
        policy_with(f"    severity: {value}\n")
