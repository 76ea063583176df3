"""One-time application links: bound to an incident and the client that was refused.

    key = ensure_link_key(Path("var"))             # DIR/approvals/link.key, made once, 0600
    link_token(key, "BM-20261206T010000Z-9f3a1c2b", "10.0.0.5")   # 32 hex digits
    application_link("http://127.0.0.1:9465", key, "BM-...", "10.0.0.5")
      -> "http://127.0.0.1:9465/applications/new?incident=BM-...&token=..."

The token is an HMAC over the incident id and the client's address under a key only the
proxy and the console (same data dir) hold: a link cannot be made for another incident or
carried to another machine (the console also checks the browser's address), and it is
used once (one application per incident). The link carries no value, no host, no data class:
the console reads those from the incident.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from pathlib import Path
from urllib.parse import urlencode

from proxy.errors import ApplicationError
from proxy.record.incidents.keys import load_hex_key, make_hex_key

LINK_KEY = "link.key"
DEFAULT_CONSOLE_URL = "http://127.0.0.1:9465"


def link_key_path(data_dir: Path) -> Path:
    return Path(data_dir) / "approvals" / LINK_KEY


def ensure_link_key(data_dir: Path) -> bytes:
    """Make the key on first use (another process may win the race: then use theirs)."""
    path = link_key_path(data_dir)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        make_hex_key(path)
    return load_link_key(data_dir)


def load_link_key(data_dir: Path) -> bytes:
    return load_hex_key(link_key_path(data_dir), "application link key",
                        "delete it to make a new one: links already handed out then stop working")


def same_address(a: str | None, b: str | None) -> bool:
    """'::ffff:10.0.0.5' and '10.0.0.5' are one client; names compare as written."""
    return a is not None and b is not None and _canonical(a) == _canonical(b)


def _canonical(text: str) -> str:
    text = text.strip().strip("[]")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return text.lower()
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def link_token(key: bytes, incident: str, client: str) -> str:
    message = f"baomi application link v1\n{incident}\n{_canonical(client)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def application_link(console_url: str, key: bytes, incident: str, client: str) -> str:
    query = urlencode({"incident": incident, "token": link_token(key, incident, client)})
    return f"{console_url.rstrip('/')}/applications/new?{query}"


def check_link(key: bytes, incident_meta: dict, token: str, browser: str | None) -> None:
    """Raise ApplicationError unless ``token`` was made for this incident and its client, and
    the browser asking is that client."""
    client = incident_meta.get("source") or ""
    wanted = link_token(key, str(incident_meta.get("incident")), client)
    if not hmac.compare_digest(wanted, token or ""):
        raise ApplicationError("this application link is not valid for that incident")
    if not same_address(client, browser):
        raise ApplicationError("this application link works only from the computer that was "
                               "refused")
