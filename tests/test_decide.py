"""decide() and failure_decision(): the seed rules, first-match order, approvals, destinations,
sources, monitor mode and failure actions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from detectors.model import Finding
from policies.decide import decide, failure_decision
from policies.facts import RequestFacts
from policies.load import load_policy

DEFAULT = Path(__file__).resolve().parent.parent / "policies" / "default.yaml"
CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=CST)

HR = "10.20.1.5"  # in source group hr
LAB = "192.168.50.7"  # in source group lab
OTHER = "10.99.0.1"  # in no source group
PARTNER = "api.partner.example.net"

CUSTOM = """
version: 1
mode: enforce
internal:
  hosts: [.corp.example.com, "*.svc.example.com", gitlab.example.com]
  cidrs: [10.0.0.0/8, "2001:db8::/32"]
destinations:
  partner:
    hosts: [api.partner.example.net]
    cidrs: [203.0.113.0/24]
    agreement: DPA-2026-001
sources:
  hr: {cidrs: [10.20.0.0/16]}
  lab: {cidrs: [192.168.50.0/24]}
entity_groups:
  contact: [PHONE_NUMBER, EMAIL_ADDRESS]
  customer-data: [CN_RESIDENT_ID, CREDIT_CARD, CN_PASSPORT, PHONE_NUMBER, EMAIL_ADDRESS, PERSON]
rules:
  - name: block-plain-http
    description: encrypted only
    action: block
    scheme: [http]
    data: {entities: [customer-data]}
    approvable: false
  - name: block-ids
    description: ids never leave
    action: block
    data: {entities: [CN_RESIDENT_ID, CREDIT_CARD, CN_PASSPORT]}
  - name: monitor-lab
    description: lab traffic is watched
    action: monitor
    source: [lab]
  - name: allow-internal
    description: ours
    action: allow
    destination: [internal]
  - name: mask-external
    description: mask contacts
    action: mask
    destination: [external]
    data: {entities: [contact], min_score: 0.7}
default_action: allow
detection:
  allow_values: ["400-800-8888"]
approvals:
  - id: APR-ACTIVE
    source: hr
    destination: partner
    data: [CN_RESIDENT_ID, PERSON]
    purpose: payroll
    approver: dpo
    agreement: DPA-2026-001
    starts: 2026-01-01T00:00:00+08:00
    expires: 2026-12-31T00:00:00+08:00
  - id: APR-EXPIRED
    source: any
    destination: partner
    data: [CREDIT_CARD]
    purpose: refunds
    approver: dpo
    agreement: DPA-2025-009
    expires: 2026-05-31T23:59:59+08:00
  - id: APR-FUTURE
    source: any
    destination: partner
    data: [CN_PASSPORT]
    purpose: travel
    approver: dpo
    agreement: DPA-2026-077
    starts: 2026-07-01T00:00:00+08:00
    expires: 2026-12-31T00:00:00+08:00
"""


@pytest.fixture(scope="module")
def default_policy():
    return load_policy(DEFAULT)


@pytest.fixture(scope="module")
def custom_policy(tmp_path_factory):
    path = tmp_path_factory.mktemp("policy") / "custom.yaml"
    path.write_text(CUSTOM)
    return load_policy(path)


def facts(host="upload.example.org", scheme="https", source=OTHER, ip=None, time=NOW):
    return RequestFacts(source, host, 443, scheme, "POST", "/", time, destination_ip=ip)


def found(entity, value, score=0.9, location="body"):
    return Finding(entity, score, 0, len(value), location, 0, value)


RID = found("CN_RESIDENT_ID", "11010519491231002X")
CARD = found("CREDIT_CARD", "6222021234567890123")
PASSPORT = found("CN_PASSPORT", "E12345678")
PERSON = found("PERSON", "张伟")
PHONE = found("PHONE_NUMBER", "13800138000")


def phones(n):
    """One customer record each: ``json:$.customers[i].phone``."""
    return [
        found("PHONE_NUMBER", f"1380013{8000 + i}", location=f"json:$.customers[{i}].phone")
        for i in range(n)
    ]


def emails(n):
    return [
        found("EMAIL_ADDRESS", f"user{i}@example.com", location=f"json:$.contacts[{i}].email")
        for i in range(n)
    ]


DEFAULT_CASES = [
    pytest.param("http", [PHONE], "block", "block-plain-http", id="http-phone"),
    pytest.param("http", [PERSON], "block", "block-plain-http", id="http-person"),
    pytest.param("http", [RID], "block", "block-plain-http", id="http-first-match-wins"),
    pytest.param(
        "http", [found("CN_USCC", "91350100M000100Y43")], "allow", "default", id="http-uscc"
    ),
    pytest.param("http", [], "allow", "default", id="http-nothing"),
    pytest.param("https", [RID], "block", "block-ids-and-cards", id="resident-id"),
    pytest.param("https", [CARD], "block", "block-ids-and-cards", id="card"),
    pytest.param("https", [PASSPORT, PHONE], "block", "block-ids-and-cards", id="passport"),
    pytest.param("https", phones(5), "block", "block-bulk-contacts", id="five-phones"),
    pytest.param("https", phones(3) + emails(2), "block", "block-bulk-contacts", id="mixed-five"),
    pytest.param("https", phones(4), "mask", "mask-contacts-external", id="four-phones"),
    pytest.param(
        "https",
        phones(4) + [found("PHONE_NUMBER", "138-0013-8000"), found("PHONE_NUMBER", "1380013 8001")],
        "mask",
        "mask-contacts-external",
        id="duplicates-count-once",
    ),
    pytest.param("https", [PHONE], "mask", "mask-contacts-external", id="one-phone"),
    pytest.param("https", emails(1), "mask", "mask-contacts-external", id="one-email"),
    pytest.param(
        "https",
        [found("PHONE_NUMBER", "13800138000", 0.45)],
        "allow",
        "default",
        id="below-min-score",
    ),
    pytest.param(
        "https",
        [found("PHONE_NUMBER", "13800138000", 0.3)],
        "allow",
        "default",
        id="below-threshold",
    ),
    pytest.param("https", [PERSON], "allow", "default", id="person-alone"),
    pytest.param("https", [], "allow", "default", id="nothing"),
]


@pytest.mark.parametrize("scheme, findings, action, rule", DEFAULT_CASES)
def test_default_policy_rules(default_policy, scheme, findings, action, rule):
    decision = decide(default_policy, facts(scheme=scheme), findings)
    assert (decision.action, decision.rule) == (action, rule)
    assert decision.enforced and decision.would_be is None and decision.approval is None


def test_mask_names_the_selector_entities(default_policy):
    decision = decide(default_policy, facts(), [PHONE])
    assert decision.mask_entities == {"PHONE_NUMBER", "EMAIL_ADDRESS"}
    assert "PHONE_NUMBER x1" in decision.reason and "13800138000" not in decision.reason


def test_default_policy_treats_everything_as_external(default_policy):
    decision = decide(default_policy, facts(host="wiki.corp.example.com", ip="10.0.0.5"), phones(5))
    assert decision.rule == "block-bulk-contacts"


DESTINATIONS = [
    pytest.param("wiki.corp.example.com", None, "allow-internal", id="leading-dot-subdomain"),
    pytest.param("corp.example.com", None, "allow-internal", id="leading-dot-apex"),
    pytest.param("WIKI.Corp.Example.COM.", None, "allow-internal", id="case-and-trailing-dot"),
    pytest.param("evilcorp.example.com", None, "mask-external", id="not-a-suffix-trick"),
    pytest.param("a.b.svc.example.com", None, "allow-internal", id="glob-subdomain"),
    pytest.param("svc.example.com", None, "mask-external", id="glob-not-apex"),
    pytest.param("gitlab.example.com", None, "allow-internal", id="exact"),
    pytest.param("gitlab.example.com.evil.net", None, "mask-external", id="exact-only"),
    pytest.param("10.1.2.3", None, "allow-internal", id="ip-literal-host"),
    pytest.param("[2001:db8::5]", None, "allow-internal", id="ipv6-literal-host"),
    pytest.param("app.example.org", "10.5.5.5", "allow-internal", id="destination-ip"),
    pytest.param("app.example.org", "::ffff:10.0.0.1", "allow-internal", id="ipv4-mapped"),
    pytest.param("app.example.org", "11.0.0.1", "mask-external", id="outside-cidr"),
    pytest.param("app.example.org", None, "mask-external", id="unknown-is-external"),
]


@pytest.mark.parametrize("host, ip, rule", DESTINATIONS)
def test_internal_and_external_destinations(custom_policy, host, ip, rule):
    assert decide(custom_policy, facts(host=host, ip=ip), [PHONE]).rule == rule


@pytest.mark.parametrize(
    "source, rule",
    [
        pytest.param(LAB, "monitor-lab", id="in-cidr"),
        pytest.param("::ffff:192.168.50.7", "monitor-lab", id="ipv4-mapped"),
        pytest.param("192.168.51.7", "mask-external", id="outside-cidr"),
        pytest.param("not-an-ip", "mask-external", id="unparseable"),
    ],
)
def test_source_groups(custom_policy, source, rule):
    decision = decide(custom_policy, facts(source=source), [PHONE])
    assert decision.rule == rule
    if rule == "monitor-lab":  # a monitor rule in enforce mode: forwarded, recorded, enforced
        assert (decision.action, decision.would_be, decision.enforced) == ("monitor", None, True)


def test_ids_block_even_internal_destinations(custom_policy):
    decision = decide(custom_policy, facts(host="wiki.corp.example.com"), [RID])
    assert (decision.action, decision.rule) == ("block", "block-ids")


APPROVALS = [
    pytest.param(
        facts(PARTNER, source=HR),
        [RID, PERSON],
        "allow",
        "default",
        "APR-ACTIVE",
        id="active-covers",
    ),
    pytest.param(
        facts("203.0.113.9", source=HR),
        [RID],
        "allow",
        "default",
        "APR-ACTIVE",
        id="partner-by-ip-literal",
    ),
    pytest.param(
        facts("cdn.example.org", ip="203.0.113.10", source=HR),
        [RID],
        "allow",
        "default",
        "APR-ACTIVE",
        id="partner-by-destination-ip",
    ),
    pytest.param(
        facts(PARTNER, source=HR),
        [RID, PHONE],
        "mask",
        "mask-external",
        "APR-ACTIVE",
        id="approval-then-later-rule-masks",
    ),
    pytest.param(
        facts(PARTNER, source=HR, scheme="http"),
        [RID],
        "block",
        "block-plain-http",
        None,
        id="http-rule-not-approvable",
    ),
    pytest.param(
        facts(PARTNER, source=HR),
        [RID, CARD],
        "block",
        "block-ids",
        None,
        id="not-covering-all-entities",
    ),
    pytest.param(
        facts(PARTNER, source=OTHER), [RID], "block", "block-ids", None, id="wrong-source"
    ),
    pytest.param(
        facts("other.example.net", source=HR),
        [RID],
        "block",
        "block-ids",
        None,
        id="wrong-destination",
    ),
    pytest.param(facts(PARTNER, source=OTHER), [CARD], "block", "block-ids", None, id="expired"),
    pytest.param(
        facts(PARTNER, source=OTHER, time=datetime(2026, 5, 31, 12, tzinfo=CST)),
        [CARD],
        "allow",
        "default",
        "APR-EXPIRED",
        id="before-expiry",
    ),
    pytest.param(
        facts(PARTNER, source=OTHER), [PASSPORT], "block", "block-ids", None, id="not-yet-started"
    ),
    pytest.param(
        facts(PARTNER, source=HR, time=datetime(2026, 1, 1, tzinfo=CST)),
        [RID],
        "allow",
        "default",
        "APR-ACTIVE",
        id="at-starts-is-active",
    ),
    pytest.param(
        facts(PARTNER, source=HR, time=datetime(2026, 12, 31, tzinfo=CST)),
        [RID],
        "block",
        "block-ids",
        None,
        id="at-expires-is-over",
    ),
    pytest.param(
        facts(PARTNER, source=HR, time=datetime(2026, 12, 30, 16, 30, tzinfo=UTC)),
        [RID],
        "block",
        "block-ids",
        None,
        id="expiry-across-timezones",
    ),
]


@pytest.mark.parametrize("request_facts, findings, action, rule, approval", APPROVALS)
def test_approvals(custom_policy, request_facts, findings, action, rule, approval):
    decision = decide(custom_policy, request_facts, findings)
    assert (decision.action, decision.rule, decision.approval) == (action, rule, approval)
    expected_agreement = {"APR-ACTIVE": "DPA-2026-001", "APR-EXPIRED": "DPA-2025-009"}
    assert decision.agreement == expected_agreement.get(approval)


def test_approval_is_not_recorded_when_a_later_rule_blocks(custom_policy, tmp_path):
    text = CUSTOM.replace("default_action: allow", "default_action: block")
    (tmp_path / "p.yaml").write_text(text)
    decision = decide(load_policy(tmp_path / "p.yaml"), facts(PARTNER, source=HR), [RID])
    assert (decision.action, decision.rule, decision.approval) == ("block", "default", None)


@pytest.mark.parametrize(
    "findings, rule",
    [
        pytest.param([found("PHONE_NUMBER", "400 800 8888")], "default", id="allow-value-ignored"),
        pytest.param([found("PHONE_NUMBER", "13800138000", 0.69)], "default", id="rule-min-score"),
        pytest.param(
            [found("PHONE_NUMBER", "13800138000", 0.7)], "mask-external", id="at-min-score"
        ),
    ],
)
def test_allow_values_and_min_score(custom_policy, findings, rule):
    assert decide(custom_policy, facts(), findings).rule == rule


MONITOR = [
    pytest.param("http", [PHONE], "block", "block-plain-http", id="would-block"),
    pytest.param("https", [PHONE], "mask", "mask-contacts-external", id="would-mask"),
    pytest.param("https", [], "allow", "default", id="would-allow"),
]


@pytest.mark.parametrize("scheme, findings, would_be, rule", MONITOR)
def test_monitor_mode_forwards_and_records_would_be(
    default_policy, scheme, findings, would_be, rule
):
    policy = replace(default_policy, mode="monitor")
    decision = decide(policy, facts(scheme=scheme), findings)
    assert (decision.action, decision.would_be, decision.rule) == ("monitor", would_be, rule)
    assert decision.enforced is False


@pytest.mark.parametrize("kind", ["error", "timeout", "oversize", "uninspectable"])
def test_failure_defaults_block(default_policy, kind):
    decision = failure_decision(default_policy, kind, facts(), "detector said no")
    assert (decision.action, decision.rule, decision.reason) == (
        "block",
        f"on_{kind}",
        "detector said no",
    )
    assert decision.enforced


@pytest.mark.parametrize(
    "kind, action",
    [("error", "block"), ("timeout", "allow"), ("oversize", "monitor"), ("uninspectable", "block")],
)
def test_failure_actions_from_policy(tmp_path, kind, action):
    text = (
        "version: 1\nmode: enforce\ndefault_action: allow\nrules: []\n"
        "failure:\n  on_timeout: allow\n  on_oversize: monitor\n"
    )
    (tmp_path / "p.yaml").write_text(text)
    decision = failure_decision(load_policy(tmp_path / "p.yaml"), kind, facts(), "x")
    assert (decision.action, decision.rule) == (action, f"on_{kind}")


def test_unknown_failure_kind_blocks(tmp_path):
    text = (
        "version: 1\nmode: enforce\ndefault_action: allow\nrules: []\nfailure: {on_error: allow}\n"
    )
    (tmp_path / "p.yaml").write_text(text)
    decision = failure_decision(load_policy(tmp_path / "p.yaml"), "gremlins", facts(), "x")
    assert (decision.action, decision.rule) == ("block", "on_error")


def test_failure_in_monitor_mode(default_policy):
    decision = failure_decision(replace(default_policy, mode="monitor"), "timeout", facts(), "x")
    assert (decision.action, decision.would_be, decision.enforced) == ("monitor", "block", False)


def test_naive_request_time_is_refused_when_approvals_apply(custom_policy):
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(custom_policy, facts(PARTNER, source=HR, time=datetime(2026, 6, 1)), [RID])


def uncomment_examples(text: str) -> str:
    """Apply default.yaml's own instructions: drop "[]"/"{}" after a key and the "#" of the
    example lines that follow it."""
    lines, out, in_example = text.splitlines(), [], False
    for line, after in zip(lines, [*lines[1:], ""], strict=True):
        if in_example and line.lstrip().startswith("#   "):
            out.append(line.replace("#", " ", 1))
            continue
        example_follows = after.lstrip().startswith("#   ")
        in_example = line.endswith((": []", ": {}")) and example_follows
        out.append(line[:-3] if in_example else line)
    return "\n".join(out) + "\n"


def test_commented_examples_in_default_policy_work(tmp_path):
    path = tmp_path / "edited.yaml"
    path.write_text(uncomment_examples(DEFAULT.read_text()))
    policy = load_policy(path)
    assert policy.internal and set(policy.destinations) == {"payroll-partner"}
    assert policy.passthrough == (".pinned-bank-app.example.com",)
    hr, partner = "10.20.30.5", "api.payroll-partner.example.net"
    covered = decide(policy, facts(partner, source=hr), [RID, PERSON])
    assert (covered.action, covered.approval, covered.agreement) == (
        "allow",
        "APR-2026-014",
        "DPA-2026-001",
    )
    assert decide(policy, facts("gitlab.example.com"), [PHONE]).rule == "allow-internal"
    assert decide(policy, facts(), [found("PHONE_NUMBER", "400 800 8888")]).rule == "default"


# -- customer records (min_records) ---------------------------------------------------------------

RECORDS_POLICY = """
version: 1
mode: enforce
entity_groups:
  contact: [PHONE_NUMBER, EMAIL_ADDRESS]
rules:
  - name: block-bulk-people
    description: 3 or more customer records with contact details
    action: block
    data: {entities: [contact], min_records: 3}
  - name: block-known-customers
    description: a customer of ours, matched exactly
    action: block
    data: {entities: [CUSTOMER_RECORD]}
default_action: allow
detection:
  allow_values: ["13800138000"]
"""


@pytest.fixture(scope="module")
def records_policy(tmp_path_factory):
    path = tmp_path_factory.mktemp("policy") / "records.yaml"
    path.write_text(RECORDS_POLICY)
    return load_policy(path)


def person(i, *entities, score=0.9):
    values = {
        "PERSON": f"客户{i}",
        "PHONE_NUMBER": f"1390013{i:04d}",
        "EMAIL_ADDRESS": f"c{i}@example.com",
        "ADDRESS": f"北京市朝阳区{i}号",
    }
    return [found(e, values[e], score, f"json:$.customers[{i}].{e.lower()}") for e in entities]


def people(n, *entities, score=0.9):
    return [f for i in range(n) for f in person(i, *entities, score=score)]


RECORD_CASES = [
    pytest.param(people(3, "PERSON", "PHONE_NUMBER"), "block-bulk-people", 3, id="three-people"),
    pytest.param(
        people(2, "PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS"),
        "default",
        2,
        id="two-people-many-values",
    ),
    pytest.param(people(5, "PERSON", "ADDRESS"), "default", 5, id="people-without-contact"),
    pytest.param(people(3, "PHONE_NUMBER", score=0.45), "default", 3, id="below-min-score"),
    pytest.param(
        [found("PHONE_NUMBER", f"1390013{i:04d}", location="body") for i in range(3)],
        "block-bulk-people",
        3,
        id="free-text-list",
    ),
    pytest.param(
        people(2, "PHONE_NUMBER")
        + [found("PHONE_NUMBER", "+86 139-0013-0000", location="query:tel")],
        "default",
        2,
        id="same-person-in-query-and-body",
    ),
    pytest.param(
        people(2, "PHONE_NUMBER")
        + [found("PHONE_NUMBER", "+86 138 0013 8000", location="json:$.customers[9].phone")],
        "default",
        2,
        id="allow-listed-in-another-form",
    ),
    pytest.param(
        [found("CUSTOMER_RECORD", "13900139000")], "block-known-customers", 1, id="exact-match"
    ),
]


@pytest.mark.parametrize("findings, rule, records", RECORD_CASES)
def test_min_records_counts_people(records_policy, findings, rule, records):
    decision = decide(records_policy, facts(), findings)
    assert decision.rule == rule
    assert decision.records == records


def test_records_reason_names_count_and_entities(records_policy):
    findings = people(4, "PERSON", "PHONE_NUMBER") + person(9, "PHONE_NUMBER", "ADDRESS")
    decision = decide(records_policy, facts(), findings)
    assert decision.reason == (
        "3 or more customer records with contact details: "
        "5 customer records (PHONE_NUMBER, PERSON, ADDRESS)"
    )
    assert "1390013" not in decision.reason and "客户" not in decision.reason


def test_default_bulk_rule_counts_records_not_values(default_policy):
    # one customer with five contact values is one record: masked, not a bulk export
    one = [
        found("PHONE_NUMBER", f"1390013{i:04d}", location=f"json:$.customer.{key}")
        for i, key in enumerate(("phone", "mobile", "office", "home", "fax"))
    ]
    assert decide(default_policy, facts(), one).rule == "mask-contacts-external"
    six = people(6, "PERSON", "PHONE_NUMBER")
    decision = decide(default_policy, facts(), six)
    assert (decision.action, decision.rule, decision.records) == ("block", "block-bulk-contacts", 6)
    assert "6 customer records (PERSON, PHONE_NUMBER)" in decision.reason


def test_monitor_mode_keeps_record_count(records_policy):
    policy = replace(records_policy, mode="monitor")
    decision = decide(policy, facts(), people(3, "PHONE_NUMBER"))
    assert (decision.action, decision.would_be, decision.records) == ("monitor", "block", 3)


# -- content.images and the strictest of two decisions -------------------------------------

def test_images_are_allowed_by_default_and_blocked_when_the_policy_says(default_policy) -> None:
    from policies.decide import content_decision

    assert default_policy.content.images == "allow"
    assert content_decision(default_policy, 3) is None
    blocking = replace(default_policy, content=replace(default_policy.content, images="block"))
    d = content_decision(blocking, 2)
    assert (d.action, d.rule) == ("block", "content-images")
    assert d.reason.startswith("2 images whose pixels cannot be inspected")
    assert content_decision(blocking, 0) is None


@pytest.mark.parametrize(("first", "second", "winner"), [
    ("allow", "block", "second"), ("block", "allow", "first"), ("mask", "block", "second"),
    ("block", "mask", "first"), ("mask", "mask", "first"), ("allow", None, "first"),
])
def test_strictest_of_two_decisions(first, second, winner) -> None:
    from policies.decide import strictest
    from policies.facts import Decision

    a = Decision(first, "a", "")
    b = Decision(second, "b", "") if second else None
    assert strictest(a, b) is (a if winner == "first" else b)
