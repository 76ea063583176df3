"""A file re-read when it changes on disk (by mtime, size and inode), parsed once per change.

    users = WatchedFile(Path("/etc/baomi/htpasswd"), parse_htpasswd)
    users.get()   # parsed content; re-parsed only after the file changed

A file that cannot be read or parsed raises ``IdentityUnavailable`` (the policy's on_error):
who may do what must never silently become "nobody" or "everybody".
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from proxy.errors import IdentityUnavailable


class WatchedFile[T]:
    def __init__(self, path: Path, parse: Callable[[str], T]):
        self.path = path
        self._parse = parse
        self._lock = threading.Lock()  # lookups run in executor threads
        self._stamp: tuple[int, int, int] | None = None
        self._value: T | None = None

    def stat(self) -> os.stat_result:
        try:
            return self.path.stat()
        except OSError as e:
            raise IdentityUnavailable(f"cannot read {self.path}: {e.strerror or e}") from None

    def get(self) -> T:
        info = self.stat()
        stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
        with self._lock:
            if stamp != self._stamp or self._value is None:
                self._value = self._load()
                self._stamp = stamp
            return self._value

    def _load(self) -> T:
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            why = getattr(e, "strerror", None) or type(e).__name__
            raise IdentityUnavailable(f"cannot read {self.path}: {why}") from None
        try:
            return self._parse(text)
        except ValueError as e:  # parsers say where, never echo a secret
            raise IdentityUnavailable(f"{self.path}: {e}") from None
