"""Stand-ins for addon-level tests: a detector that finds fixed markers, the pool run in
this process, a recorder in memory.

Addon tests check what the addon does with findings (block, mask, record, fail closed), not
what detection finds: with the fake, tuning a recognizer cannot break them, and they do not
pay for building Presidio. Detection is tested in test_engine.py / test_recognizers.py, the
real pool in test_pool.py and end to end.

    detector = FakeDetector()
    detector.analyze([Segment('{"tel": "13800138000"}', "body")])
    # -> [Finding("PHONE_NUMBER", 1.0, 9, 20, "body", 0, "13800138000")]
    addon = BaomiAddon(Runtime(policy), InProcessInspector(detector), MemoryRecorder())
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from detectors.model import Finding, Segment
from proxy.errors import IncidentLogError
from proxy.workers.inspection import inspect_request, mask_request

# Each marker is found wherever it occurs, as exactly this entity: no checksum, context or
# score threshold. Realistic values, so masks look like the real ones ("138********").
MARKERS: Mapping[str, str] = {
    "13800138000": "PHONE_NUMBER",
    "11010519491231002X": "CN_RESIDENT_ID",
    "zhang.wei@example.com": "EMAIL_ADDRESS",
}


class FakeDetector:
    """``analyze(segments) -> list[Finding]`` like detectors.engine.Detector, finding only the
    fixed ``markers`` (every occurrence, score 1.0)."""

    def __init__(self, markers: Mapping[str, str] = MARKERS):
        self.markers = dict(markers)
        self.seen: list[str] = []  # segment texts analysed, to prove what reached detection

    def analyze(self, segments: Sequence[Segment]) -> list[Finding]:
        findings = []
        for index, segment in enumerate(segments):
            self.seen.append(segment.text)
            for marker, entity in self.markers.items():
                start = segment.text.find(marker)
                while start != -1:
                    end = start + len(marker)
                    findings.append(Finding(entity, 1.0, start, end, segment.location, index, marker))
                    start = segment.text.find(marker, end)
        return sorted(findings, key=lambda f: (f.segment, f.start, f.end, f.entity))


class InProcessInspector:
    """The pool's interface (``inspect``/``mask``), run in this process; ``fail``/``fail_mask``
    make a call raise, as a crashed or timed-out worker does."""

    def __init__(self, detector, fail: BaseException | None = None,
                 fail_mask: BaseException | None = None):
        self.detector, self.fail, self.fail_mask = detector, fail, fail_mask

    async def inspect(self, raw, limits, timeout, maskable=()):
        if self.fail:
            raise self.fail
        # With ``fail_mask`` nothing is prepared, so the addon's separate mask call is made.
        return inspect_request(self.detector, raw, limits, () if self.fail_mask else maskable)

    async def mask(self, raw, limits, findings, timeout):
        if self.fail_mask:
            raise self.fail_mask
        return mask_request(raw, limits, findings)


class MemoryRecorder:
    """The recorder's ``write``; ``fail=True`` is a full disk."""

    def __init__(self, fail: bool = False):
        self.records: list = []
        self.fail = fail

    def write(self, record) -> None:
        if self.fail:
            raise IncidentLogError("disk full")
        self.records.append(record)
