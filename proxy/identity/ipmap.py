"""Who sits at an address, for transparent deployments: ``address user [time]`` lines.

    10.20.3.4   alice                        # as of the file's modification time
    10.20.3.5   bob    2026-12-05T09:12:00Z  # as of a logon / DHCP lease time (ISO 8601 or epoch)

    IpMap(settings).user_at("10.20.3.4", now)  -> "alice", or None once the mapping is older
                                                  than max_age_seconds (a stale lease names
                                                  whoever had the address before)

The file is re-read when it changes (DHCP/AD export jobs rewrite it); '#' starts a comment.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime

from policies.model import IPAddress, IpMapSettings, parse_ip
from proxy.identity.watched import WatchedFile


@dataclass(frozen=True, slots=True)
class Mapping:
    user: str
    since: float | None  # epoch seconds; None: the file's mtime


def parse_ipmap(text: str) -> dict[IPAddress, Mapping]:
    mappings: dict[IPAddress, Mapping] = {}
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) not in (2, 3):
            raise ValueError(f"line {number}: expected 'address user [time]'")
        address = parse_ip(fields[0])
        if address is None:
            raise ValueError(f"line {number}: the first field is not an IP address")
        since = _time(fields[2], number) if len(fields) == 3 else None
        mappings[address] = Mapping(fields[1], since)
    return mappings


def _time(text: str, number: int) -> float:
    try:
        if text.replace(".", "", 1).isdigit():
            return float(text)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"line {number}: the time is neither ISO 8601 nor epoch seconds") from None
    if moment.tzinfo is None:
        raise ValueError(f"line {number}: the time has no timezone; expected e.g. ...Z or +08:00")
    return moment.timestamp()


class IpMap:
    def __init__(self, settings: IpMapSettings):
        self.settings = settings
        self.file = WatchedFile(settings.file, parse_ipmap)

    def user_at(self, address: str | IPAddress | None, now: float) -> str | None:
        """``now``: epoch seconds. Raises IdentityUnavailable when the file cannot be read."""
        client = address if isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address) \
            else parse_ip(address)
        mtime = self.file.stat().st_mtime
        mapping = self.file.get().get(client) if client is not None else None
        if mapping is None:
            return None
        since = mtime if mapping.since is None else mapping.since
        return mapping.user if now - since <= self.settings.max_age_seconds else None

    def age(self, now: float) -> float:
        """Seconds since the file last changed (doctor: fresh when <= max_age_seconds)."""
        return now - self.file.stat().st_mtime
