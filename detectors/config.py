"""What the detector is told: the policy's ``detection:`` section *is* this object.

    DetectorConfig(score_threshold=0.5, extra_recognizers=("corp.recognizers:EmployeeId",))

policies/build.py builds it from the YAML (paths resolved against the policy's folder);
``detectors.engine.Detector`` and the proxy's worker pool take it as it is. A light module
(no Presidio import), so loading a policy stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    entities: frozenset[str] | None = None  # None: all of ours (and the extra recognizers')
    score_threshold: float = 0.4
    extra_recognizers: tuple[str, ...] = ()  # "module:Class" of Presidio EntityRecognizer
    nlp_model: str | None = None  # spaCy pipeline name/dir replacing the shipped NER model
    ner: bool = True  # False: no NER model at all (names from structure and context only)
    allow_values: tuple[str, ...] = ()  # never reported, in any written form (value_form)
    deny_values: tuple[tuple[str, tuple[str, ...]], ...] = ()  # always reported, score 1.0
    confidential_markers: bool = True  # the built-in labels of detectors.dictionary.MARKERS
    confidential_terms: tuple[str, ...] = ()  # the admin's own labels, also CONFIDENTIAL_MARKER
    edm_index: str | None = None  # Exact Data Match index and its key file (detectors.edm)
    edm_key_file: str | None = None
