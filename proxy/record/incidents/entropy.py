"""Random bytes from the kernel, read a page at a time and handed out once each.

    token(12)   # 12 bytes of os.urandom: an AES-GCM nonce, an incident id's suffix

Why: each ``os.urandom`` call gives up the GIL for its ``getrandom()``; on the event loop
that hands the GIL to the record writer thread (woken for the record a moment before) and
the loop waits to get it back: twice per masked request (the incident id, the evidence's
nonce). Here the bytes still come from ``os.urandom``, 4 KiB per call.

Each byte is handed out once: a lock (the writer thread seals records too), and a forked
child starts with nothing buffered (``os.register_at_fork``): two processes never share
bytes (one AES-GCM nonce twice under one key would give the key's authentication away).
What is buffered is no secret: nonces and ids are written in clear next to what they serve.
"""

from __future__ import annotations

import os
import threading

PAGE = 4096


class _Pool:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bytes = b""
        self._at = 0

    def take(self, n: int) -> bytes:
        with self._lock:
            if self._at + n > len(self._bytes):
                self._bytes, self._at = os.urandom(max(PAGE, n)), 0
            start, self._at = self._at, self._at + n
            return self._bytes[start:self._at]

    def forget(self) -> None:
        """In a forked child: the parent's bytes are the parent's (the lock is fresh too)."""
        self._lock = threading.Lock()
        self._bytes, self._at = b"", 0


_POOL = _Pool()
os.register_at_fork(after_in_child=_POOL.forget)


def token(n: int) -> bytes:
    """``n`` bytes of ``os.urandom``, never handed out before in this process or its parent."""
    return _POOL.take(n)
