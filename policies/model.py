"""A loaded policy: frozen, compiled, ready for lookups on the hot path.

policy = load_policy("policies/default.yaml")
policy.internal.matches(Endpoint.of("wiki.corp.example.com", None))  ->  False (list is empty)
policy.rules[0].name  ->  "block-plain-http"
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from detectors.config import DetectorConfig

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_ip(text: str | None) -> IPAddress | None:
    """'10.0.0.1' -> IPv4Address; '::ffff:10.0.0.1' -> IPv4Address (dual-stack listeners report
    IPv4 clients this way); '[2001:db8::1]' -> IPv6Address; a host name or None -> None."""
    text = (text or "").strip().strip("[]")
    if not text or not (text[-1].isdigit() or ":" in text):  # cheap: most hosts are names
        return None
    return _parse_ip(text)


@lru_cache(maxsize=1024)
def _parse_ip(text: str) -> IPAddress | None:
    """``parse_ip`` of a stripped text that may be an address. Cached: every request parses
    its peer's address and its destination's (~10 us with ``ipaddress``), and a proxy sees
    few of either; an address object is immutable."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def normalize_host(host: str) -> str:
    """'Intranet.Example.COM.' -> 'intranet.example.com'."""
    return host.strip().lower().rstrip(".")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a request goes: its host name and the addresses it is known by."""

    host: str
    addresses: tuple[IPAddress, ...]

    @classmethod
    def of(cls, host: str, destination_ip: str | None) -> Endpoint:
        """``Endpoint.of("API.example.com.", "10.0.0.7")`` -> host "api.example.com",
        addresses (IPv4Address("10.0.0.7"),). The same few per policy decision, so cached
        (the endpoint is frozen)."""
        return _endpoint(host, destination_ip)


@lru_cache(maxsize=1024)
def _endpoint(host: str, destination_ip: str | None) -> Endpoint:
    name = normalize_host(host)
    found = (parse_ip(destination_ip), parse_ip(name))
    return Endpoint(name, tuple(dict.fromkeys(a for a in found if a is not None)))


@dataclass(frozen=True, slots=True)
class AddressSet:
    """Host globs and CIDRs, compiled.

    ``api.example.com`` exact; ``*.example.com`` subdomains only (fnmatch glob);
    ``.example.com`` the domain and all its subdomains; CIDRs match the destination address.
    """

    exact: frozenset[str] = frozenset()
    domains: tuple[str, ...] = ()  # ".example.com" entries, kept with their leading dot
    glob: re.Pattern[str] | None = None
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def compile(
        cls, hosts: tuple[str, ...] | list[str], cidrs: tuple[str, ...] | list[str]
    ) -> AddressSet:
        globs = [h for h in hosts if any(c in h for c in "*?[")]
        return cls(
            exact=frozenset(h for h in hosts if h not in globs and not h.startswith(".")),
            domains=tuple(h for h in hosts if h.startswith(".") and h not in globs),
            glob=re.compile("|".join(fnmatch.translate(g) for g in globs)) if globs else None,
            networks=tuple(ipaddress.ip_network(c) for c in cidrs),
        )

    def matches(self, endpoint: Endpoint) -> bool:
        host = endpoint.host
        if host in self.exact or (self.glob is not None and self.glob.match(host)):
            return True
        if any(host == d[1:] or host.endswith(d) for d in self.domains):
            return True
        return any(a in n for a in endpoint.addresses for n in self.networks)

    def matches_host(self, host: str) -> bool:
        return self.matches(Endpoint(normalize_host(host), ()))

    def __bool__(self) -> bool:
        return bool(self.exact or self.domains or self.glob or self.networks)


@dataclass(frozen=True, slots=True)
class Destination:
    name: str
    addresses: AddressSet
    hosts: tuple[str, ...]  # as written (normalised), for summaries
    cidrs: tuple[str, ...]
    agreement: str | None
    description: str


@dataclass(frozen=True, slots=True)
class Source:
    """Clients by network, user name or directory group; any of them may match.

    Source("payroll", (), "", users=frozenset({"alice"})).matches(None, "Alice", frozenset())
      -> True (names compare case-insensitively)
    """

    name: str
    networks: tuple[IPNetwork, ...]
    description: str
    users: frozenset[str] = frozenset()  # casefolded
    groups: frozenset[str] = frozenset()  # casefolded

    def contains(self, address: IPAddress | None) -> bool:
        return address is not None and any(address in n for n in self.networks)

    def matches(self, address: IPAddress | None, user: str | None, groups: frozenset[str]) -> bool:
        if self.contains(address):
            return True
        if user is None:
            return False
        return user.casefold() in self.users or any(g.casefold() in self.groups for g in groups)


UNAUTHENTICATED = "unauthenticated"  # reserved source: requests whose user is unknown


@dataclass(frozen=True, slots=True)
class DataSelector:
    entities: frozenset[str]  # entity groups already expanded
    min_score: float
    min_count: int
    min_records: int | None = None  # customer records (detectors.records) needed, if set


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    description: str
    action: str  # block | mask | allow | monitor
    sources: frozenset[str] | None  # None: any source
    destinations: frozenset[str] | None  # None: any; else internal/external/group names
    schemes: frozenset[str] | None  # None: any scheme
    data: DataSelector | None
    approvable: bool
    severity: str | None = None  # low | medium | high | critical: its incidents' default


@dataclass(frozen=True, slots=True)
class Approval:
    id: str
    source: str  # "any" or a source group
    destination: str  # a destination group
    entities: frozenset[str]
    purpose: str
    approver: str
    agreement: str
    starts: datetime | None
    expires: datetime
    max_records: int | None = None  # approvals from applications: at most this many people

    def active(self, when: datetime) -> bool:
        """starts <= when < expires. ``when`` must be timezone-aware."""
        if when.tzinfo is None:
            raise ValueError("request time must be timezone-aware to check approvals")
        return (self.starts is None or self.starts <= when) and when < self.expires


@dataclass(frozen=True, slots=True)
class Limits:
    max_body_bytes: int
    max_decoded_bytes: int
    timeout_seconds: float
    max_depth: int


# The policy's detection section is the detector's configuration, not a copy of it.
Detection = DetectorConfig


@dataclass(frozen=True, slots=True)
class Failure:
    on_error: str
    on_timeout: str
    on_oversize: str
    on_uninspectable: str

    def action(self, kind: str) -> str | None:
        """'timeout' -> on_timeout's action; an unknown kind -> None."""
        return getattr(self, f"on_{kind}", None) if kind in FAILURE_KINDS else None


FAILURE_KINDS = ("error", "timeout", "oversize", "uninspectable")


@dataclass(frozen=True, slots=True)
class LogPolicy:
    """Which clean allows the decision log keeps (everything else is always written).

    LogPolicy.parse("sample:100").keeps_allowed(0) -> True (the 1st, 101st, 201st ... are kept)
    LogPolicy.parse("none").keeps_allowed(0) -> False
    """

    allowed: str  # as written: all | none | sample:N
    allowed_every: int  # 1: all, 0: none, N: one clean allow in N

    @classmethod
    def parse(cls, allowed: str) -> LogPolicy:
        every = {"all": 1, "none": 0}.get(allowed)
        return cls(allowed, int(allowed.removeprefix("sample:")) if every is None else every)

    def keeps_allowed(self, seen: int) -> bool:
        """``seen``: clean allows counted before this one."""
        return self.allowed_every > 0 and seen % self.allowed_every == 0


@dataclass(frozen=True, slots=True)
class Content:
    images: str = "allow"  # allow | block: images whose pixels cannot be inspected


@dataclass(frozen=True, slots=True)
class LdapSettings:
    """identity.proxyauth.ldap. Passwords: the service account's in ``bind_password_file``
    (0600), never in the policy; ``{user}`` in user_filter and ``{dn}`` in group_filter are
    filled in (escaped) per lookup."""

    url: str  # ldaps://host:port or ldap://host:port (then starttls)
    bind_dn: str
    bind_password_file: Path
    user_base: str
    starttls: bool = False
    ca_file: Path | None = None
    user_filter: str = "(uid={user})"
    group_attribute: str | None = "memberOf"
    group_base: str | None = None
    group_filter: str = "(member={dn})"
    group_name_attribute: str = "cn"
    disabled_filter: str | None = None  # e.g. "(pwdAccountLockedTime=*)"
    timeout_seconds: float = 5
    cache_seconds: float = 60


@dataclass(frozen=True, slots=True)
class ProxyAuthSettings:
    realm: str
    htpasswd: Path | None  # exactly one of htpasswd / ldap
    ldap: LdapSettings | None
    required: bool = True  # explicit mode: nobody identified -> 407


@dataclass(frozen=True, slots=True)
class HeaderSettings:
    name: str  # e.g. X-Authenticated-User
    trusted: tuple[IPNetwork, ...]

    def trusts(self, address: IPAddress | None) -> bool:
        return address is not None and any(address in n for n in self.trusted)


@dataclass(frozen=True, slots=True)
class IpMapSettings:
    file: Path
    max_age_seconds: float


@dataclass(frozen=True, slots=True)
class IdentitySettings:
    """How the proxy learns who sent a request; ``methods`` in the admin's order."""

    methods: tuple[str, ...]  # "proxyauth" | "header" | "ipmap"
    proxyauth: ProxyAuthSettings | None = None
    header: HeaderSettings | None = None
    ipmap: IpMapSettings | None = None
    groups_file: Path | None = None
    groups_ldap: bool = False


@dataclass(frozen=True, slots=True)
class Policy:
    path: str
    hash: str  # "sha256:<hex>" of the file bytes
    mode: str  # enforce | monitor
    failure: Failure
    limits: Limits
    detection: Detection
    internal: AddressSet
    internal_hosts: tuple[str, ...]
    internal_cidrs: tuple[str, ...]
    destinations: Mapping[str, Destination]
    sources: Mapping[str, Source]
    entity_groups: Mapping[str, frozenset[str]]
    rules: tuple[Rule, ...]
    default_action: str
    approvals: tuple[Approval, ...]
    passthrough: tuple[str, ...]  # host globs tunnelled uninspected
    passthrough_set: AddressSet
    allowed_values: frozenset[str]  # detection.allow_values as detectors.dictionary.value_form
    logging: LogPolicy = LogPolicy("all", 1)
    content: Content = Content()
    identity: IdentitySettings | None = None  # None: nobody is identified

    def passes_through(self, host: str) -> bool:
        """True when TLS to ``host`` is tunnelled uninspected (certificate-pinned apps)."""
        return self.passthrough_set.matches_host(host)


def value_key(value: str) -> str:
    """How values are compared (distinct counts, allow_values): case, spaces and dashes ignored.

    '138-0013 8000' -> '13800138000'; 'Li.Lei@Example.com' -> 'li.lei@example.com'
    """
    return "".join(value.split()).replace("-", "").casefold()
