"""Facts about one request that a policy decides on, and the decision it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RequestFacts:
    source_ip: str  # client address as the proxy saw it
    host: str  # destination host name (SNI / Host header, not the redirected IP)
    port: int
    scheme: str  # "http" | "https"
    method: str
    path: str  # path without query
    time: datetime  # timezone-aware
    destination_ip: str | None = None  # resolved/redirect address, if known
    user: str | None = None  # None: nobody identified the sender (source "unauthenticated")
    groups: frozenset[str] = frozenset()  # the user's directory groups
    identity_method: str = "none"  # proxyauth | ldap | header | ipmap | none


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one request.

    action: "block" | "mask" | "allow" | "monitor"
    rule: the policy rule (or failure action such as "on_timeout") that decided
    masked: the findings to mask (only for action "mask")
    enforced: False when the policy is in monitor mode and ``would_be`` is what enforce would do
    records: customer records in the request (0 when inspection did not finish)
    """

    action: str
    rule: str
    reason: str = ""
    approval: str | None = None
    agreement: str | None = None
    would_be: str | None = None
    mask_entities: frozenset[str] = field(default_factory=frozenset)
    enforced: bool = True
    records: int = 0  # customer records (people) in the request, see detectors.records
    # The policy that decided: a reload between deciding and recording must not name another.
    policy_hash: str | None = None
    severity: str | None = None  # the deciding rule's ``severity``, when it has one
