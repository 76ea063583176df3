"""Proxy auto-config (PAC) files: internal hosts DIRECT, everything else through baomi.

    >>> pac = render_pac("baomi.corp.example.com", 8080, [".corp.example.com", "10.0.0.0/8"])
    >>> "PROXY baomi.corp.example.com:8080" in pac
    True

``direct_hosts`` entries (case-insensitive, a trailing dot ignored):

    ".corp.example.com"   that domain and all its subdomains
    "wiki.example.com"    exactly that host
    "*.intra", "db-??"    shell patterns (PAC ``shExpMatch``: ``*`` and ``?``) with at least one
                          literal character, so "*" cannot switch inspection off
    "10.0.0.0/8"          an IPv4 network, matched only when the URL's host is an IPv4 literal
                          (the PAC never resolves names: that would stall browsers and leak names)

The rendered file has no DIRECT fallback after the proxy: if baomi is down, browsing fails
closed. Every entry is validated and JSON-encoded, so nothing an admin types can inject script.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from proxy.errors import BaomiError, UsageError

log = logging.getLogger(__name__)
# Package data (pyproject.toml), so an installed wheel finds it wherever it is installed.
TEMPLATE = resources.files("proxy").joinpath("data", "proxy.pac.template")

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
_PATTERN = re.compile(r"^[a-z0-9.*?-]+$")


@dataclass(frozen=True)
class DirectRules:
    """``direct_hosts`` sorted into the three kinds the PAC template checks."""

    domains: tuple[str, ...] = ()  # ".example.com"
    patterns: tuple[str, ...] = ()  # exact hosts and shell patterns
    nets: tuple[tuple[str, str], ...] = ()  # (network, netmask) for isInNet


def render_pac(
    proxy_host: str, proxy_port: int, direct_hosts: Sequence[str],
    template: Traversable = TEMPLATE,
) -> str:
    """The PAC file text. Raises UsageError naming the first bad argument."""
    rules = parse_direct_hosts(direct_hosts)
    try:
        text = template.read_text(encoding="utf-8")
    except OSError as error:
        raise BaomiError(f"PAC template unreadable: {template}: {error.strerror}") from error
    return string.Template(text).substitute(
        proxy_host=_proxy_host(proxy_host),
        proxy_port=_port(proxy_port),
        direct_domains=json.dumps(list(rules.domains)),
        direct_patterns=json.dumps(list(rules.patterns)),
        direct_nets=json.dumps([list(net) for net in rules.nets]),
    )


def parse_direct_hosts(entries: Sequence[str]) -> DirectRules:
    """Sort and validate entries.

    >>> parse_direct_hosts([".Corp.Example.com.", "*.intra", "10.0.0.0/8"])
    DirectRules(domains=('.corp.example.com',), patterns=('*.intra',), nets=(('10.0.0.0', '255.0.0.0'),))
    """
    if isinstance(entries, str):  # a lone string would be read as one entry per character
        raise UsageError("direct hosts must be a list of entries, not a string")
    domains, patterns, nets = [], [], []
    for raw in entries:
        entry = str(raw).strip().lower().rstrip(".")
        if "/" in entry:
            nets.append(_network(entry))
        elif entry.startswith(".") and _HOST.match(entry[1:]):
            domains.append(entry)
        elif _HOST.match(entry) or _is_pattern(entry):
            patterns.append(entry)
        else:
            raise UsageError(
                f"direct host {raw!r}: expected a host, .domain, shell pattern or IPv4 CIDR"
            )
    return DirectRules(tuple(domains), tuple(patterns), tuple(nets))


def _is_pattern(entry: str) -> bool:
    # A pattern of wildcards and dots alone ("*", "*.*") would send everything DIRECT.
    return (
        bool(_PATTERN.match(entry))
        and any(c in entry for c in "*?")
        and bool(re.search(r"[a-z0-9-]", entry))
    )


def _network(entry: str) -> tuple[str, str]:
    try:
        network = ipaddress.IPv4Network(entry, strict=True)
    except ValueError as error:
        raise UsageError(
            f"direct host {entry!r}: {error} (PAC files match IPv4 networks only)"
        ) from None
    return str(network.network_address), str(network.netmask)


def _proxy_host(host: str) -> str:
    candidate = host.strip().lower().rstrip(".")
    try:
        address = ipaddress.ip_address(candidate.strip("[]"))
    except ValueError:
        if _HOST.match(candidate):
            return candidate
        raise UsageError(f"proxy host {host!r}: expected a host name or IP address") from None
    return f"[{address}]" if address.version == 6 else str(address)


def _port(port: int) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise UsageError(f"proxy port {port!r}: expected an integer from 1 to 65535")
    return port


def parse_proxy_address(text: str) -> tuple[str, int]:
    """``--pac-proxy`` as (host, port).

    >>> parse_proxy_address("baomi.corp.example.com:8080")
    ('baomi.corp.example.com', 8080)
    >>> parse_proxy_address("[fd00::1]:3128")
    ('fd00::1', 3128)
    """
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise UsageError(f"--pac-proxy {text!r}: expected HOST:PORT")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    _proxy_host(host)
    return host, _port(int(port))


def policy_direct_hosts(internal_hosts: Sequence[str]) -> tuple[list[str], list[str]]:
    """(entries the PAC can express, entries left out). Left out means sent through baomi:
    the safe side, so a policy glob the PAC cannot express never opens a way around it.

    >>> policy_direct_hosts([".corp.example.com", "wiki.example.net", "host[12].corp"])
    (['.corp.example.com', 'wiki.example.net'], ['host[12].corp'])
    """
    kept, left_out = [], []
    for entry in internal_hosts:
        try:
            parse_direct_hosts([entry])
        except UsageError:
            left_out.append(entry)
        else:
            kept.append(entry)
    return kept, left_out


def pac_address(pac_proxy: str | None, listen_host: str, listen_port: int) -> tuple[str, int]:
    """Where the PAC sends browsers: ``--pac-proxy`` if given, else the listen address (a
    wildcard listen address is no address for a client: this host's name instead).

    >>> pac_address(None, "10.1.2.3", 8080)
    ('10.1.2.3', 8080)
    >>> pac_address("baomi.corp:3128", "0.0.0.0", 8080)
    ('baomi.corp', 3128)
    """
    if pac_proxy:
        return parse_proxy_address(pac_proxy)
    if listen_host in ("", "0.0.0.0", "::"):  # noqa: S104 - recognising a wildcard, not binding
        import socket

        return socket.getfqdn(), _port(listen_port)
    return listen_host, _port(listen_port)


def pac_source(address: tuple[str, int], internal_hosts: Callable[[], Sequence[str]]):
    """A function that renders the PAC for the current policy (called per request, so a
    policy reload changes the PAC at once). Validates ``address`` now, at start-up."""
    host, port = address
    render_pac(host, port, [])  # a bad --pac-proxy stops start-up, not the first browser

    def current() -> str:
        kept, left_out = policy_direct_hosts(internal_hosts())
        if left_out:
            log.warning("PAC: %d internal host pattern(s) a PAC cannot express go through "
                        "baomi instead of DIRECT", len(left_out))
        return render_pac(host, port, kept)

    return current
