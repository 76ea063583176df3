"""Decide what happens to one request: the first matching rule wins, like a firewall.

    decide(policy, facts, findings)
      -> Decision("block", "block-identity-documents", "... (CN_RESIDENT_ID x1)")
    failure_decision(policy, "timeout", facts, "detector did not answer in 5 s")
      -> Decision("block", "on_timeout", "detector did not answer in 5 s")

A rule matches when all its conditions hold. An active approval that covers the match skips a
block or mask rule (unless ``approvable: false``) and evaluation goes on to the next rule. In
monitor mode the decision is computed the same way and then turned into action "monitor" with
``would_be`` set.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from detectors.dictionary import value_form
from detectors.model import Finding
from detectors.records import CustomerRecord, group
from policies.facts import Decision, RequestFacts
from policies.model import (
    UNAUTHENTICATED,
    Approval,
    Endpoint,
    Policy,
    Rule,
    Source,
    parse_ip,
)


def decide(policy: Policy, facts: RequestFacts, findings: Sequence[Finding]) -> Decision:
    return _decide(policy, facts, _Found.of(policy, findings))


def _decide(policy: Policy, facts: RequestFacts, found: _Found) -> Decision:
    request = _Request.of(policy, facts, found)
    approval: Approval | None = None
    for rule in policy.rules:
        triggered = _triggered(rule, request)
        if triggered is None:
            continue
        # Approvals lift restrictions: an allow (or monitor) rule is never skipped, else a
        # covered transfer would fall through to a stricter default.
        lifts = rule.approvable and rule.action in ("block", "mask")
        cover = _covering_approval(triggered, request) if lifts else None
        if cover is not None:
            approval = approval or cover
            continue
        return _finish(policy, _rule_decision(rule, triggered, request), approval)
    default = Decision(
        policy.default_action,
        "default",
        "no rule matched; default action",
        records=len(request.records),
        policy_hash=policy.hash,
    )
    return _finish(policy, default, approval)


def content_decision(policy: Policy, images: int) -> Decision | None:
    """Uploaded images whose pixels cannot be inspected (their text metadata is, like any
    text): ``content.images: block`` refuses the request; ``allow`` (default) lets them go.

    content_decision(policy_with_images_block, 2)
      -> Decision("block", "content-images", "2 images whose pixels cannot be inspected ...")
    """
    if images <= 0 or policy.content.images != "block":
        return None
    noun = "image" if images == 1 else "images"
    return _finish(policy, Decision(
        "block", "content-images",
        f"{images} {noun} whose pixels cannot be inspected (content.images: block)"), None)


SEVERITY = {"allow": 0, "monitor": 1, "mask": 2, "block": 3}


def strictest(decision: Decision, other: Decision | None) -> Decision:
    """The stricter of two decisions (block > mask > monitor > allow; in monitor mode by what
    would have happened); the first on a tie."""
    if other is None:
        return decision
    def rank(d: Decision) -> int:
        return SEVERITY.get(d.would_be or d.action, 0)
    return other if rank(other) > rank(decision) else decision


def decide_names(policy: Policy, facts: RequestFacts, names: Sequence[str],
                 findings: Sequence[Finding]) -> Decision:
    """Decide for every name the destination goes by (SNI, Host header, CONNECT target); the
    strictest decision wins (the first of equals).

    A client controls the Host header and the SNI separately (domain fronting); deciding on
    only one of them would let it pick the friendlier name. No names: ``facts.host``.
    """
    found = _Found.of(policy, findings)  # the same for every name
    decisions = [_decide(policy, facts if name == facts.host else replace(facts, host=name),
                         found) for name in (names or (facts.host,))]
    best = decisions[0]
    for d in decisions[1:]:
        best = strictest(best, d)
    return best


def failure_decision(policy: Policy, kind: str, facts: RequestFacts, reason: str) -> Decision:
    """The policy's answer when inspection could not finish; ``kind`` picks ``failure.on_<kind>``."""
    action = policy.failure.action(kind)
    if action is None:  # a caller bug must not let data out: block whatever the policy says
        return Decision("block", "on_error", f"unknown failure kind {kind!r}: {reason}")
    return _finish(policy, Decision(action, f"on_{kind}", reason), None)


@dataclass(frozen=True, slots=True)
class _Found:
    """The findings the policy counts, worked out once per request (for every name)."""

    findings: tuple[Finding, ...]
    forms: tuple[str, ...]  # each finding's value_form: the rules compare values by it
    records: tuple[CustomerRecord, ...]  # people, not matches

    @classmethod
    def of(cls, policy: Policy, findings: Sequence[Finding]) -> _Found:
        if not findings:  # most requests
            return _NOTHING
        threshold, allowed = policy.detection.score_threshold, policy.allowed_values
        # Re-applied here so a detector that skipped them cannot change the decision.
        kept = [(f, form) for f in findings
                if f.score >= threshold and (form := value_form(f.value)) not in allowed]
        found = tuple(f for f, _ in kept)
        return cls(found, tuple(form for _, form in kept), group(found) if found else ())


_NOTHING = _Found((), (), ())


@dataclass(frozen=True, slots=True)
class _Request:
    """What the rules look at, worked out once per request."""

    policy: Policy
    facts: RequestFacts
    endpoint: Endpoint
    scheme: str
    internal: bool
    findings: tuple[Finding, ...]
    records: tuple[CustomerRecord, ...] = field(default=())  # people, not matches
    forms: tuple[str, ...] = ()  # value_form of each of ``findings``

    @classmethod
    def of(cls, policy: Policy, facts: RequestFacts, found: _Found) -> _Request:
        endpoint = Endpoint.of(facts.host, facts.destination_ip)
        return cls(
            policy=policy,
            facts=facts,
            endpoint=endpoint,
            scheme=facts.scheme.lower(),
            internal=policy.internal.matches(endpoint),
            findings=found.findings,
            records=found.records,
            forms=found.forms,
        )

    def from_source(self, names: frozenset[str] | str) -> bool:
        wanted = {names} if isinstance(names, str) else names
        if "any" in wanted or (UNAUTHENTICATED in wanted and self.facts.user is None):
            return True
        groups: list[Source] = [self.policy.sources[n] for n in wanted if n in self.policy.sources]
        client = parse_ip(self.facts.source_ip) if groups else None
        facts = self.facts
        return any(g.matches(client, facts.user, facts.groups) for g in groups)

    def to_destination(self, name: str) -> bool:
        if name == "any":
            return True
        if name in ("internal", "external"):
            return self.internal == (name == "internal")
        group = self.policy.destinations.get(name)
        return group is not None and group.addresses.matches(self.endpoint)


def _triggered(rule: Rule, request: _Request) -> dict[str, int] | None:
    """None when the rule does not match; else distinct values per entity that made it match."""
    if rule.sources is not None and not request.from_source(rule.sources):
        return None
    if rule.destinations is not None and not any(map(request.to_destination, rule.destinations)):
        return None
    if rule.schemes is not None and request.scheme not in rule.schemes:
        return None
    selector = rule.data
    if selector is None:
        return _distinct(zip(request.findings, request.forms, strict=True))
    hits = [
        (f, form)
        for f, form in zip(request.findings, request.forms, strict=True)
        if f.entity in selector.entities and f.score >= selector.min_score
    ]
    counts = _distinct(hits)
    if sum(counts.values()) < selector.min_count:
        return None
    if selector.min_records is not None and len(_selected(rule, request)) < selector.min_records:
        return None
    return counts


def _selected(rule: Rule, request: _Request) -> list[CustomerRecord]:
    """Customer records holding one of the rule's entities at its min_score."""
    selector = rule.data
    if selector is None:
        return list(request.records)
    return [r for r in request.records if r.has_any(selector.entities, selector.min_score)]


def _distinct(found: Iterable[tuple[Finding, str]]) -> dict[str, int]:
    """Number of distinct values per entity: one customer's phone seen twice counts once
    (findings with their ``value_form``)."""
    values = {(f.entity, form) for f, form in found}
    counts: dict[str, int] = {}
    for entity, _ in sorted(values):
        counts[entity] = counts.get(entity, 0) + 1
    return counts


def _covering_approval(triggered: dict[str, int], request: _Request) -> Approval | None:
    for approval in request.policy.approvals:
        if (
            approval.active(request.facts.time)
            and request.from_source(approval.source)
            and request.to_destination(approval.destination)
            and approval.entities.issuperset(triggered)
            and (approval.max_records is None or len(request.records) <= approval.max_records)
        ):
            return approval
    return None


def _rule_decision(rule: Rule, triggered: dict[str, int], request: _Request) -> Decision:
    masked = rule.data.entities if rule.action == "mask" and rule.data else frozenset()
    if rule.data is not None and rule.data.min_records is not None:
        reason = f"{rule.description}: {_people(_selected(rule, request))}"
    else:
        found = ", ".join(f"{entity} x{n}" for entity, n in triggered.items())
        reason = f"{rule.description} ({found})" if found else rule.description
    return Decision(
        rule.action, rule.name, reason, mask_entities=masked, records=len(request.records),
        severity=rule.severity, policy_hash=request.policy.hash,
    )


def _people(records: Sequence[CustomerRecord]) -> str:
    """'37 customer records (PERSON, PHONE_NUMBER, ADDRESS)': most frequent entity first."""
    total: Counter[str] = Counter()
    for record in records:
        total.update(record.entities.keys())
    names = ", ".join(e for e, _ in sorted(total.items(), key=lambda item: (-item[1], item[0])))
    noun = "customer record" if len(records) == 1 else "customer records"
    return f"{len(records)} {noun} ({names})"


def _finish(policy: Policy, decision: Decision, approval: Approval | None) -> Decision:
    if decision.policy_hash != policy.hash:  # built without it (a replace costs ~2 us)
        decision = replace(decision, policy_hash=policy.hash)
    if approval is not None and decision.action != "block":
        decision = replace(
            decision,
            approval=approval.id,
            agreement=approval.agreement,
            reason=f"{decision.reason}; approval {approval.id} applied",
        )
    if policy.mode == "monitor":
        return replace(decision, action="monitor", would_be=decision.action, enforced=False)
    return decision
