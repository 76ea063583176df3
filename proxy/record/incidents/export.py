"""Incident metadata for SIEMs: ECS JSON, OCSF Data Security Finding JSON, RFC 5424 syslog.

    for line in export_lines(index.incidents(since="2025-03-01"), "ocsf"):
        print(line)

Metadata only: evidence never leaves the store this way. Masked snippets are included
(they are what the proxy already shows in block pages).
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from proxy.errors import UsageError

FORMATS = ("ecs", "ocsf", "syslog")
ECS_VERSION = "8.11.0"
OCSF_VERSION = "1.3.0"
# 32473 is the private enterprise number RFC 5612 reserves for examples; a deployment with
# its own PEN should use it.
SD_ID = "baomi@32473"
_SYSLOG_FACILITY = 13  # log audit
_OCSF_ACTION = {
    "block": (2, "Denied"),
    "mask": (4, "Modified"),
    "monitor": (3, "Observed"),
    "allow": (1, "Allowed"),
}
_OCSF_STATUS = {
    "new": (1, "New"),
    "in_progress": (2, "In Progress"),
    "confirmed": (2, "In Progress"),
    "triaged": (2, "In Progress"),
    "escalated": (2, "In Progress"),
    "false_positive": (3, "Suppressed"),
    "duplicate": (3, "Suppressed"),
    "resolved": (4, "Resolved"),
}


def export_lines(incidents: Iterable[dict], fmt: str) -> Iterator[str]:
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    for incident in incidents:
        if fmt == "syslog":
            yield to_syslog(incident)
        else:
            doc = to_ecs(incident) if fmt == "ecs" else to_ocsf(incident)
            yield json.dumps(doc, ensure_ascii=False, sort_keys=True)


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _rfc3339(text: str | None) -> str | None:
    t = parse_time(text)
    if t is None:
        return None
    return t.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _ip(address: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(address or ""))
    except ValueError:
        return None


def _severity(meta: dict) -> str:
    return "block" if meta.get("action") == "block" or meta.get("would_be") == "block" else "notice"


# --- ECS -----------------------------------------------------------------------------------------


def to_ecs(incident: dict) -> dict:
    m = incident["meta"]
    source: dict = {"address": m.get("source")}
    if _ip(m.get("source")):
        source["ip"] = _ip(m.get("source"))
    doc: dict = {
        "@timestamp": _rfc3339(m.get("time")) or m.get("time"),
        "ecs": {"version": ECS_VERSION},
        "event": {
            "kind": "alert",
            "category": ["network"],
            "type": ["denied"] if m.get("action") == "block" else ["allowed"],
            "action": m.get("action"),
            "id": m.get("incident"),
            "module": "baomi",
            "dataset": "baomi.incidents",
            "reason": m.get("reason") or None,
            "severity": 3 if _severity(m) == "block" else 2,
        },
        "rule": {"name": m.get("rule")},
        "source": source,
        "destination": {"domain": m.get("host"), "port": m.get("port")},
        "url": {
            "scheme": m.get("scheme"),
            "domain": m.get("host"),
            "path": m.get("path"),
            "port": m.get("port"),
        },
        "http": {"request": {"method": m.get("method")}},
        "observer": {"vendor": "baomi", "product": "baomi", "type": "proxy"},
        "baomi": _baomi_fields(incident),
    }
    if m.get("user"):
        doc["user"] = {"name": m["user"]}
        if m.get("user_groups"):  # ECS keyword fields take arrays: every group of the sender
            doc["user"]["group"] = {"name": list(m["user_groups"])}
    return _drop_none(doc)


# --- OCSF ----------------------------------------------------------------------------------------


def to_ocsf(incident: dict) -> dict:
    m = incident["meta"]
    t = parse_time(m.get("time"))
    action_id, action = _OCSF_ACTION.get(m.get("action", ""), (99, "Other"))
    status_id, status = _OCSF_STATUS.get(incident.get("status", "new"), (99, "Other"))
    severity_id, severity = (4, "High") if _severity(m) == "block" else (3, "Medium")
    doc: dict = {
        "class_uid": 2006,
        "class_name": "Data Security Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": 200601,
        "type_name": "Data Security Finding: Create",
        "time": int(t.timestamp() * 1000) if t else 0,
        "severity_id": severity_id,
        "severity": severity,
        "status_id": status_id,
        "status": status,
        "action_id": action_id,
        "action": action,
        "is_alert": True,
        "message": f"{m.get('action')} {m.get('method')} {m.get('host')}{m.get('path')}",
        "metadata": {
            "version": OCSF_VERSION,
            "uid": m.get("incident"),
            "product": {"name": "baomi", "vendor_name": "baomi"},
            "profiles": ["security_control"],
        },
        "finding_info": {
            "uid": m.get("incident"),
            "title": f"Personal data in outbound request ({m.get('rule')})",
            "types": sorted(m.get("entity_counts") or {}),
        },
        "data_security": {
            "data_lifecycle_state_id": 2,  # data in transit
            "detection_system_id": 2,  # DLP gateway
            "policy": {"name": m.get("rule"), "uid": m.get("policy_hash")},
        },
        "src_endpoint": {"ip": _ip(m.get("source"))},
        "dst_endpoint": {"hostname": m.get("host"), "port": m.get("port")},
        "unmapped": _baomi_fields(incident),
    }
    if m.get("user"):
        user: dict = {"name": m["user"]}
        if m.get("user_groups"):
            user["groups"] = [{"name": g} for g in m["user_groups"]]
        doc["actor"] = {"user": user}
    return _drop_none(doc)


# --- syslog --------------------------------------------------------------------------------------


def to_syslog(incident: dict, hostname: str | None = None) -> str:
    """``<108>1 2025-03-01T08:00:00.000000Z gw baomi - incident [baomi@32473 id="..."] ...``"""
    m = incident["meta"]
    severity = 4 if _severity(m) == "block" else 5  # warning / notice
    params = {
        "id": m.get("incident"),
        "action": m.get("action"),
        "rule": m.get("rule"),
        "host": m.get("host"),
        "port": m.get("port"),
        "method": m.get("method"),
        "path": m.get("path"),
        "source": m.get("source"),
        "user": m.get("user"),
        "groups": ",".join(m.get("user_groups") or ()),
        "identity": m.get("identity"),
        "status": incident.get("status"),
        "entities": ",".join(f"{k}={v}" for k, v in sorted((m.get("entity_counts") or {}).items())),
        "policy": m.get("policy_hash"),
    }
    sd = (
        "["
        + SD_ID
        + "".join(f' {k}="{_sd_escape(str(v))}"' for k, v in params.items() if v not in (None, ""))
        + "]"
    )
    host = _syslog_token(hostname or socket.gethostname(), 255)
    stamp = _rfc3339(m.get("time")) or "-"
    msg = f"{m.get('action')} {m.get('method')} {m.get('host')}{m.get('path')} rule={m.get('rule')}"
    return f"<{_SYSLOG_FACILITY * 8 + severity}>1 {stamp} {host} baomi - incident {sd} {msg}"


def _sd_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _syslog_token(value: str, limit: int) -> str:
    token = "".join(c for c in value if 33 <= ord(c) <= 126)[:limit]
    return token or "-"


# --- shared --------------------------------------------------------------------------------------


def _baomi_fields(incident: dict) -> dict:
    m = incident["meta"]
    return {
        "status": incident.get("status"),
        "assignee": incident.get("assignee"),
        "entity_counts": m.get("entity_counts"),
        "masked": m.get("masked"),
        "locations": m.get("locations"),
        "mode": m.get("mode"),
        "enforced": m.get("enforced"),
        "would_be": m.get("would_be"),
        "uninspected": m.get("uninspected"),
        "policy_hash": m.get("policy_hash"),
        "record_count": m.get("record_count"),
        "identity": m.get("identity"),  # how the user was known: proxyauth|ldap|header|ipmap|none
    }


def _drop_none(value: dict) -> dict:
    out = {}
    for key, item in value.items():
        if isinstance(item, dict):
            item = _drop_none(item)
        if item is not None and item != {}:
            out[key] = item
    return out
