"""Which requests need a detector worker at all, decided in the proxy process.

    triage = Triage(SegmentSelector.for_config(config), edm=False)
    local = triage.local(raw_request, limits)
    local is None          -> too big or too complex to extract here: send it raw to a worker
    local.selected == []   -> clean: no segment can hold a finding (detectors/batch.py), no IPC
                              (a JSON body may be proved clean unextracted: rawscan, Clean)
                              (or have its candidates found unextracted: rawscan, Scanned)
                              (form and text/plain bodies alike: flatscan, FlatScanned)
    local.to_detect()      -> the (index, segment) pairs a worker must run the detector on

Most traffic is clean, and a trip to a worker (pickle, pipe, wake-up, reply) costs more than
extracting and pre-filtering a small request here. Extraction runs on the event loop, so it
is bounded: only bodies of at most ``INLINE_BODY_BYTES`` that are not a binary document or
archive by their magic number and hold at most ``INLINE_ITEMS`` separators (JSON elements,
form fields, lines: extraction costs a few microseconds per item, and a 16 KB JSON array of
``1,1,1...`` is 8,000 of them), with a decoded-bytes budget of ``INLINE_DECODED_BYTES``
(compressed bodies, base64 layers, nested archives: a bomb stops at the budget). Anything
over those bounds, and any error while extracting here, goes to a worker as it did before
this module existed, which extracts again with the policy's own limits: its errors (oversize,
undecodable, timeout) are the ones the policy acts on, exactly as before. Measured on the
2-core test box under load, the worst bodies within the bounds held the loop for ~17 ms
(2,000 tiny JSON items) and ~25 ms (16 KB of five nested base64 layers); a 4 KB JSON API
call takes ~1 ms.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from detectors.batch import SegmentSelector
from detectors.model import Finding, Segment
from proxy.extraction.extract import Extraction, Limits, RawRequest, extract, sniff
from proxy.workers import flatscan
from proxy.workers.flatscan import FlatScanned
from proxy.workers.inspection import Inspection, inspection_of, masked
from proxy.workers.rawscan import Proof, Scanned, scan

log = logging.getLogger("baomi.triage")

INLINE_BODY_BYTES = 16 << 10  # a typical API call; larger bodies are extracted by a worker
INLINE_ITEMS = 2048  # separators: "," "&" newline "[" "{"
INLINE_DECODED_BYTES = 64 << 10  # decompressed and decoded layers, all together
_NOT_SEPARATORS = bytes(b for b in range(256) if b not in b",&\n[{")


@dataclass(frozen=True, slots=True)
class Local:
    extraction: Extraction
    selected: Sequence[int]  # segments that can hold a finding
    everything: bool  # the detector needs every segment (exact data match across fields)

    def to_detect(self) -> tuple[tuple[int, Segment], ...]:
        segments = self.extraction.segments
        indices = range(len(segments)) if self.everything else self.selected
        return tuple((i, segments[i]) for i in indices)

    def inspection(self, findings: tuple[Finding, ...] = ()) -> Inspection:
        """The request's Inspection; masking rewrites this extraction (no second extraction)."""
        extraction = self.extraction
        return inspection_of(extraction, findings, rewriter=lambda f: masked(extraction, f))


@dataclass(frozen=True, slots=True)
class Clean:
    """A request proved clean from its raw body (``proxy.workers.rawscan``): no extraction."""

    prepared: Inspection
    selected: Sequence[int] = ()

    def to_detect(self) -> tuple[tuple[int, Segment], ...]:
        return ()

    def inspection(self, findings: tuple[Finding, ...] = ()) -> Inspection:
        assert not findings  # nothing was selected, so nothing was detected
        return self.prepared


class Triage:
    """``body_bytes``: the largest body extracted here; 0 sends every body to a worker
    (measured worse on the 2-core box in every shape: see proxy/app/run.py where the pool
    is built)."""

    def __init__(self, selector: SegmentSelector, edm: bool = False,
                 body_bytes: int = INLINE_BODY_BYTES, raw_scan: bool = True):
        self.selector = selector
        self.edm = edm
        self.body_bytes = body_bytes
        self.raw_scan = raw_scan  # try proxy.workers.rawscan before extracting

    def local(self, raw: RawRequest, limits: Limits
              ) -> Local | Clean | Scanned | FlatScanned | None:
        """Extract and select here, or None: a worker must extract ``raw`` itself."""
        if self.selector.everything or not self.selector.available:
            return None  # every segment goes to a worker anyway: let it extract too
        if raw.body and (len(raw.body) > self.body_bytes or sniff(raw.body) is not None
                         or _items(raw.body) > INLINE_ITEMS):
            return None
        bounded = _bounded(limits)
        if raw.body and self.raw_scan:
            found: Proof | Scanned | FlatScanned | None
            try:
                found = scan(raw, bounded, self.selector)
                if isinstance(found, Proof) and found.reason == "media-type":
                    found = flatscan.scan(raw, bounded, self.selector)  # a form, plain text
            except Exception:  # noqa: BLE001 - the full path below meets it again
                found = None
            if isinstance(found, Proof) and found.inspection is not None:
                return Clean(found.inspection)
            # With an exact-data index every segment goes to the worker: built in full below.
            if isinstance(found, (Scanned, FlatScanned)) and not (self.edm and found.selected):
                return found
        try:
            extraction = extract(raw, bounded)
        except Exception as e:  # noqa: BLE001 - a worker extracts again and its error counts
            log.debug("extracting in a worker instead (%s)", type(e).__name__)
            return None
        return Local(extraction, self.selector.select(extraction.segments), self.edm)


def _bounded(limits: Limits) -> Limits:
    """``limits`` with at most ``INLINE_DECODED_BYTES`` of decoded bytes; one object per
    policy's limits (a ``dataclasses.replace`` per request cost ~1.4 us)."""
    bounded = _BOUNDED.get(limits)
    if bounded is None:
        if len(_BOUNDED) >= 16:  # reloads: keep a few
            _BOUNDED.clear()
        bounded = _BOUNDED[limits] = Limits(
            limits.max_body_bytes, min(limits.max_decoded_bytes, INLINE_DECODED_BYTES),
            limits.max_depth)
    return bounded


_BOUNDED: dict[Limits, Limits] = {}


def _items(body: bytes) -> int:
    """How many separators ``body`` holds, counted at C speed (the rest deleted)."""
    return len(body.translate(None, _NOT_SEPARATORS))
