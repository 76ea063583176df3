"""One Detector per test session (building it takes seconds), shared by the detection tests."""

from __future__ import annotations

from functools import cache

from detectors.engine import Detector, DetectorConfig
from detectors.model import Finding, Segment


@cache
def shared_detector() -> Detector:
    return Detector(DetectorConfig())


def detect(text: str, context: tuple[str, ...] = ()) -> list[Finding]:
    return shared_detector().analyze([Segment(text, "test", context)])


def best(text: str, entity: str, context: tuple[str, ...] = ()) -> Finding | None:
    """The highest-scoring finding of ``entity`` in ``text``, or None."""
    found = [f for f in detect(text, context) if f.entity == entity]
    return max(found, key=lambda f: f.score, default=None)
