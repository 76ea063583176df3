"""``Proxy-Authorization: Basic`` credentials (RFC 7617).

    basic_credentials("Basic YWxpY2U6c2VjcmV0") -> ("alice", "secret")
    basic_credentials("Bearer abc") -> None

Hand-written because it is four lines: base64 of ``user:password`` (UTF-8, as curl, browsers
and Squid send it; the password may contain ':').
"""

from __future__ import annotations

import base64
import binascii


def basic_credentials(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon and user else None
