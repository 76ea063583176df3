"""Users and password hashes from an Apache htpasswd file: bcrypt ($2y$/$2b$/$2a$) and {SHA}.

    parse_htpasswd("alice:$2y$05$...\\nbob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\\n")
      -> {"alice": "$2y$05$...", "bob": "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="}
    Htpasswd(path).check("alice", "secret") -> True

MD5 (apr1), crypt and plain-text entries are not accepted (weak or unverifiable): they never
authenticate and ``problems`` names their lines for ``baomi doctor``. Good checks are cached in
memory for a minute under a keyed digest, so a keep-alive client is not bcrypt-verified on
every request; the password itself is never kept.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from pathlib import Path

import bcrypt

from proxy.identity.watched import WatchedFile

BCRYPT = ("$2y$", "$2b$", "$2a$")
SHA = "{SHA}"
CACHE_SECONDS = 60.0


def parse_htpasswd(text: str) -> dict[str, str]:
    """user -> hash; blank lines and '#' comments skipped; a line without ':' is an error."""
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, colon, digest = line.partition(":")
        if not colon or not user:
            raise ValueError(f"line {number}: expected user:hash")
        entries[user] = digest
    return entries


def supported(digest: str) -> bool:
    return digest.startswith(BCRYPT + (SHA,))


def verify(digest: str, password: str) -> bool:
    secret = password.encode("utf-8")
    if digest.startswith(BCRYPT):
        try:
            # bcrypt knows $2b$/$2a$; Apache writes $2y$, the same algorithm
            return bcrypt.checkpw(secret, ("$2b$" + digest[4:]).encode("ascii"))
        except ValueError:  # malformed hash
            return False
    if digest.startswith(SHA):
        # Apache's {SHA} entries are SHA-1 by definition; read for existing files.
        expected = base64.b64encode(hashlib.sha1(secret).digest()).decode("ascii")  # noqa: S324
        return hmac.compare_digest(expected, digest[len(SHA):])
    return False


class Htpasswd:
    def __init__(self, path: Path):
        self.file = WatchedFile(path, parse_htpasswd)
        self._key = secrets.token_bytes(32)  # per process: cache entries mean nothing elsewhere
        self._good: dict[bytes, tuple[float, dict[str, str]]] = {}
        self._lock = threading.Lock()

    def check(self, user: str, password: str) -> bool:
        """Blocking (bcrypt): call it off the event loop. Raises IdentityUnavailable."""
        entries = self.file.get()
        digest = entries.get(user)
        if digest is None or not supported(digest):
            return False
        key = hmac.digest(self._key, f"{user}\0{password}".encode(), "sha256")
        now = time.monotonic()
        with self._lock:
            cached = self._good.get(key)
            if cached is not None and cached[0] > now and cached[1] is entries:
                return True
        if not verify(digest, password):
            return False
        with self._lock:
            self._good = {k: v for k, v in self._good.items() if v[0] > now}
            self._good[key] = (now + CACHE_SECONDS, entries)  # a changed file drops the entry
        return True

    def problems(self) -> list[str]:
        """For doctor: entries that can never authenticate."""
        return [
            f"{self.file.path}: user {user!r} has an unsupported hash (expected bcrypt or {{SHA}})"
            for user, digest in self.file.get().items()
            if not supported(digest)
        ]
