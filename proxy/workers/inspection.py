"""Extract and detect one request: the work a detector worker (or `baomi scan`) does.

    inspection = inspect_request(detector, raw_request, limits, maskable)
    inspection.rewrite(findings_to_mask)      -> the masked RawRequest (prepared), or None
    findings, ner_skipped = detect_segments(detector, ((4, segment), (9, segment)))  # selected
    rewritten = mask_request(raw_request, limits, findings_to_mask)

``maskable``: the entity sets the policy's mask rules mask. The worker that detects also
prepares the rewrite for each (body re-encoded once, no second trip to a worker); the proxy
picks the one its decision names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields, replace

from detectors.model import Finding, Segment
from proxy.errors import CannotMask
from proxy.extraction.extract import Extraction, Limits, RawRequest, extract

Rewriter = Callable[[tuple[Finding, ...]], RawRequest]


@dataclass(frozen=True, slots=True)
class Inspection:
    findings: tuple[Finding, ...]
    segments: int
    bytes_inspected: int
    contexts: tuple[str, ...]  # per finding: a little text around the value (evidence only)
    images: int = 0  # images whose pixels went uninspected (policy: content.images)
    ner_skipped_bytes: int = 0  # prose the NER model left to the rules (over its budget)
    # Rewrites prepared by the worker: (indices of the findings masked, result or why not).
    prepared: tuple[tuple[tuple[int, ...], RawRequest | CannotMask], ...] = ()
    # The proxy's own extraction when it extracted in-process (never crosses a pipe).
    rewriter: Rewriter | None = field(default=None, compare=False, repr=False)

    def rewrite(self, to_mask: tuple[Finding, ...]) -> RawRequest | None:
        """The request with ``to_mask`` masked, or None when nobody prepared that rewrite.

        Raises CannotMask when the content cannot carry the masks."""
        if self.rewriter is not None:
            return self.rewriter(to_mask)
        key = tuple(i for i, f in enumerate(self.findings) if f in to_mask)
        for masked, result in self.prepared:
            if masked == key:
                if isinstance(result, CannotMask):
                    raise result
                return result
        return None


def inspect_request(detector, raw: RawRequest, limits: Limits,
                    maskable: Iterable[frozenset[str]] = ()) -> Inspection:
    """Extract and detect in the current process (used by workers and by `baomi scan`)."""
    extraction = extract(raw, limits)
    skipped = _ner_skipped(detector)
    findings = tuple(detector.analyze(list(extraction.segments)))
    return replace(inspection_of(extraction, findings),
                   prepared=_prepare(extraction, findings, maskable),
                   ner_skipped_bytes=_ner_skipped(detector) - skipped)


def inspection_of(extraction: Extraction, findings: tuple[Finding, ...],
                  rewriter: Rewriter | None = None) -> Inspection:
    contexts = tuple(_around(extraction.segments[f.segment].text, f) for f in findings)
    return Inspection(findings, len(extraction.segments), extraction.bytes_inspected, contexts,
                      extraction.images, rewriter=rewriter)


def detect_segments(detector, selected: Sequence[tuple[int, Segment]]
                    ) -> tuple[tuple[Finding, ...], int]:
    """Findings of some segments of a request, each pointing at its index in the request,
    and the bytes of prose the NER model left to the rules (``Inspection.ner_skipped_bytes``)."""
    indices = [index for index, _ in selected]
    skipped = _ner_skipped(detector)
    findings = detector.analyze([segment for _, segment in selected])
    return (tuple(replace(f, segment=indices[f.segment]) for f in findings),
            _ner_skipped(detector) - skipped)


# The "detect" job on the pipe: segments and findings as plain tuples. Pickle writes a slots
# dataclass through its __reduce_ex__/__getstate__ in Python (one Segment ~25 us, one Finding
# read back ~40 us on a busy box) and a tuple of strings in C (~5 us for the same job).
_FINDING = tuple(f.name for f in fields(Finding))


def detect_job(selected: Iterable[tuple[int, Segment]]) -> tuple[tuple, ...]:
    """``selected`` as ``detect_plain`` takes it over the pipe.

    >>> detect_job([(4, Segment("13800138000", "json:$.tel", ("tel",)))])
    ((4, '13800138000', 'json:$.tel', ('tel',)),)
    """
    return tuple((i, s.text, s.location, s.context) for i, s in selected)


def detect_plain(detector, job: tuple[tuple, ...]) -> tuple[tuple[tuple, ...], int]:
    """``detect_segments`` of a ``detect_job``, its findings as tuples for ``findings_of``."""
    findings, skipped = detect_segments(
        detector, [(i, Segment(text, location, context)) for i, text, location, context in job])
    return tuple(tuple(getattr(f, name) for name in _FINDING) for f in findings), skipped


def findings_of(plain: tuple[tuple, ...]) -> tuple[Finding, ...]:
    """The Findings ``detect_plain`` sent."""
    return tuple(Finding(*values) for values in plain)


def _ner_skipped(detector) -> int:
    """The detector's running count of prose bytes its NER budget skipped (0 for a detector
    without one, such as the tests' fakes)."""
    return getattr(detector, "ner_skipped_bytes", 0)


def mask_request(raw: RawRequest, limits: Limits, findings: tuple[Finding, ...]) -> RawRequest:
    """Rewrite the request with every finding replaced by its masked form."""
    return masked(extract(raw, limits), findings)


def masked(extraction: Extraction, findings: tuple[Finding, ...]) -> RawRequest:
    """The request with ``findings`` masked (``edits_of``)."""
    return extraction.rewrite(edits_of(findings))


def edits_of(findings: tuple[Finding, ...]) -> dict[int, list[tuple[int, int, str]]]:
    """Per segment, the edits that mask its findings: the same safe mask as records,
    without the fingerprint (sent out, a fingerprint would give the receiver a stable
    pseudonym of the customer across requests)."""
    replacements: dict[int, list[tuple[int, int, str]]] = {}
    for f in findings:
        replacements.setdefault(f.segment, []).append((f.start, f.end, f.masked(fingerprint=False)))
    return replacements


def evidence(texts: Sequence[str], findings: tuple[Finding, ...]) -> tuple[str, ...]:
    """Per finding, a little text around its value in its segment (``texts``: every
    segment's text)."""
    return tuple(_around(texts[f.segment], f) for f in findings)


def _prepare(extraction: Extraction, findings: tuple[Finding, ...],
             maskable: Iterable[frozenset[str]]):
    prepared: dict[tuple[int, ...], RawRequest | CannotMask] = {}
    for entities in maskable:
        key = tuple(i for i, f in enumerate(findings) if f.entity in entities)
        if not key or key in prepared:
            continue
        try:
            prepared[key] = masked(extraction, tuple(findings[i] for i in key))
        except CannotMask as e:
            prepared[key] = e
    return tuple(prepared.items())


def _around(text: str, f: Finding, width: int = 24) -> str:
    return text[max(0, f.start - width) : f.end + width]
