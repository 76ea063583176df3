"""A form or plain-text request proved clean, or its candidates found, without extracting its
body: ``rawscan``'s work for the bodies ``proxy.workers.rawform`` reads.

    found = scan(raw, limits, selector)
    Proof(None, inspection)  -> clean: the full path (extract + SegmentSelector) selects nothing
    Proof("layer")           -> not provable from the bytes (REASONS): extract as usual
    FlatScanned              -> the full path's selection; ``to_detect``/``inspection`` as
                                ``triage.Local``'s, masks written over each value's bytes

The URL, header and host segments are extracted as usual (small); the body's texts come from
``rawform``, and the selector's one hyperscan pass over all of them says which segments can
hold a finding. A segment whose field name makes a name likely is selected too, as
``SegmentSelector.select`` does. Selection, segments, Inspection facts and masked bytes are the
full path's (tests/test_rawform.py).
"""

from __future__ import annotations

from detectors.batch import SEPARATOR, SegmentSelector, person_context
from proxy.extraction.extract import Extraction, Limits, RawRequest
from proxy.workers.inspection import Inspection
from proxy.workers.rawform import REASONS as READ_REASONS
from proxy.workers.rawform import FlatBody, read_flat
from proxy.workers.rawscan import BodyScanned, Proof, extract_rest, select_rest

REASONS = (*READ_REASONS, "budget", "candidate")


def scan(raw: RawRequest, limits: Limits, selector: SegmentSelector) -> Proof | FlatScanned:
    """Clean (``Proof(None, inspection)``), why the bytes cannot tell (``Proof(reason)``), or
    the full path's selection made from the bytes (``FlatScanned``). Raises what extracting
    the URL and headers raises."""
    body = read_flat(raw, limits)
    if isinstance(body, str):
        return Proof(body)
    if len(raw.body) > limits.max_body_bytes:
        return Proof("budget")  # extract raises Oversize
    room = limits.max_decoded_bytes - len(raw.body)
    if room < 0:
        return Proof("budget")
    rest = extract_rest(raw, limits)
    n_url = sum(1 for s in rest.segments if s.location.startswith(("path", "query:")))
    url, headers = [s.text for s in rest.segments[:n_url]], [s.text for s in rest.segments[n_url:]]
    every = url + body.texts + headers
    if selector.everything or not selector.available:  # every segment is selected
        return Proof("candidate") if every else Proof(None, _clean(raw, every, rest))
    # One scan: clean, or the candidates. The body's texts were joined once already.
    joined = SEPARATOR.join([*url, body.joined, *headers]) if body.texts else None
    busy = selector.busy_as_sent(every, joined)
    named = body.named()
    if not busy and not named and not any(
            s.context and person_context(tuple(s.context)) for s in rest.segments):
        return Proof(None, _clean(raw, every, rest))
    return FlatScanned.select(raw, limits, body, rest, n_url, every, busy, named)


def _clean(raw: RawRequest, every: list[str], rest: Extraction) -> Inspection:
    return Inspection((), len(every), len(raw.body), (), rest.images)


class FlatScanned(BodyScanned):
    """A request with a form or text body (``rawform.FlatBody``): masks are written over each
    value's bytes (``FlatBody.render``)."""

    __slots__ = ()
    body: FlatBody

    @classmethod
    def select(cls, raw: RawRequest, limits: Limits, body: FlatBody, rest: Extraction,
               n_url: int, every: list[str], busy: set[int], named: list[int]) -> FlatScanned:
        """``SegmentSelector.select`` of the full path's segments: the ``busy`` ones and
        those whose context names a person (``named``, for the body's)."""
        n_body = len(body.texts)
        leaves = {i - n_url for i in busy if n_url <= i < n_url + n_body}.union(named)
        built = {k + n_url: body.segment(k) for k in leaves}
        return cls(raw, limits, body, every, n_url, rest.images,
                   select_rest(built, rest, n_url, n_body, busy))

    def _n_body(self) -> int:
        return len(self.body.texts)

    def _render(self, new: dict[int, str]) -> bytes:
        return self.body.render(new)
