"""The policies layer's error (the whole tree is drawn in detectors/errors.py)."""

from __future__ import annotations

from detectors.errors import BaomiError


class PolicyError(BaomiError):
    """``errors`` holds one ``file:line:column: what is wrong, and what is expected`` per problem."""

    exit_code = 2

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))
