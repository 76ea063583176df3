"""The proxy layer's errors; the whole tree, all layers, is drawn in detectors/errors.py.

Every class is importable from here (``from proxy.errors import PolicyError`` keeps working):
the base and the detection errors live in detectors.errors, PolicyError in policies.errors.
"""

from __future__ import annotations

from detectors.errors import BaomiError, DetectionFailed, EdmError, InspectionError
from policies.errors import PolicyError

__all__ = [
    "ApplicationError", "BaomiError", "CannotDecrypt", "CannotMask", "DetectionFailed", "DetectionTimeout",
    "EdmError", "IdentityUnavailable", "IncidentLogError", "InspectionError", "KeyStoreError",
    "Oversize", "PolicyError", "StartupError", "Uninspectable", "UsageError",
]


class UsageError(BaomiError):
    """Bad command-line input: a flag, an argument or a BAOMI_* default the admin typed."""

    exit_code = 2


class Oversize(InspectionError):
    kind = "oversize"


class Uninspectable(InspectionError):
    kind = "uninspectable"


class DetectionTimeout(InspectionError):
    kind = "timeout"


class IdentityUnavailable(InspectionError):
    """LDAP down, TLS failed, timeout: who sent the request is unknowable -> the policy's on_error.

    An InspectionError so every hook's existing failure path applies; never carries a password.
    """

    kind = "error"


class StartupError(BaomiError):
    """A detector worker that cannot start: ``detector worker failed to start: extra recognizer
    'nope:Missing': ModuleNotFoundError: No module named 'nope'``."""


class KeyStoreError(BaomiError):
    """A key file missing, open to other users, damaged or of the wrong kind; the message names
    the file and the fix, never key material. Exit code 2: the admin must fix a file."""

    exit_code = 2


class CannotDecrypt(BaomiError):
    """Wrong key, altered ciphertext, or altered associated data."""


class CannotMask(BaomiError):
    pass


class IncidentLogError(BaomiError):
    pass


class ApplicationError(BaomiError):
    """A transfer application or approval that cannot be filed, decided or revoked as asked
    (unknown id, already decided, a widening, an approver deciding their own application, a
    link that is not valid); the message says which, never a value. Exit code 2."""

    exit_code = 2
