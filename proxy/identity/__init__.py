"""Who sent a request: the user and their groups, and how baomi knew.

    Identity(user="alice", groups=frozenset({"payroll"}), method="proxyauth")
    Identity(user=None, groups=frozenset(), method="none")   # unknown -> source "unauthenticated"

Methods: "proxyauth" (htpasswd), "ldap" (proxy auth checked against LDAP), "header" (trusted
upstream proxy), "ipmap" (address -> user file), "none".
"""

from __future__ import annotations

from dataclasses import dataclass, field

METHODS = ("proxyauth", "ldap", "header", "ipmap", "none")


@dataclass(frozen=True, slots=True)
class Identity:
    user: str | None  # None: unknown
    groups: frozenset[str] = field(default_factory=frozenset)
    method: str = "none"  # one of METHODS


UNKNOWN = Identity(user=None, groups=frozenset(), method="none")
