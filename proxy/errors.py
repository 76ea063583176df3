"""Every error baomi raises on purpose derives from BaomiError.

    BaomiError
     ├── UsageError          bad command-line input
     ├── PolicyError         a policy file is invalid (messages are file:line:column: ...)
     ├── InspectionError     a request could not be inspected; carries the failure kind
     │    ├── Oversize           body (or decoded body) over the policy's limits
     │    ├── Uninspectable      undecodable / unknown encoding / encrypted / bomb
     │    ├── DetectionTimeout   detector did not answer in time
     │    ├── DetectionFailed    detector raised or its worker died
     │    └── IdentityUnavailable  the identity backend (LDAP, ...) could not answer
     ├── CannotMask          a request we must mask cannot be rewritten safely
     └── IncidentLogError    the incident log cannot record (disk full, unwritable)

The CLI catches BaomiError, prints ``Error: message`` (never a traceback), exits non-zero.
Messages never contain the personal data being protected.
"""


class BaomiError(Exception):
    pass


class UsageError(BaomiError):
    pass


class PolicyError(BaomiError):
    """``errors`` holds one ``file:line:column: what is wrong, and what is expected`` per problem."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


class InspectionError(BaomiError):
    kind = "error"  # policy failure action to apply: on_<kind>


class Oversize(InspectionError):
    kind = "oversize"


class Uninspectable(InspectionError):
    kind = "uninspectable"


class DetectionTimeout(InspectionError):
    kind = "timeout"


class DetectionFailed(InspectionError):
    kind = "error"


class IdentityUnavailable(InspectionError):
    """LDAP down, TLS failed, timeout: who sent the request is unknowable -> the policy's on_error.

    An InspectionError so every hook's existing failure path applies; never carries a password.
    """

    kind = "error"


class CannotMask(BaomiError):
    pass


class IncidentLogError(BaomiError):
    pass
