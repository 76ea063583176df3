"""Free text typed into the console is checked for personal data before anything keeps it.

    personal_data_in({"purpose": "payroll", "recipient": "ACME HR 11010519491231002X"})
      -> "recipient"   (the first field with a finding; None when all are clean)

What a requester types (purpose, recipient, method, agreement) goes into pages, incident-log
frames and ``approvals/state.json`` in clear, so a resident ID pasted into "recipient" would
sit there for ever. The proxy's own detector reads the fields, with the policy's
``detection`` settings when the console was given the policy (``--policy``), else the
defaults. It is built on first use (seconds: Presidio and the NER model) and kept; one
analysis at a time, as a Detector is not thread-safe. If it cannot run, the text is refused
(fail closed).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from flask import current_app

from detectors.config import DetectorConfig
from detectors.model import Segment
from policies.load import load_policy

if TYPE_CHECKING:
    from detectors.engine import Detector

_LOCK = threading.Lock()
_DETECTORS: dict[DetectorConfig, Detector] = {}


class CannotScreen(Exception):
    """The detector could not be built or failed: the text is refused."""


def personal_data_in(fields: dict[str, str],
                     expected: dict[str, frozenset[str]] | None = None) -> str | None:
    """The name of the first field holding personal data, else None; raises CannotScreen.

    ``expected``: entities a field asks for (a recipient's name is what "recipient" is for).
    No field-name context is given: "recipient" would make any words in it a PERSON.
    """
    expected = expected or {}
    names = [name for name, text in fields.items() if text and text.strip()]
    segments = [Segment(fields[name], f"form:{name}") for name in names]
    if not segments:
        return None
    try:
        with _LOCK:
            findings = _detector(_config()).analyze(segments)
    except Exception as error:  # noqa: BLE001 - fail closed; the type only, never the text
        raise CannotScreen(type(error).__name__) from None
    hits = sorted(f.segment for f in findings
                  if f.entity not in expected.get(names[f.segment], frozenset()))
    return names[hits[0]] if hits else None


def _config() -> DetectorConfig:
    path = current_app.config.get("BAOMI_POLICY")
    return load_policy(path).detection if path else DetectorConfig()


def _detector(config: DetectorConfig) -> Detector:
    detector = _DETECTORS.get(config)
    if detector is None:
        from detectors.engine import Detector  # Presidio and spaCy: only when first needed

        detector = _DETECTORS[config] = Detector(config)
    return detector
