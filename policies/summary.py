"""A human summary of a loaded policy, for ``baomi policy check``.

policy policies/default.yaml  sha256:3f1a...
mode: enforce
...
rules (first match decides):
  1. block-plain-http  block  scheme http; data customer-data x>=1 @0.5  [not approvable]
"""

from __future__ import annotations

from datetime import UTC, datetime

from policies.model import Approval, Policy, Rule, Source


def summarize(policy: Policy, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    lines = [
        f"policy {policy.path}  {policy.hash}",
        f"mode: {policy.mode}"
        + ("  (nothing is blocked or masked, only recorded)" if policy.mode == "monitor" else ""),
        _limits(policy),
        "failure: "
        + ", ".join(
            f"{kind}={getattr(policy.failure, 'on_' + kind)}"
            for kind in ("error", "timeout", "oversize", "uninspectable")
        ),
        (
            f"detection: score >= {policy.detection.score_threshold}, "
            f"{len(policy.detection.allow_values)} allowed value(s), "
            f"{len(policy.detection.extra_recognizers)} extra recognizer(s)"
        ),
        f"images (pixels not inspected): {policy.content.images}; "
        f"decision log keeps clean allows: {policy.logging.allowed}",
        _internal(policy),
        _identity(policy),
        *_groups(policy),
        "rules (first match decides):",
        *(f"  {i}. {_rule(rule)}" for i, rule in enumerate(policy.rules, 1)),
        f"  -. default  {policy.default_action}",
        _approvals(policy.approvals, now),
        f"passthrough (not inspected): {', '.join(policy.passthrough) or 'none'}",
    ]
    return "\n".join(lines)


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):g} MiB"


def _limits(policy: Policy) -> str:
    limits = policy.limits
    return (
        f"limits: body {_mib(limits.max_body_bytes)}, decoded {_mib(limits.max_decoded_bytes)}, "
        f"timeout {limits.timeout_seconds:g} s, depth {limits.max_depth}"
    )


def _internal(policy: Policy) -> str:
    if not policy.internal:
        return "internal: none listed (every destination counts as external)"
    return f"internal: {len(policy.internal_hosts)} host(s), {len(policy.internal_cidrs)} cidr(s)"


def _groups(policy: Policy) -> list[str]:
    lines = [
        f"destination {d.name}: {len(d.hosts)} host(s), {len(d.cidrs)} cidr(s)"
        + (f", agreement {d.agreement}" if d.agreement else "")
        for d in policy.destinations.values()
    ]
    lines += [_source(s) for s in policy.sources.values()]
    return lines


def _source(source: Source) -> str:
    line = f"source {source.name}: {len(source.networks)} cidr(s)"
    if source.users or source.groups:
        line += f", {len(source.users)} user(s), {len(source.groups)} group(s)"
    return line


def _identity(policy: Policy) -> str:
    """'identity: proxyauth (htpasswd, required), header X-Authenticated-User from 1 cidr(s)'."""
    settings = policy.identity
    if settings is None:
        return "identity: none (every request is from an unauthenticated user)"
    parts = []
    for method in settings.methods:
        if method == "proxyauth" and settings.proxyauth is not None:
            auth = settings.proxyauth
            backend = "ldap" if auth.ldap is not None else "htpasswd"
            parts.append(f"proxyauth ({backend}{', required' if auth.required else ''})")
        elif method == "header" and settings.header is not None:
            header = settings.header
            parts.append(f"header {header.name} from {len(header.trusted)} cidr(s)")
        elif method == "ipmap" and settings.ipmap is not None:
            parts.append(f"ipmap (max age {settings.ipmap.max_age_seconds:g} s)")
    sources = (("file", settings.groups_file), ("ldap", settings.groups_ldap))
    groups = [name for name, configured in sources if configured]
    return f"identity: {', '.join(parts)}; groups from {', '.join(groups) or 'nowhere'}"


def _rule(rule: Rule) -> str:
    conditions = []
    if rule.sources is not None:
        conditions.append("from " + ",".join(sorted(rule.sources)))
    if rule.destinations is not None:
        conditions.append("to " + ",".join(sorted(rule.destinations)))
    if rule.schemes is not None:
        conditions.append("scheme " + ",".join(sorted(rule.schemes)))
    if rule.data is not None:
        conditions.append(
            f"data {','.join(sorted(rule.data.entities))} "
            f"count>={rule.data.min_count} score>={rule.data.min_score:g}"
        )
    text = f"{rule.name}  {rule.action}  {'; '.join(conditions) or 'always'}"
    if rule.severity is not None:
        text += f"  [severity {rule.severity}]"
    return text if rule.approvable else text + "  [not approvable]"


def _approvals(approvals: tuple[Approval, ...], now: datetime) -> str:
    if not approvals:
        return "approvals: none"
    active = sum(a.active(now) for a in approvals)
    expired = sum(now >= a.expires for a in approvals)
    pending = len(approvals) - active - expired
    lines = [f"approvals: {active} active, {expired} expired, {pending} not yet started"]
    lines += [f"  {a.id}  {_approval_status(a, now)}  {a.source} -> {a.destination}  "
              f"data {','.join(sorted(a.entities))}  until {a.expires.isoformat()}"
              for a in approvals]
    return "\n".join(lines)


def _approval_status(approval: Approval, now: datetime) -> str:
    if approval.active(now):
        return "active"
    return "expired" if now >= approval.expires else "not yet started"
