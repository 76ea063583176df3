"""The policy in force: the file's policy plus the data dir's approvals, as one Policy.

    merged(policy, read_state(Path("var")).approvals.values())
      -> Policy whose approvals are the policy's, then every unrevoked data-dir approval

``policies.decide`` stays pure and unaware of the data dir: each data-dir approval becomes a
policy ``Approval`` whose source and destination are groups made for it alone, named
``approval:<id>`` (a colon never appears in a policy group name, so no collision): the
destination is the incident's host exactly; the source is the requester's user name when
the policy's identity knew it, else the refused client's address. Expiry is checked per
request by ``Approval.active``; revoked approvals are left out. A data-dir id equal to one of
the policy's is left out too (the policy's wins, and nothing is shadowed silently: see
``collisions``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import replace

from policies.model import AddressSet, Approval, Destination, Policy, Source, parse_ip
from proxy.record.approvals.model import StoredApproval, exact_host, parse_time

GROUP_PREFIX = "approval:"


def merged(policy: Policy, stored: Iterable[StoredApproval]) -> Policy:
    taken = {a.id for a in policy.approvals}
    usable = [a for a in stored
              if a.revoked_at is None and a.id not in taken and exact_host(a.host) is not None]
    if not usable:
        return policy
    sources = dict(policy.sources)
    destinations = dict(policy.destinations)
    approvals = list(policy.approvals)
    for stored_approval in usable:
        group = GROUP_PREFIX + stored_approval.id
        sources[group] = _source(group, stored_approval)
        destinations[group] = _destination(group, stored_approval)
        approvals.append(_approval(group, stored_approval))
    return replace(policy, sources=sources, destinations=destinations,
                   approvals=tuple(approvals))


def collisions(policy: Policy, stored: Iterable[StoredApproval]) -> list[str]:
    """Data-dir approval ids that the policy also uses (those are not merged)."""
    taken = {a.id for a in policy.approvals}
    return sorted(a.id for a in stored if a.id in taken)


def _source(group: str, a: StoredApproval) -> Source:
    if a.requester:
        return Source(group, (), f"requester of {a.id}", users=frozenset({a.requester.casefold()}))
    address = parse_ip(a.client)  # '::ffff:10.0.0.5' -> 10.0.0.5, as requests are matched
    networks = () if address is None else (ipaddress.ip_network(address),)
    return Source(group, networks, f"client of {a.id}")  # no address: matches nobody


def _destination(group: str, a: StoredApproval) -> Destination:
    """The incident's host and nothing else: AddressSet.compile would read '*?[' as a glob
    and a leading '.' as a domain suffix, so the set is built exactly."""
    host = exact_host(a.host)
    assert host is not None  # merged() leaves the others out
    address = parse_ip(host)
    networks = () if address is None else (ipaddress.ip_network(address),)
    addresses = AddressSet(exact=frozenset({host}), networks=networks)
    return Destination(group, addresses, (host,), (), a.agreement,
                       f"recipient of {a.id}: {a.recipient}")


def _approval(group: str, a: StoredApproval) -> Approval:
    return Approval(id=a.id, source=group, destination=group, entities=frozenset(a.entities),
                    purpose=a.purpose, approver=a.approver, agreement=a.agreement,
                    starts=parse_time(a.starts), expires=parse_time(a.expires),
                    max_records=a.max_records)
