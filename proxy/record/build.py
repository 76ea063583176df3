"""The one DecisionRecord of a request, built from its facts, decision and inspection.

    record = decision_record(facts, decision, inspection, policy_hash=policy.hash,
                             mode="regular", seconds=0.004)
    record.incident_id -> "BM-20261127T153000Z-9f3a1c2b"

Clear fields never hold a raw value (``redact_record``); the raw evidence is for the
encrypted incident store only.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from policies.facts import Decision, RequestFacts
from proxy.record.decisions import DecisionRecord
from proxy.record.incidents.entropy import token
from proxy.record.incidents.redact import longest_first, redact_record


def new_incident_id(now: datetime | None = None) -> str:
    """Time-sortable and unguessable: ``BM-20261127T153000Z-9f3a1c2b``."""
    now = now or datetime.now(UTC)
    return f"BM-{now:%Y%m%dT%H%M%SZ}-{token(4).hex()}"  # as secrets.token_hex(4)


def decision_record(facts: RequestFacts, decision: Decision, inspection, *, policy_hash: str,
                    mode: str, seconds: float, uninspected: str | None = None,
                    error_stage: str | None = None) -> DecisionRecord:
    findings = inspection.findings if inspection else ()
    if findings:
        counts = dict(sorted(Counter(f.entity for f in findings).items()))
        evidence = tuple(
            {"entity": f.entity, "location": f.location, "score": round(f.score, 2),
             "value": f.value, "context": ctx_text}
            for f, ctx_text in zip(findings, inspection.contexts, strict=False)
        )
        by_entity = _masked_once(findings)
        masked = sorted(set(by_entity.values()))[:50]
        snippets = {value: m for (_, value), m in by_entity.items()}  # for redaction
        locations = sorted({f.location for f in findings})[:50]
    else:  # most requests: nothing to count, keep or redact
        counts, evidence, masked, locations, snippets = {}, (), [], [], {}
    return redact_record(DecisionRecord(  # clear fields: no raw value even from a URL path
        time=facts.time.isoformat().replace("+00:00", "Z"),
        incident_id=new_incident_id(facts.time),
        source=facts.source_ip,
        user=facts.user,
        scheme=facts.scheme,
        host=facts.host,
        port=facts.port,
        method=facts.method,
        path=facts.path,
        mode=mode,
        action=decision.action,
        rule=decision.rule,
        enforced=decision.would_be is None,
        would_be=decision.would_be,
        reason=decision.reason,
        entity_counts=counts,
        masked=masked,
        locations=locations,
        policy_hash=policy_hash,
        approval=decision.approval,
        uninspected=uninspected,
        error_stage=error_stage,
        bytes_inspected=inspection.bytes_inspected if inspection else 0,
        inspect_seconds=round(seconds, 6),
        records=decision.records,
        evidence=evidence,
        user_groups=sorted(facts.groups),
        identity=facts.identity_method,
        rule_severity=decision.severity,
    ), masks=longest_first(snippets))


def _masked_once(findings) -> dict[tuple[str, str], str]:
    """(entity, value) -> ``Finding.masked()``, each computed once (a keyed HMAC each): the
    record's ``masked`` snippets and its redaction both come from here."""
    masked: dict[tuple[str, str], str] = {}
    for f in findings:
        if (f.entity, f.value) not in masked:
            masked[f.entity, f.value] = f.masked()
    return masked
