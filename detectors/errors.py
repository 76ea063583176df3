"""Every error baomi raises on purpose derives from BaomiError; each layer raises its own.

The whole tree, all layers (httpx's ``_exceptions.py`` is the model):

    BaomiError                      detectors.errors: the base; ``exit_code`` for the CLI
     ├── InspectionError            detectors.errors: a request could not be inspected;
     │    │                           ``kind`` names the policy's failure action (on_<kind>)
     │    ├── DetectionFailed       detectors.errors: a detector raised, or its worker died
     │    ├── DetectionTimeout      proxy.errors: the detector did not answer in time
     │    ├── Oversize              proxy.errors: body (or decoded body) over the policy's limits
     │    ├── Uninspectable         proxy.errors: undecodable / unknown encoding / encrypted / bomb
     │    └── IdentityUnavailable   proxy.errors: the identity backend (LDAP, ...) cannot answer
     │         └── ConnectionLost   proxy.identity.ldap: no LDAP answer on this connection
     │                                (the kept connection is replaced once, then it stands)
     ├── EdmError                   detectors.errors: an EDM index or key cannot be built or used
     ├── PolicyError                policies.errors: a policy file is invalid (file:line:col: ...)
     ├── UsageError                 proxy.errors: bad command-line input (flags, arguments)
     ├── StartupError               proxy.errors: a detector worker cannot start (an extra
     │                                recognizer that fails to import, a missing NLP model: says
     │                                which and why)
     ├── KeyStoreError              proxy.errors: a key file is missing, exposed, damaged or wrong
     ├── CannotDecrypt              proxy.errors: wrong key, altered ciphertext or associated data
     ├── CannotMask                 proxy.errors: a request we must mask cannot be rewritten safely
     ├── IncidentLogError           proxy.errors: the incident log cannot record (disk full, ...)
     └── ApplicationError           proxy.errors: a transfer application or approval that cannot
                                      be filed, decided or revoked as asked

The CLI catches BaomiError, prints ``Error: message`` (never a traceback) and exits with the
error's ``exit_code``: 2 for input the admin must fix (usage, policy, keys), else 1.
Messages never contain the personal data being protected.
"""

from __future__ import annotations


class BaomiError(Exception):
    exit_code = 1


class InspectionError(BaomiError):
    kind = "error"  # policy failure action to apply: on_<kind>


class DetectionFailed(InspectionError):
    kind = "error"


class EdmError(BaomiError):
    """An index or key that cannot be built or used; the message names the file, never data."""

