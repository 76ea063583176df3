"""The policy decision made cheaper per request (s22) decides exactly as the code it replaced.

Changed: ``parse_ip`` caches the ``ipaddress`` parse and ``Endpoint.of`` its endpoint (the
same few peers and destinations on every request); ``decide_names`` keeps the facts when the
name is already their host; a decision is built with its policy's hash (no
``dataclasses.replace`` per request); a request without findings groups no records; the
findings' value forms and records are worked out once for every name. Each is
checked against a copy of the code before the change, kept here as the reference, over
generated facts, names and findings, with the seed policy and one with sources,
destinations, approvals and monitor mode.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_decide import CUSTOM, DEFAULT

from detectors.dictionary import value_form
from detectors.model import Finding
from detectors.records import group
from policies import decide as new
from policies.decide import _covering_approval, _Request, _rule_decision, _selected
from policies.facts import Decision, RequestFacts
from policies.load import load_policy
from policies.model import Endpoint, parse_ip

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True)

# ---------------------------------------------------------------- the reference (old code)


def old_parse_ip(text):
    text = (text or "").strip().strip("[]")
    if not text or not (text[-1].isdigit() or ":" in text):
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def old_endpoint(host, destination_ip):
    name = host.strip().lower().rstrip(".")
    found = (old_parse_ip(destination_ip), old_parse_ip(name))
    return Endpoint(name, tuple(dict.fromkeys(a for a in found if a is not None)))


def old_request(policy, facts, findings):
    threshold, allowed = policy.detection.score_threshold, policy.allowed_values
    kept = tuple(f for f in findings
                 if f.score >= threshold and value_form(f.value) not in allowed)
    endpoint = old_endpoint(facts.host, facts.destination_ip)
    return _Request(policy=policy, facts=facts, endpoint=endpoint,
                    scheme=facts.scheme.lower(), internal=policy.internal.matches(endpoint),
                    findings=kept, records=group(kept))


def old_distinct(findings):
    values = {(f.entity, value_form(f.value)) for f in findings}
    counts = {}
    for entity, _ in sorted(values):
        counts[entity] = counts.get(entity, 0) + 1
    return counts


def old_triggered(rule, request):
    if rule.sources is not None and not request.from_source(rule.sources):
        return None
    if rule.destinations is not None and not any(map(request.to_destination, rule.destinations)):
        return None
    if rule.schemes is not None and request.scheme not in rule.schemes:
        return None
    selector = rule.data
    if selector is None:
        return old_distinct(request.findings)
    hits = [f for f in request.findings
            if f.entity in selector.entities and f.score >= selector.min_score]
    counts = old_distinct(hits)
    if sum(counts.values()) < selector.min_count:
        return None
    if selector.min_records is not None and len(_selected(rule, request)) < selector.min_records:
        return None
    return counts


def old_finish(policy, decision, approval):
    decision = replace(decision, policy_hash=policy.hash)
    if approval is not None and decision.action != "block":
        decision = replace(decision, approval=approval.id, agreement=approval.agreement,
                           reason=f"{decision.reason}; approval {approval.id} applied")
    if policy.mode == "monitor":
        return replace(decision, action="monitor", would_be=decision.action, enforced=False)
    return decision


def old_decide(policy, facts, findings):
    request = old_request(policy, facts, findings)
    approval = None
    for rule in policy.rules:
        triggered = old_triggered(rule, request)
        if triggered is None:
            continue
        lifts = rule.approvable and rule.action in ("block", "mask")
        cover = _covering_approval(triggered, request) if lifts else None
        if cover is not None:
            approval = approval or cover
            continue
        return old_finish(policy, _rule_decision(rule, triggered, request), approval)
    default = Decision(policy.default_action, "default", "no rule matched; default action",
                       records=len(request.records))
    return old_finish(policy, default, approval)


def old_decide_names(policy, facts, names, findings):
    decisions = [old_decide(policy, replace(facts, host=name), findings)
                 for name in (names or (facts.host,))]
    best = decisions[0]
    for d in decisions[1:]:
        best = new.strictest(best, d)
    return best


# ---------------------------------------------------------------- generated requests

IP_TEXTS = st.one_of(
    st.ip_addresses().map(str),
    st.ip_addresses(v=4).map(lambda a: f"::ffff:{a}"),
    st.ip_addresses(v=6).map(lambda a: f"[{a}]"),
    st.sampled_from(["10.20.1.5", "192.168.50.7", "10.99.0.1", "203.0.113.9", "2001:db8::1",
                     " 10.0.0.1 ", "", "1.2.3", "999.1.1.1", "::", "localhost", "a:b", "7"]),
    st.text(alphabet="0123456789abcdef.:[] ", max_size=20),
)
HOSTS = st.one_of(
    st.sampled_from(["api.partner.example.net", "API.Partner.example.net.", "wiki.corp.example.com",
                     "x.svc.example.com", "gitlab.example.com", "upload.example.org",
                     "127.0.0.1", "203.0.113.9", "[2001:db8::5]", "corp.example.com"]),
    IP_TEXTS,
)
ENTITIES = ["PHONE_NUMBER", "EMAIL_ADDRESS", "CN_RESIDENT_ID", "CREDIT_CARD", "PERSON",
            "ADDRESS", "CN_PASSPORT"]
FINDINGS = st.lists(st.builds(
    lambda entity, i, score, row: Finding(entity, score, 0, 11, f"json:$.rows[{row}].v", row,
                                          f"1380013{i:04d}"),
    st.sampled_from(ENTITIES), st.integers(0, 20), st.sampled_from([0.3, 0.45, 0.6, 0.9, 1.0]),
    st.integers(0, 6)), max_size=8)
NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
FACTS = st.builds(
    lambda source, host, scheme, dest, user, days: RequestFacts(
        source, host, 443, scheme, "POST", "/", NOW + timedelta(days=days), destination_ip=dest,
        user=user, groups=frozenset({"Finance"}) if user else frozenset()),
    IP_TEXTS, HOSTS, st.sampled_from(["https", "http", "HTTPS"]), st.none() | IP_TEXTS,
    st.sampled_from([None, "alice", "bob"]), st.integers(-200, 200))


@pytest.fixture(scope="module")
def policies(tmp_path_factory):
    path = tmp_path_factory.mktemp("policy") / "custom.yaml"
    path.write_text(CUSTOM)
    monitor = path.with_name("monitor.yaml")
    monitor.write_text(CUSTOM.replace("mode: enforce", "mode: monitor"))
    return [load_policy(DEFAULT), load_policy(path), load_policy(monitor)]


# ---------------------------------------------------------------- the properties


@SETTINGS
@given(IP_TEXTS)
def test_parse_ip_as_before(text):
    assert parse_ip(text) == old_parse_ip(text)
    assert parse_ip(text) == old_parse_ip(text)  # the cached answer too


@SETTINGS
@given(HOSTS, st.none() | IP_TEXTS)
def test_endpoint_as_before(host, ip):
    assert Endpoint.of(host, ip) == old_endpoint(host, ip)
    assert Endpoint.of(host, ip) == old_endpoint(host, ip)


@SETTINGS
@given(FACTS, st.lists(HOSTS, max_size=3), FINDINGS)
def test_decide_names_as_before(policies, facts, names, findings):
    for policy in policies:
        assert new.decide_names(policy, facts, names, findings) == \
            old_decide_names(policy, facts, names, findings)


def test_the_custom_policies_decide_by_every_branch(policies):
    """The generated requests reach sources, destinations, approvals and monitor mode (the
    property above is not only comparing defaults)."""
    _, custom, monitor = policies
    hr = RequestFacts("10.20.1.5", "api.partner.example.net", 443, "https", "POST", "/",
                      datetime(2026, 9, 1, tzinfo=UTC))
    rid = [Finding("CN_RESIDENT_ID", 1.0, 0, 18, "body", 0, "11010519491231002X")]
    decided = new.decide_names(custom, hr, ["api.partner.example.net"], rid)
    assert decided == old_decide_names(custom, hr, ["api.partner.example.net"], rid)
    assert decided.policy_hash == custom.hash
    watched = new.decide_names(monitor, hr, [], rid)
    assert (watched.action, watched.enforced) == ("monitor", False)
    assert watched == old_decide_names(monitor, hr, [], rid)
