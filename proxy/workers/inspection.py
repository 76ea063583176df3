"""Extract and detect one request: the work a detector worker (or `baomi scan`) does.

    inspection = inspect_request(detector, raw_request, limits)
    rewritten = mask_request(raw_request, limits, findings_to_mask)
"""

from __future__ import annotations

from dataclasses import dataclass

from detectors.model import Finding
from proxy.extraction.extract import Limits, RawRequest, extract


@dataclass(frozen=True, slots=True)
class Inspection:
    findings: tuple[Finding, ...]
    segments: int
    bytes_inspected: int
    contexts: tuple[str, ...]  # per finding: a little text around the value (evidence only)
    images: int = 0  # images whose pixels went uninspected (policy: content.images)


def inspect_request(detector, raw: RawRequest, limits: Limits) -> Inspection:
    """Extract and detect in the current process (used by workers and by `baomi scan`)."""
    extraction = extract(raw, limits)
    findings = detector.analyze(list(extraction.segments))
    contexts = tuple(_around(extraction.segments[f.segment].text, f) for f in findings)
    return Inspection(tuple(findings), len(extraction.segments), extraction.bytes_inspected, contexts,
                      extraction.images)


def mask_request(raw: RawRequest, limits: Limits, findings: tuple[Finding, ...]):
    """Rewrite the request with every finding replaced by its masked form.

    The same safe mask as records, without the fingerprint: sent out, a fingerprint would
    give the receiver a stable pseudonym of the customer across requests."""
    extraction = extract(raw, limits)
    replacements: dict[int, list[tuple[int, int, str]]] = {}
    for f in findings:
        replacements.setdefault(f.segment, []).append((f.start, f.end, f.masked(fingerprint=False)))
    return extraction.rewrite(replacements)


def _around(text: str, f: Finding, width: int = 24) -> str:
    return text[max(0, f.start - width) : f.end + width]
