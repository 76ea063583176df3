"""The layer probe of the fast paths: could extraction open an encoded layer in a text?

    opens_any(["SO-2026-11-27-000123"], limits)       -> False: decodes to nothing readable
    opens_any(["Kzg2MTM4MDAxMzgwMDA="], limits)       -> True: base64 of +8613800138000
    lines_open("SKU-1\\nMTM4MDAxMzgwMDA=", limits)    -> True (the lines of a join, one pass)

``rawscan`` (JSON) and ``rawform`` (forms, text) prove a body clean from its bytes only when
no value would open a layer in ``extract`` (``layers.layered``: base64, hex, percent,
entities, escapes, embedded JSON). The probe runs the very decoders ``layered`` runs, with
openers that say "opened" instead of building what they opened, so it answers exactly
whether ``layered`` would decode anything (tests/test_layer_probe_exact.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from detectors.model import Segment
from proxy.extraction.archives import GZIP
from proxy.extraction.decode import Budget
from proxy.extraction.extract import Limits, sniff
from proxy.extraction.layers import Openers, openable_lines, opens


def lines_open(joined: str, limits: Limits) -> bool:
    """``opens_any`` of the lines of ``joined`` that may open (``layers.openable_lines``,
    one pass): for texts joined by newlines, none of which holds a newline."""
    suspects = openable_lines(joined)
    return bool(suspects) and opens_any(suspects, limits)


def opens_any(texts: Iterable[str], limits: Limits) -> bool:
    """Does a decoder open a layer in any of ``texts`` (``layers.opens``)? Whatever the
    decoded bytes open (a document, JSON) counts as opened: only "nothing" proves clean. An
    order number such as SO-2026-11-27-000123 looks like base64 at a first glance and
    decodes to nothing readable.

    >>> opens_any(["SO-2026-11-27-000123", "deliver to dock 3"], Limits())
    False
    >>> opens_any(["Kzg2MTM4MDAxMzgwMDA="], Limits())
    True
    """
    budget = Budget(limits.max_decoded_bytes)
    try:
        return any(opens(text, PROBE, limits.max_depth, budget) for text in texts)
    except Exception:  # noqa: BLE001 - Uninspectable, Oversize: the full path decides
        return True


class _Opened:
    """What the probe's openers return: a view with one empty segment. Not none:
    ``layers`` keeps only layers whose view has segments, so an empty view made base64 of a
    JSON document, of a file or of an image look like "nothing opened" (review finding,
    tests/test_fastpath_attacks.py)."""

    segments: tuple[Segment, ...] = (Segment("", "probe"),)

    def render(self, edits) -> bytes:
        raise AssertionError("a probe is never rendered")


_OPENED = _Opened()
PROBE = Openers(
    document=lambda data, label, depth: _OPENED if sniff(data) not in (None, GZIP) else None,
    json=lambda text, codec, prefix: _OPENED,
)
