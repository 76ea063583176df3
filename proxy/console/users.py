"""Console accounts: DIR/console/users.json (0600, replaced atomically), argon2id hashes.

    users = Users(Path("var"))
    users.add("alice", ["reviewer"], "s3cret passphrase")   # UsageError if taken or weak
    users.check("alice", "s3cret passphrase")               # -> Account, or None
    users.disable("alice")

Roles do not nest (separation of duties): a reviewer triages incidents, an approver decides
transfer applications, an admin manages accounts. One account may hold several roles
(``--role`` repeated). argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile:
64 MiB, 3 passes) — argon2-cffi is a declared dependency of mitmproxy, which we pin.
An unknown name is checked against a dummy hash so timing does not tell which names exist.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from proxy.errors import UsageError

ROLES = ("reviewer", "approver", "admin")
MIN_PASSWORD = 12
DEFAULT_HASHER = PasswordHasher()  # argon2id, m=64 MiB, t=3, p=4
_HASHER = DEFAULT_HASHER
_DUMMY = _HASHER.hash("not a password of anyone")
_LOCK = threading.Lock()


def use_hasher(hasher: PasswordHasher) -> None:
    """Cheaper parameters for test suites (hashes made with others still verify)."""
    global _HASHER, _DUMMY
    _HASHER, _DUMMY = hasher, hasher.hash("not a password of anyone")


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    roles: tuple[str, ...]
    disabled: bool = False
    created: str = ""
    source: str = "local"  # "local" (users.json) or "ldap"


def console_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "console"


def check_name(name: str) -> str:
    if not name or len(name) > 64 or not all(c.isalnum() or c in "._-@" for c in name):
        raise UsageError(f"user name {name!r}: use 1-64 letters, digits, '.', '_', '-', '@'")
    return name


def check_roles(roles: list[str]) -> tuple[str, ...]:
    bad = [r for r in roles if r not in ROLES]
    if bad or not roles:
        raise UsageError(f"role {', '.join(bad) or '(none)'}: expected {'|'.join(ROLES)}")
    return tuple(sorted(set(roles), key=ROLES.index))


class Users:
    def __init__(self, data_dir: Path):
        self.path = console_dir(data_dir) / "users.json"

    def _load(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            raise UsageError(f"{self.path}: unreadable users file ({type(e).__name__})") from e
        return data.get("users", {})

    def _save(self, users: dict[str, dict]) -> None:
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".users.", suffix=".tmp")  # 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"users": users}, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def accounts(self) -> list[Account]:
        return [_account(n, u) for n, u in sorted(self._load().items())]

    def get(self, name: str) -> Account | None:
        entry = self._load().get(name)
        return None if entry is None else _account(name, entry)

    def add(self, name: str, roles: list[str], password: str) -> Account:
        check_name(name)
        checked = check_roles(roles)
        if len(password) < MIN_PASSWORD:
            raise UsageError(f"password: at least {MIN_PASSWORD} characters")
        with _LOCK:
            users = self._load()
            if name in users:
                raise UsageError(f"user {name!r} exists (disable it, or choose another name)")
            users[name] = {
                "roles": list(checked), "hash": _HASHER.hash(password), "disabled": False,
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            self._save(users)
        return _account(name, users[name])

    def disable(self, name: str) -> Account:
        with _LOCK:
            users = self._load()
            if name not in users:
                raise UsageError(f"no user {name!r} (see 'baomi console users list')")
            users[name]["disabled"] = True
            self._save(users)
        return _account(name, users[name])

    def recheck(self, account: Account) -> Account | None:
        """The account as the file has it now (each request: disabling acts at once)."""
        return self.get(account.name)

    def check(self, name: str, password: str) -> Account | None:
        """The account if the password is right and the account enabled, else None."""
        entry = self._load().get(name)
        try:
            _HASHER.verify(entry["hash"] if entry else _DUMMY, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if entry is None or entry.get("disabled"):
            return None
        return _account(name, entry)


def _account(name: str, entry: dict) -> Account:
    return Account(name, tuple(entry.get("roles", ())), bool(entry.get("disabled")),
                   entry.get("created", ""))
