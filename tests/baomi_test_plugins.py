"""Recognizers that fail on purpose, loaded by the proxy through `detection.extra_recognizers`.

They let end-to-end tests drive the detector into an exception or a hang through the real
process, exactly as an admin's buggy custom recognizer would.
"""

import os
import time

from presidio_analyzer import EntityRecognizer

RAISE_MARKER = "BAOMI-TEST-RAISE"
HANG_MARKER = "BAOMI-TEST-HANG"


class RaiseOnMarker(EntityRecognizer):
    def __init__(self):
        super().__init__(supported_entities=["TEST_FAULT"], name="RaiseOnMarker")

    def load(self):
        pass

    def analyze(self, text, entities, nlp_artifacts=None):
        if RAISE_MARKER in text:
            raise RuntimeError("recognizer crashed on purpose")
        return []


class HangOnMarker(EntityRecognizer):
    def __init__(self):
        super().__init__(supported_entities=["TEST_FAULT"], name="HangOnMarker")

    def load(self):
        pass

    def analyze(self, text, entities, nlp_artifacts=None):
        if HANG_MARKER in text:
            time.sleep(3600)
        return []


SLOW_MARKER = "BAOMI-TEST-SLOW"
EXIT_MARKER = "BAOMI-TEST-EXIT"


class SlowOnMarker(EntityRecognizer):
    """Takes a second: long enough for a test to kill the worker while it is busy."""

    def __init__(self):
        super().__init__(supported_entities=["TEST_FAULT"], name="SlowOnMarker")

    def load(self):
        pass

    def analyze(self, text, entities, nlp_artifacts=None):
        if SLOW_MARKER in text:
            time.sleep(1)
        return []


class ExitOnMarker(EntityRecognizer):
    """Ends its worker process abruptly, as a crash in a native library would."""

    def __init__(self):
        super().__init__(supported_entities=["TEST_FAULT"], name="ExitOnMarker")

    def load(self):
        pass

    def analyze(self, text, entities, nlp_artifacts=None):
        if EXIT_MARKER in text:
            os._exit(70)
        return []
