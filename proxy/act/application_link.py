"""The link a refusal carries to a pre-filled transfer application in the console.

    use_application_links("http://127.0.0.1:9465", key)     # once, by `baomi run`
    application_url(record) -> "http://127.0.0.1:9465/applications/new?incident=BM-...&token=..."

The console's external URL is ``baomi run --console-url URL`` (or ``BAOMI_CONSOLE_URL``;
default http://127.0.0.1:9465, the console's default listener); the key is
``DIR/approvals/link.key`` (see ``proxy.record.approvals.links``). A refusal gets a link only
when an approval could help: the request was recorded (it has an incident id), data was found,
and the rule is a policy rule rather than a failure to inspect. Before ``use_application_links``
(``baomi scan``, unit tests) no refusal carries a link.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.act.refusal_text import failure_words
from proxy.record.approvals.links import application_link
from proxy.record.decisions import DecisionRecord


@dataclass(frozen=True, slots=True)
class _Links:
    console_url: str
    key: bytes


_links: _Links | None = None


def use_application_links(console_url: str | None, key: bytes | None) -> None:
    """Set (or, with None, clear) where refusals' application links point."""
    global _links  # set once at start-up, read by every refusal
    _links = _Links(console_url, key) if console_url and key else None


def application_url(record: DecisionRecord) -> str | None:
    links = _links
    if links is None or not record.incident_id or not record.entity_counts:
        return None
    if failure_words(record.rule, "en") is not None or not record.source:
        return None
    return application_link(links.console_url, links.key, record.incident_id, record.source)
