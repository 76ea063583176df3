"""Validated policy file -> compiled ``Policy`` (entity groups expanded, hosts and CIDRs compiled).

build(PolicyFile.model_validate(data), path="p.yaml", digest="sha256:...") -> Policy
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from types import MappingProxyType

from detectors.dictionary import value_form
from policies.model import (
    AddressSet,
    Approval,
    Content,
    DataSelector,
    Destination,
    Detection,
    Failure,
    HeaderSettings,
    IdentitySettings,
    IpMapSettings,
    LdapSettings,
    Limits,
    LogPolicy,
    Policy,
    ProxyAuthSettings,
    Rule,
    Source,
)
from policies.schema import (
    ApprovalFile,
    DetectionFile,
    IdentityFile,
    LdapFile,
    PolicyFile,
    RuleFile,
    SourceFile,
)


def build(doc: PolicyFile, path: str, digest: str) -> Policy:
    groups = {name: frozenset(members) for name, members in doc.entity_groups.items()}
    return Policy(
        path=path,
        hash=digest,
        mode=doc.mode,
        failure=Failure(**doc.failure.model_dump()),
        limits=Limits(
            max_body_bytes=int(doc.limits.max_body_bytes),
            max_decoded_bytes=int(doc.limits.max_decoded_bytes),
            timeout_seconds=float(doc.limits.timeout_seconds),
            max_depth=doc.limits.max_depth,
        ),
        detection=_detection(doc.detection, path),
        internal=AddressSet.compile(doc.internal.hosts, doc.internal.cidrs),
        internal_hosts=tuple(doc.internal.hosts),
        internal_cidrs=tuple(doc.internal.cidrs),
        destinations=MappingProxyType(
            {
                name: Destination(
                    name,
                    AddressSet.compile(g.hosts, g.cidrs),
                    tuple(g.hosts),
                    tuple(g.cidrs),
                    g.agreement,
                    g.description,
                )
                for name, g in doc.destinations.items()
            }
        ),
        sources=MappingProxyType({name: _source(name, g) for name, g in doc.sources.items()}),
        entity_groups=MappingProxyType(groups),
        rules=tuple(_rule(r, groups) for r in doc.rules),
        default_action=doc.default_action,
        approvals=tuple(_approval(a, groups) for a in doc.approvals),
        passthrough=tuple(doc.passthrough),
        passthrough_set=AddressSet.compile(doc.passthrough, ()),
        allowed_values=frozenset(value_form(v) for v in doc.detection.allow_values),
        logging=LogPolicy.parse(doc.logging.allowed),
        content=Content(images=doc.content.images),
        identity=None if doc.identity is None else _identity(doc.identity, path),
    )


def _source(name: str, source: SourceFile) -> Source:
    return Source(
        name,
        tuple(ipaddress.ip_network(c) for c in source.cidrs),
        source.description,
        users=frozenset(u.casefold() for u in source.users),
        groups=frozenset(g.casefold() for g in source.groups),
    )


def _identity(identity: IdentityFile, path: str) -> IdentitySettings:
    auth, header, ipmap = identity.proxyauth, identity.header, identity.ipmap
    return IdentitySettings(
        methods=tuple(identity.methods),
        proxyauth=None
        if auth is None
        else ProxyAuthSettings(
            realm=auth.realm,
            htpasswd=None if auth.htpasswd is None else Path(_beside(path, auth.htpasswd)),
            ldap=None if auth.ldap is None else _ldap(auth.ldap, path),
            required=auth.required,
        ),
        header=None
        if header is None
        else HeaderSettings(
            header.name, tuple(ipaddress.ip_network(c) for c in header.trusted_cidrs)
        ),
        ipmap=None
        if ipmap is None
        else IpMapSettings(Path(_beside(path, ipmap.file)), ipmap.max_age_seconds),
        groups_file=None
        if identity.groups.file is None
        else Path(_beside(path, identity.groups.file)),
        groups_ldap=identity.groups.ldap,
    )


def _ldap(ldap: LdapFile, path: str) -> LdapSettings:
    values = ldap.model_dump()
    values["bind_password_file"] = Path(_beside(path, ldap.bind_password_file))
    values["ca_file"] = None if ldap.ca_file is None else Path(_beside(path, ldap.ca_file))
    return LdapSettings(**values)


def _detection(detection: DetectionFile, path: str) -> Detection:
    edm = detection.edm
    return Detection(
        score_threshold=detection.score_threshold,
        allow_values=tuple(detection.allow_values),
        extra_recognizers=tuple(detection.extra_recognizers),
        deny_values=tuple((e, tuple(v)) for e, v in detection.deny_values.items()),
        confidential_markers=detection.confidential_markers,
        confidential_terms=tuple(detection.confidential_terms),
        edm_index=None if edm is None else _beside(path, edm.index),
        edm_key_file=None if edm is None else _beside(path, edm.key_file),
        nlp_model=detection.nlp_model,
        ner=detection.ner,
    )


def _beside(policy_path: str, file: str) -> str:
    """A relative path in the policy means: relative to the policy file's directory."""
    return str((Path(policy_path).parent / Path(file).expanduser()).absolute())


def expand(names: list[str], groups: dict[str, frozenset[str]]) -> frozenset[str]:
    """['contact', 'CN_RESIDENT_ID'] -> {'PHONE_NUMBER', 'EMAIL_ADDRESS', 'CN_RESIDENT_ID'}."""
    return frozenset().union(*(groups.get(n, frozenset((n,))) for n in names))


def _optional(values: list[str] | None) -> frozenset[str] | None:
    # "any" in a condition list means the condition always holds.
    return None if values is None or "any" in values else frozenset(values)


def _rule(rule: RuleFile, groups: dict[str, frozenset[str]]) -> Rule:
    selector = rule.data
    return Rule(
        name=rule.name,
        description=rule.description,
        action=rule.action,
        sources=_optional(rule.source),
        destinations=_optional(rule.destination),
        schemes=None if rule.scheme is None else frozenset(rule.scheme),
        data=None
        if selector is None
        else DataSelector(
            expand(selector.entities, groups),
            selector.min_score,
            selector.min_count,
            selector.min_records,
        ),
        approvable=rule.approvable,
        severity=rule.severity,
    )


def _approval(approval: ApprovalFile, groups: dict[str, frozenset[str]]) -> Approval:
    return Approval(
        id=approval.id,
        source=approval.source,
        destination=approval.destination,
        entities=expand(approval.data, groups),
        purpose=approval.purpose,
        approver=approval.approver,
        agreement=approval.agreement,
        starts=approval.starts,
        expires=approval.expires,
    )
