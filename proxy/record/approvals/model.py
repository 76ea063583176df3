"""Transfer applications and the approvals they become: plain frozen data, no I/O.

    app = Application.of(frame_data, filed="2026-12-06T01:00:00Z")
    app.status                                    -> "pending"
    approval.status(now)                          -> "active" | "expired" | "revoked"
    approval.requester_label                      -> "alice" (or "client 10.0.0.5")

An approval has the fields of the policy's ``approvals`` entries (id, source, destination,
data, purpose, approver, agreement, starts, expires) plus who requested it, the application
it came from, the incident, the recipient and method, ``max_records`` and its revocation.
Its id is its application's id, ``app-YYYYMMDD-<8 hex>``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime

APPLICATION_STATUSES = ("pending", "approved", "rejected")
APPROVAL_STATUSES = ("active", "expired", "revoked")


# A DNS name as hosts are written (letters, digits, '-', '_' in labels of 1-63, at most 253 in
# all): a regex because no installed library checks exactly this; what matters is that no glob
# character (*?[) and no leading dot (a domain suffix in a policy) gets through.
_LABEL = r"(?!-)[a-z0-9_-]{1,63}(?<!-)"
_DNS_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")


def exact_host(host: str | None) -> str | None:
    """The host an approval may cover, normalised; None when it is no DNS name or IP literal.

    >>> exact_host("API.Partner.Example."), exact_host("[::1]"), exact_host("10.0.0.7")
    ('api.partner.example', '::1', '10.0.0.7')
    >>> exact_host("*"), exact_host(".example.org"), exact_host("a b"), exact_host("")
    (None, None, None, None)
    """
    name = (host or "").strip().lower().rstrip(".")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        pass
    if len(name) > 253 or not _DNS_NAME.fullmatch(name):
        return None
    return name


def parse_time(text: str) -> datetime:
    """'2026-12-06T01:00:00Z' -> an aware datetime (the log writes UTC with a Z)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def format_time(when: datetime) -> str:
    """An aware datetime -> '2026-12-06T01:00:00Z' (UTC, seconds)."""
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Application:
    """What a blocked requester asked for (the policy's 传输申请)."""

    id: str
    incident: str
    filed: str  # RFC 3339 UTC, the log frame's time
    requester: str | None  # the incident's user, when the policy's identity knew it
    client: str  # the requesting client's address (from the incident)
    host: str  # destination host of the incident
    entities: tuple[str, ...]  # data classes of the incident
    records: int  # customer records in the blocked request
    purpose: str
    recipient: str
    method: str
    agreement: str  # NDA / consent reference
    wanted_until: str  # RFC 3339 UTC
    max_records: int
    status: str = "pending"
    decided_by: str | None = None
    decided_at: str | None = None
    decision_reason: str | None = None

    @property
    def requester_label(self) -> str:
        return self.requester or f"client {self.client}"

    def as_dict(self) -> dict:
        d = asdict(self)
        d["entities"] = list(self.entities)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Application:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in d.items() if k in known}
        values["entities"] = tuple(values.get("entities") or ())
        return cls(**values)


@dataclass(frozen=True, slots=True)
class StoredApproval:
    """An approved application, as kept in the data dir."""

    id: str
    application: str
    incident: str
    requester: str | None
    client: str
    host: str  # the destination it covers (exact host name)
    entities: tuple[str, ...]
    purpose: str
    recipient: str
    method: str
    agreement: str
    approver: str
    starts: str  # RFC 3339 UTC: when it was approved
    expires: str
    max_records: int
    revoked_at: str | None = None
    revoked_by: str | None = None
    revoke_reason: str | None = None

    @property
    def requester_label(self) -> str:
        return self.requester or f"client {self.client}"

    def status(self, now: datetime) -> str:
        """'revoked' wins over 'expired'; ``now`` must be timezone-aware."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if now >= parse_time(self.expires) else "active"

    def as_dict(self) -> dict:
        d = asdict(self)
        d["entities"] = list(self.entities)
        return d

    def policy_fields(self) -> dict:
        """The approval under the policy file's names (``approvals:`` entries), plus who
        requested and who approved it. ``source`` and ``destination`` are what the merged
        policy's groups ``approval:<id>`` hold: the requester's user name (else the client's
        address) and the host exactly.

        >>> a = StoredApproval("app-1", "app-1", "BM-1", "alice", "10.0.0.5", "api.example",
        ...     ("CN_RESIDENT_ID",), "payroll", "ACME", "upload", "NDA-7", "carol",
        ...     "2026-12-06T01:00:00Z", "2026-12-31T00:00:00Z", 10)
        >>> a.policy_fields()["source"], a.policy_fields()["data"], a.policy_fields()["approved_by"]
        ('alice', ['CN_RESIDENT_ID'], 'carol')
        """
        return {
            "id": self.id, "source": self.requester or self.client, "destination": self.host,
            "data": list(self.entities), "purpose": self.purpose, "approver": self.approver,
            "agreement": self.agreement, "starts": self.starts, "expires": self.expires,
            "requested_by": self.requester_label, "approved_by": self.approver,
        }

    @classmethod
    def from_dict(cls, d: dict) -> StoredApproval:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in d.items() if k in known}
        values["entities"] = tuple(values.get("entities") or ())
        return cls(**values)
