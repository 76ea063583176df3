"""Console roles from LDAP groups, through the policy's ``identity.proxyauth.ldap``.

    baomi console --data-dir var --policy corp.yaml \\
        --ldap-role secops=reviewer --ldap-role dpo=approver --ldap-role it-admins=admin

    accounts = LdapAccounts(LdapDirectory(settings), {"secops": ("reviewer",)}, Users(dir))
    accounts.check("alice", "pw")   # Account("alice", ("reviewer",), source="ldap") or None
    accounts.recheck(account)       # today's roles (groups cached cache_seconds), or None

A name in the local users file is a local account (its password, its roles); any other name
is asked of LDAP, and its roles are those its groups map to (group names compared without
case). A directory user in no mapped group cannot log in. Every request re-reads the groups
(cached for the policy's cache_seconds), so a user removed from a group loses the role then.
LDAP unreachable: the login is refused (fail closed) and one line naming the reason, never
the password, goes to stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path

from proxy.console.users import ROLES, Account, Users
from proxy.errors import IdentityUnavailable, UsageError
from proxy.identity.ldap import LdapDirectory


def parse_mapping(items: list[str]) -> dict[str, tuple[str, ...]]:
    """["SecOps=reviewer", "dpo=approver", "dpo=reviewer"] -> {"secops": (...), "dpo": (...)}."""
    mapping: dict[str, list[str]] = {}
    for item in items:
        group, sep, role = item.partition("=")
        if not sep or not group.strip() or role.strip() not in ROLES:
            raise UsageError(f"--ldap-role {item!r}: expected GROUP=ROLE, ROLE one of "
                             f"{'|'.join(ROLES)}")
        mapping.setdefault(group.strip().lower(), []).append(role.strip())
    return {g: tuple(sorted(set(r), key=ROLES.index)) for g, r in mapping.items()}


def directory_from_policy(policy_file: Path) -> LdapDirectory:
    from policies.load import load_policy

    identity = load_policy(str(policy_file)).identity
    ldap = identity.proxyauth.ldap if identity and identity.proxyauth else None
    if ldap is None:
        raise UsageError(f"{policy_file}: identity.proxyauth.ldap is not set; --ldap-role "
                         "needs the policy's LDAP directory")
    return LdapDirectory(ldap)


class LdapAccounts:
    def __init__(self, directory: LdapDirectory, mapping: dict[str, tuple[str, ...]],
                 local: Users):
        self.directory, self.mapping, self.local = directory, mapping, local

    def roles(self, groups: frozenset[str]) -> tuple[str, ...]:
        held = {r for g in groups for r in self.mapping.get(g.lower(), ())}
        return tuple(r for r in ROLES if r in held)

    def check(self, name: str, password: str) -> Account | None:
        if self.local.get(name) is not None:
            return self.local.check(name, password)
        try:
            identity = self.directory.authenticate(name, password)
        except IdentityUnavailable as e:
            print(f"baomi console: LDAP unavailable, login refused: {e}", file=sys.stderr)
            return None
        if identity is None:
            return None
        roles = self.roles(identity.groups)
        return Account(name, roles, source="ldap") if roles else None

    def recheck(self, account: Account) -> Account | None:
        if account.source != "ldap":
            return self.local.recheck(account)
        try:
            roles = self.roles(self.directory.groups(account.name))
        except IdentityUnavailable:
            return None  # cannot confirm the roles: the session ends (fail closed)
        return Account(account.name, roles, source="ldap") if roles else None
