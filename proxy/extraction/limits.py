"""Inspection ceilings, shared by extract.py and every binary opener below it.

Its own module so the openers (documents, archives, images, gitpack, grpcwire) can name
``Limits`` without importing extract.py, which imports them (issue 11: no import cycles).

    Limits(max_body_bytes=10 << 20, max_decoded_bytes=50 << 20, max_depth=5)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """Inspection ceilings. ``max_depth``: Content-Encoding layers plus nested containers."""

    max_body_bytes: int = 10 << 20
    max_decoded_bytes: int = 50 << 20
    max_depth: int = 5
