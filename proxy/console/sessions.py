"""Server-side sessions and login throttling, in the console process's memory.

    store = SessionStore(idle_seconds=1200, clock=time.monotonic)
    s = store.new()                    # anonymous: carries the CSRF token of the login form
    s = store.login(s.id, account)     # a new id on login (no session fixation)
    store.get(s.id)                    # None once idle for longer than idle_seconds

    throttle = LoginThrottle(clock=time.monotonic)
    throttle.wait("alice", "10.0.0.5")   # 0.0, or seconds to wait before the next attempt
    throttle.failed("alice", "10.0.0.5"); throttle.succeeded("alice", "10.0.0.5")

In memory on purpose: a restart logs everyone out, and nothing about a session touches disk.
Throttling: after ``FREE`` failures (per account and, separately, per client address) each
further attempt must wait 2, 4, 8 ... s (capped at ``LOCKOUT`` = 15 min); attempts inside
the wait are refused without checking the password. Success clears the account's count.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from proxy.console.users import Account

MAX_SESSIONS = 10_000  # anonymous sessions beyond this evict the oldest (a flood cannot grow us)
FREE = 3
LOCKOUT = 15 * 60.0


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    csrf: str
    last_seen: float
    account: Account | None = None
    flash: tuple[str, ...] = field(default=())


class SessionStore:
    def __init__(self, idle_seconds: float, clock: Callable[[], float]):
        self.idle = idle_seconds
        self.clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def new(self, account: Account | None = None) -> Session:
        s = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), self.clock(), account)
        with self._lock:
            if len(self._sessions) >= MAX_SESSIONS:
                # Anonymous sessions go first: a flood of visitors cannot log reviewers out.
                anonymous = [x for x in self._sessions.values() if x.account is None]
                oldest = min(anonymous or self._sessions.values(), key=lambda x: x.last_seen)
                del self._sessions[oldest.id]
            self._sessions[s.id] = s
        return s

    def get(self, session_id: str | None) -> Session | None:
        """The live session, its idle clock restarted; None if unknown or expired."""
        if not session_id:
            return None
        now = self.clock()
        with self._lock:
            s = self._sessions.get(session_id)
            if s is None:
                return None
            if now - s.last_seen > self.idle:
                del self._sessions[session_id]
                return None
            s = replace(s, last_seen=now)
            self._sessions[session_id] = s
            return s

    def expired(self, session_id: str | None) -> bool:
        """True if this id named a session that has idled out (checked before ``get``)."""
        with self._lock:
            s = self._sessions.get(session_id or "")
            return s is not None and self.clock() - s.last_seen > self.idle

    def login(self, old_id: str, account: Account) -> Session:
        self.drop(old_id)
        return self.new(account)

    def add_flash(self, session_id: str, message: str) -> None:
        with self._lock:
            s = self._sessions.get(session_id)
            if s is not None:
                self._sessions[session_id] = replace(s, flash=(*s.flash, message))

    def take_flashes(self, session_id: str) -> list[str]:
        with self._lock:
            s = self._sessions.get(session_id)
            if s is None or not s.flash:
                return []
            self._sessions[session_id] = replace(s, flash=())
            return list(s.flash)

    def drop(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def drop_user(self, name: str) -> None:
        with self._lock:
            for sid in [k for k, s in self._sessions.items() if s.account and s.account.name == name]:
                del self._sessions[sid]


@dataclass(slots=True)
class _Failures:
    count: int = 0
    last: float = 0.0


class LoginThrottle:
    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self._by_key: dict[str, _Failures] = {}
        self._lock = threading.Lock()

    def attempt(self, name: str, client: str) -> float:
        """Check and count one login attempt at once: 0.0 -> check the password (the attempt
        counts as a failure until ``succeeded``); else the seconds to wait, nothing counted.

        One lock around both: parallel attempts cannot all see "no wait" before any counts.
        """
        now = self.clock()
        with self._lock:
            wait = max(self._wait(_user(name), now), self._wait(f"addr:{client}", now))
            if wait == 0.0:
                self._count(name, client, now)
            return wait

    def wait(self, name: str, client: str) -> float:
        """Seconds before ``name`` from ``client`` may try again (0.0: now)."""
        now = self.clock()
        with self._lock:
            return max(self._wait(_user(name), now), self._wait(f"addr:{client}", now))

    def _wait(self, key: str, now: float) -> float:
        f = self._by_key.get(key)
        if f is None or f.count < FREE:
            return 0.0
        if now - f.last > LOCKOUT:  # forgotten after a quiet lockout period
            del self._by_key[key]
            return 0.0
        delay = min(LOCKOUT, 2.0 ** (f.count - FREE + 1))
        return max(0.0, f.last + delay - now)

    def failed(self, name: str, client: str) -> None:
        with self._lock:
            self._count(name, client, self.clock())

    def _count(self, name: str, client: str, now: float) -> None:
        """One more failure for the account and the address (the caller holds the lock)."""
        if len(self._by_key) >= MAX_SESSIONS:  # a spray of names cannot grow us: forget
            quiet = [k for k, f in self._by_key.items() if now - f.last > LOCKOUT]
            fewest = sorted(self._by_key, key=lambda k: self._by_key[k].count)
            for key in quiet or fewest[: MAX_SESSIONS // 10]:  # a locked-out key stays
                del self._by_key[key]
        for key in (_user(name), f"addr:{client}"):
            f = self._by_key.setdefault(key, _Failures())
            f.count += 1
            f.last = now

    def succeeded(self, name: str, client: str) -> None:
        """The attempt ``attempt`` counted was good: the account's failures are forgotten and
        the address's count takes that attempt back."""
        with self._lock:
            self._by_key.pop(_user(name), None)
            f = self._by_key.get(f"addr:{client}")
            if f is not None:
                f.count -= 1
                if f.count <= 0:
                    del self._by_key[f"addr:{client}"]


def _user(name: str) -> str:
    """One key per account however it is typed: 'Rita' and 'rita' share their failures."""
    return f"user:{name.casefold()}"
