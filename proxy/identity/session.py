"""Identification for the running proxy: the resolver for the policy in force, the identity
found at CONNECT for the requests inside that tunnel, and the time limit on lookups.

    identification = Identification()
    result = await identification.identify(policy, claims, connection="c1f2...")
    identification.remember("c1f2...", result.identity)   # at CONNECT; forget() on disconnect

Tunnel identities are kept here per client connection, never in ``flow.metadata`` (which can be
saved with the flow); an ``Identity`` holds no password either way. The groups of a remembered
identity are looked up again for each request (cached <= cache_seconds by the backends), so a
long-lived tunnel loses a revoked group like any other request.
"""

from __future__ import annotations

import asyncio

from policies.model import IdentitySettings
from proxy.errors import IdentityUnavailable
from proxy.identity import UNKNOWN, Identity
from proxy.identity.resolve import Claims, IdentityResolver, Resolution


class Identification:
    def __init__(self) -> None:
        self._settings: IdentitySettings | None = None
        self._resolver: IdentityResolver | None = None
        self._tunnels: dict[str, Identity] = {}

    def resolver(self, settings: IdentitySettings | None) -> IdentityResolver | None:
        """The resolver for these settings, rebuilt when a reload changed them."""
        if settings is None:
            return None
        if self._resolver is None or settings != self._settings:
            old, self._resolver = self._resolver, IdentityResolver(settings)
            self._settings = settings
            if old is not None:
                old.close()
        return self._resolver

    async def identify(self, settings: IdentitySettings | None, claims: Claims,
                       connection: str | None = None, timeout: float = 5.0) -> Resolution:
        """Raises IdentityUnavailable when a backend fails or takes longer than ``timeout``."""
        resolver = self.resolver(settings)
        if resolver is None:
            return Resolution(UNKNOWN)
        known = self._tunnels.get(connection) if connection else None
        if known is not None:
            return Resolution(await _off_loop(resolver.refresh, known, timeout))
        return await _off_loop(resolver.resolve, claims, timeout)

    def remember(self, connection: str, identity: Identity) -> None:
        if identity.user is not None:
            self._tunnels[connection] = identity

    def known(self, connection: str) -> Identity | None:
        """The identity a client connection's CONNECT established (groups as of then)."""
        return self._tunnels.get(connection)

    def forget(self, connection: str) -> None:
        self._tunnels.pop(connection, None)

    def tunnels(self) -> int:
        return len(self._tunnels)


async def _off_loop(function, argument, timeout: float):
    """bcrypt and LDAP block: run them in a thread, bounded by ``timeout``."""
    loop = asyncio.get_running_loop()
    try:
        return await asyncio.wait_for(loop.run_in_executor(None, function, argument), timeout)
    except TimeoutError:
        raise IdentityUnavailable(f"identity lookup took longer than {timeout:g} s") from None


def lookup_timeout(settings: IdentitySettings | None, default: float) -> float:
    """LDAP: two round trips (service search, user bind) and a group search, plus slack."""
    auth = settings.proxyauth if settings else None
    if auth is not None and auth.ldap is not None:
        return auth.ldap.timeout_seconds * 3 + 1
    return default
