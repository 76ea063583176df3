"""A fast path's answer against the full path's, for the property tests of rawscan, rawjson,
rawform and flatscan (tests/test_rawjson.py, test_rawform.py, test_review_s19_mask.py).

The full path is ``Triage(..., raw_scan=False)``: extract, ``SegmentSelector.select``, then
``masked(extraction, findings)``. ``assert_agrees`` checks the selection, the segments sent to a
worker, the Inspection facts and the masked request (or CannotMask) for each mask set::

    fast = assert_agrees(raw_post(b'{"tel": "13800138000"}', JSON), SELECTOR, mask_sets)
    assert isinstance(fast, Scanned)
"""

from __future__ import annotations

from collections.abc import Callable

from detectors.batch import SegmentSelector
from detectors.config import DetectorConfig
from detectors.model import Finding, Segment
from proxy.errors import CannotMask
from proxy.extraction.extract import Limits, RawRequest
from proxy.workers.triage import Clean, Local, Triage

LIMITS = Limits()
SELECTOR = SegmentSelector.for_config(DetectorConfig())
TERMS = SegmentSelector.for_config(DetectorConfig(
    confidential_terms=("Project Falcon",), deny_values=(("PHONE_NUMBER", ("4001234567",)),)))
URL = "https://api.example.com/v1/orders"

MaskSets = Callable[[tuple[tuple[int, Segment], ...]], list[tuple[Finding, ...]]]


def findings_for(segments: tuple[tuple[int, Segment], ...], *,
                 past_the_end: bool = False) -> list[tuple[Finding, ...]]:
    """A few mask sets over the selected segments: whole values, a piece, overlapping ones,
    none; ``past_the_end``: also an edit outside its segment (CannotMask on both paths)."""
    out: list[tuple[Finding, ...]] = []
    whole = tuple(Finding("PHONE_NUMBER", 1.0, 0, len(s.text), s.location, i, s.text)
                  for i, s in segments if s.text)
    if whole:
        out += [whole, whole[:1], whole[-1:]]
        i, s = segments[-1]
        if len(s.text) > 3:
            out.append((Finding("PERSON", 0.9, 1, 3, s.location, i, s.text[1:3]),
                        Finding("PHONE_NUMBER", 0.9, 2, len(s.text), s.location, i, s.text[2:])))
        if past_the_end:
            i, s = segments[0]
            out.append((Finding("PHONE_NUMBER", 1.0, 0, len(s.text) + 5, s.location, i, s.text),))
    out.append(())
    return out


def raw_post(body: bytes | str, headers, url: str = URL) -> RawRequest:
    """A POST of ``body`` (str: UTF-8) to api.example.com."""
    data = body.encode() if isinstance(body, str) else body
    return RawRequest("POST", url, headers, data, hosts=("api.example.com",))


def rewritten(inspection, findings):
    """The masked request's parts, or ("CannotMask", why)."""
    try:
        out = inspection.rewrite(findings)
    except CannotMask as e:
        return ("CannotMask", str(e))
    return (out.method, out.url, out.headers, out.body, out.hosts)


def facts(inspection) -> tuple:
    return (inspection.findings, inspection.segments, inspection.bytes_inspected,
            inspection.contexts, inspection.images)


def assert_agrees(raw: RawRequest, selector: SegmentSelector, mask_sets: MaskSets, *,
                  clean_facts: bool = False):
    """Triage's answer for ``raw`` equals the full path's; returns it (None: both leave the
    request to a worker). ``clean_facts``: a Clean answer's Inspection facts are compared too."""
    fast = Triage(selector).local(raw, LIMITS)
    full = Triage(selector, raw_scan=False).local(raw, LIMITS)
    if fast is None or full is None:
        assert fast is None and full is None
        return None
    assert isinstance(full, Local)
    assert list(fast.selected) == list(full.selected)
    assert fast.to_detect() == full.to_detect()
    if isinstance(fast, Clean):
        if clean_facts:
            assert facts(fast.inspection()) == facts(full.inspection())
        return fast
    for findings in mask_sets(full.to_detect()):
        a, b = fast.inspection(findings), full.inspection(findings)
        assert facts(a) == facts(b)
        assert rewritten(a, findings) == rewritten(b, findings), raw
    return fast


def which_path(answer) -> str:
    """Which path answered: "worker", "clean", "local" (the full path's extraction) or
    "scanned" (a raw scan)."""
    if answer is None:
        return "worker"
    if isinstance(answer, Clean):
        return "clean"
    return "local" if isinstance(answer, Local) else "scanned"
