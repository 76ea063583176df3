"""The URL path of a request nothing inspected, fit for a record's clear fields.

A request refused before inspection (body deadline, trailers, smuggling, oversize, an error)
is still recorded, and its path is written in clear (``decisions.jsonl``, the incident's
metadata). No detector ran on it, so ``redact_record`` has no value to mask: the path would
go out raw, ``/customers/13912345678`` and all. Here each ``/``-segment goes through the
detector's own segment selector (``detectors.batch``: the cheap superset of what detection
can find, hyperscan, microseconds): a segment that could hold a finding is withheld, the rest
is kept so a reviewer still sees where the request went::

    uninspected_path("/r5-cut/13912345678/notes", selector)   # -> '/r5-cut/[withheld]/notes'

Why select rather than withhold the whole path: most refused requests carry no data in the
path, and a reviewer needs it to tell one refusal from another. Why not a worker call: the
refusal hooks (``error``) are synchronous, and a refusal may be recorded because the workers
failed. Fail closed: a segment that does not decode as UTF-8, or a path still busy once
joined (a value spread over segments), withholds the whole path; so does a missing selector
(the detector is not started yet).
"""

from __future__ import annotations

from urllib.parse import unquote

from detectors.batch import SegmentSelector

SEGMENT_WITHHELD = "[withheld]"
PATH_UNINSPECTED = "[path withheld: not inspected]"


def uninspected_path(path: str, selector: SegmentSelector | None) -> str:
    """``path`` with every segment the selector picks withheld (see the module docstring)."""
    if not path.strip("/"):
        return path
    if selector is None or selector.everything or not selector.available:
        return PATH_UNINSPECTED  # nothing can tell a quiet segment here
    segments = path.split("/")
    try:
        texts = [unquote(s, errors="strict") for s in segments]
    except UnicodeDecodeError:  # GB18030 or odd bytes: the detector reads them otherwise
        return PATH_UNINSPECTED
    busy = selector.busy_as_sent(texts)
    kept = [SEGMENT_WITHHELD if i in busy else s for i, s in enumerate(segments)]
    if selector.busy_as_sent(["/".join(t for i, t in enumerate(texts) if i not in busy)]):
        return PATH_UNINSPECTED  # a value spread over segments ("/138/0013/8000")
    return "/".join(kept)
