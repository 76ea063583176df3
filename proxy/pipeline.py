"""One request through inspection and the policy: the same function for HTTP requests,
WebSocket messages (``proxy.hook.addon``) and ``baomi scan`` (``proxy.tools.scan``), so the
proxy and scan decide every input alike.

    outcome = await process(policy, facts, names, raw, inspect)
    outcome.decision        -> Decision("block", "block-ids-and-cards", "...")
    outcome.uninspected     -> None, or oversize | undecodable | error | timeout
    outcome.error_stage     -> None, or "detect"

``inspect`` extracts and detects: the worker pool in the proxy, the detector in-process in
scan. What happens next (mask, answer, record) is the caller's; the proxy passes the pool
``mask_sets(policy)`` so a worker prepares the masked rewrite with its findings.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from policies.decide import content_decision, decide_names, failure_decision, strictest
from policies.facts import Decision, RequestFacts
from proxy.errors import InspectionError
from proxy.extraction.extract import Limits, RawRequest
from proxy.workers.inspection import Inspection

# InspectionError.kind -> DecisionRecord.uninspected
FAILURE_REASONS = {"oversize": "oversize", "uninspectable": "undecodable", "timeout": "timeout",
                   "error": "error"}

Inspect = Callable[[RawRequest, Limits, float], Awaitable[Inspection]]


@dataclass(frozen=True, slots=True)
class Outcome:
    decision: Decision
    inspection: Inspection | None = None  # None when inspection could not finish
    uninspected: str | None = None
    error_stage: str | None = None


_MASK_SETS: dict[str, tuple[frozenset[str], ...]] = {}  # by policy hash: one per policy


def mask_sets(policy) -> tuple[frozenset[str], ...]:
    """The entity sets the policy's mask rules mask (what ``Decision.mask_entities`` can be)."""
    sets = _MASK_SETS.get(policy.hash)
    if sets is None:
        if len(_MASK_SETS) > 16:  # reloads: keep a few
            _MASK_SETS.clear()
        sets = _MASK_SETS[policy.hash] = tuple(dict.fromkeys(
            rule.data.entities for rule in policy.rules
            if rule.action == "mask" and rule.data is not None))
    return sets


def limits_of(policy) -> Limits:
    return Limits(
        max_body_bytes=policy.limits.max_body_bytes,
        max_decoded_bytes=policy.limits.max_decoded_bytes,
        max_depth=policy.limits.max_depth,
    )


async def process(policy, facts: RequestFacts, names: Sequence[str], raw: RawRequest,
                  inspect: Inspect) -> Outcome:
    """Inspect ``raw`` and decide on it for every destination name; a failed inspection gets
    the policy's failure action for its kind (fail closed)."""
    try:
        inspection = await inspect(raw, limits_of(policy), policy.limits.timeout_seconds)
    except InspectionError as e:
        return Outcome(failure_decision(policy, e.kind, facts, str(e)), None,
                       FAILURE_REASONS[e.kind],
                       "detect" if e.kind in ("error", "timeout") else None)
    decision = decide_names(policy, facts, names, inspection.findings)
    decision = strictest(decision, content_decision(policy, inspection.images))
    return Outcome(decision, inspection)
