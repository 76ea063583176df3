"""The link a refusal carries to a pre-filled transfer application in the console.

    use_application_links("http://127.0.0.1:9465", key)     # once, by `baomi run`
    application_url(record) -> "http://127.0.0.1:9465/applications/new?incident=BM-...&token=..."

The console's external URL is ``baomi run --console-url URL`` (or ``BAOMI_CONSOLE_URL``;
default http://127.0.0.1:9465, the console's default listener); the key is
``DIR/approvals/link.key`` (see ``proxy.record.approvals.links``). A refusal gets a link only
when an approval could help: the request was recorded (it has an incident id), data was found,
and the rule that refused it is an approvable block or mask rule of the policy in force (not
``approvable: false``, not the default action, not a failure to inspect). Before
``use_application_links`` (``baomi scan``, unit tests) no refusal carries a link.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from policies.model import Policy
from proxy.record.approvals.links import DEFAULT_CONSOLE_URL, application_link
from proxy.record.decisions import DecisionRecord


@dataclass(frozen=True, slots=True)
class _Links:
    console_url: str
    key: bytes
    policy: Callable[[], Policy]  # the policy in force, read per refusal (reloads apply)


_links: _Links | None = None


def use_application_links(console_url: str | None, key: bytes | None,
                          policy: Callable[[], Policy] | None = None) -> None:
    """Set (or, with None, clear) where refusals' application links point."""
    global _links  # set once at start-up, read by every refusal
    _links = _Links(console_url, key, policy) if console_url and key and policy else None


def application_url(record: DecisionRecord) -> str | None:
    links = _links
    if links is None or not record.incident_id or not record.entity_counts or not record.source:
        return None
    if not approvable(links.policy(), record.rule):
        return None
    return application_link(links.console_url, links.key, record.incident_id, record.source)


def approvable(policy: Policy, rule_name: str) -> bool:
    """Could an approval lift this rule? Only an approvable block or mask rule of the policy."""
    rule = next((r for r in policy.rules if r.name == rule_name), None)
    return rule is not None and rule.approvable and rule.action in ("block", "mask")


def console_url_warning(console_url: str, listen_host: str) -> str | None:
    """What ``baomi run`` says at start when the links would point at the user's own machine:
    the default console URL (loopback) while the proxy serves other machines.

    >>> console_url_warning("http://127.0.0.1:9465", "0.0.0.0")[:40]
    'warning: --console-url is the default ht'
    >>> console_url_warning("http://127.0.0.1:9465", "127.0.0.1") is None
    True
    >>> console_url_warning("https://console.corp.example", "0.0.0.0") is None
    True
    """
    if console_url.rstrip("/") != DEFAULT_CONSOLE_URL or _loopback(listen_host):
        return None
    return (f"warning: --console-url is the default {DEFAULT_CONSOLE_URL} but the proxy "
            f"listens on {listen_host or 'all addresses'}: block pages would link each user "
            "to their own machine; set --console-url (BAOMI_CONSOLE_URL) to the console's "
            "address as users reach it")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
