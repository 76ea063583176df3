"""Who sent a request: the policy's identity methods tried in the admin's order.

    resolver = IdentityResolver(policy.identity)
    resolver.resolve(Claims("10.0.0.7", explicit=True,
                            proxy_authorization="Basic YWxpY2U6c2VjcmV0", header_user=None))
      -> Resolution(Identity("alice", frozenset({"payroll"}), "proxyauth"))
    ... without credentials, proxyauth required, nobody else knows the client:
      -> Resolution(UNKNOWN, challenge="missing")     # the addon answers 407

- proxyauth: only in explicit-proxy mode (a transparent client never sends Proxy-Authorization);
  credentials that are present but wrong are a challenge whatever comes later in the list;
  absent ones let the next method try, and ``required`` turns "nobody knew" into a challenge.
- header: the upstream proxy's user header, believed only from ``trusted_cidrs``; from anyone
  else it is ignored and reported (``untrusted_header``) for the counter.
- ipmap: the address's current user.
Groups come from the groups file and/or LDAP, added to whatever method found the user.
Blocking (bcrypt, LDAP): the addon calls ``resolve`` in a thread with the policy's timeout.
Raises IdentityUnavailable when a backend cannot answer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from policies.model import IdentitySettings, parse_ip
from proxy.identity import UNKNOWN, Identity
from proxy.identity.basic import basic_credentials
from proxy.identity.groups import GroupsDirectory
from proxy.identity.htpasswd import Htpasswd
from proxy.identity.ipmap import IpMap

if TYPE_CHECKING:
    from proxy.identity.ldap import LdapDirectory


@dataclass(frozen=True, slots=True)
class Claims:
    """What a request says about its sender, taken from the flow by the addon."""

    client_ip: str
    explicit: bool  # regular/upstream proxy mode: Proxy-Authorization applies, 407 possible
    proxy_authorization: str | None = None
    header_user: str | None = None  # value of the trusted-header name, if the request has it


@dataclass(frozen=True, slots=True)
class Resolution:
    identity: Identity
    challenge: str | None = None  # "missing" | "invalid": answer 407
    untrusted_header: bool = False  # the user header came from a client not trusted to set it


def clean_user(value: str | None) -> str | None:
    """A header's user name, or None for absent/'-'/not a plain name (Squid writes '-')."""
    value = (value or "").strip()
    if not value or value == "-" or len(value) > 256:
        return None
    return value if all(c.isprintable() and not c.isspace() for c in value) else None


class IdentityResolver:
    def __init__(self, settings: IdentitySettings):
        self.settings = settings
        auth = settings.proxyauth
        self.htpasswd = Htpasswd(auth.htpasswd) if auth and auth.htpasswd else None
        self.ldap: LdapDirectory | None = None
        if auth is not None and auth.ldap is not None:
            from proxy.identity.ldap import LdapDirectory  # ldap3 only where LDAP is configured

            self.ldap = LdapDirectory(auth.ldap)
        self.ipmap = IpMap(settings.ipmap) if settings.ipmap else None
        self.groups_file = GroupsDirectory(settings.groups_file) if settings.groups_file else None

    @property
    def header_name(self) -> str | None:
        return self.settings.header.name if self.settings.header else None

    def resolve(self, claims: Claims) -> Resolution:
        untrusted = False
        for method in self.settings.methods:
            if method == "proxyauth":
                found = self._proxyauth(claims)
                if isinstance(found, str):
                    return Resolution(UNKNOWN, challenge=found)
            elif method == "header":
                found, untrusted = self._header(claims)
            else:
                found = self._ipmap(claims)
            if found is not None:
                return Resolution(self.with_groups(found), untrusted_header=untrusted)
        auth = self.settings.proxyauth
        if claims.explicit and "proxyauth" in self.settings.methods and auth and auth.required:
            return Resolution(UNKNOWN, challenge="missing", untrusted_header=untrusted)
        return Resolution(UNKNOWN, untrusted_header=untrusted)

    def with_groups(self, identity: Identity, fresh: bool = True) -> Identity:
        """The identity with its directory groups as of now (LDAP's cached <= cache_seconds).

        ``fresh``: an "ldap" identity's groups were read by this very authentication; False
        (a tunnel's identity from its CONNECT) asks LDAP again, so a long-lived tunnel loses a
        revoked group like a new connection does.
        """
        if identity.user is None:
            return identity
        groups: set[str] = set()
        from_ldap = self.ldap is not None and (self.settings.groups_ldap
                                               or identity.method == "ldap")
        if identity.method == "ldap" and fresh:
            groups |= identity.groups
        elif from_ldap and self.ldap is not None:
            groups |= self.ldap.groups(identity.user)
        if self.groups_file is not None:
            groups |= self.groups_file.groups_of(identity.user)
        return replace(identity, groups=frozenset(groups))

    def refresh(self, identity: Identity) -> Identity:
        """A remembered identity (HTTPS tunnel) with today's groups."""
        return self.with_groups(identity, fresh=False)

    def close(self) -> None:
        """Let go of backend connections (a reload replaced this resolver)."""
        if self.ldap is not None:
            self.ldap.close()

    def _proxyauth(self, claims: Claims) -> Identity | str | None:
        """An identity, "invalid" (credentials present and wrong), or None (none sent)."""
        if not claims.explicit or claims.proxy_authorization is None:
            return None
        credentials = basic_credentials(claims.proxy_authorization)
        if credentials is None:
            return "invalid"
        user, password = credentials
        if self.ldap is not None:
            found = self.ldap.authenticate(user, password)
            return "invalid" if found is None else found
        if self.htpasswd is not None and self.htpasswd.check(user, password):
            return Identity(user, frozenset(), "proxyauth")
        return "invalid"

    def _header(self, claims: Claims) -> tuple[Identity | None, bool]:
        header = self.settings.header
        user = clean_user(claims.header_user)
        if header is None or claims.header_user is None:
            return None, False
        if not header.trusts(parse_ip(claims.client_ip)):
            return None, True
        return (None if user is None else Identity(user, frozenset(), "header")), False

    def _ipmap(self, claims: Claims) -> Identity | None:
        if self.ipmap is None:
            return None
        user = self.ipmap.user_at(claims.client_ip, time.time())
        return None if user is None else Identity(user, frozenset(), "ipmap")
