"""Live policy reload: on SIGHUP and when the policy file changes.

A new policy is parsed and validated completely, its detector (if its detection settings
changed) started and warm, and only then swapped in with one assignment; a request sees
the old policy or the new one, never a mix. An invalid file is rejected with its
``file:line:column`` errors, the last good policy stays in force, and the
``baomi_policy_reloads_total{result="failure"}`` counter, ``baomi_policy_last_reload_successful``
and ``/readyz`` say so.

    reloader = PolicyReloader(path, runtime, addon, metrics)
    loop.add_signal_handler(signal.SIGHUP, reloader.trigger)
    loop.create_task(reloader.watch(interval=1.0))

Under ``--processes N`` the supervisor watches the file and validates it; each proxy process
then ``prepare``s the new policy (parsed, detector warm), and only when every process has,
``commit``s it (or ``abort``s everywhere): all processes move together or none does.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from policies.load import parse_policy
from proxy.errors import PolicyError

if TYPE_CHECKING:
    from policies.model import Policy
    from proxy.workers.pool import InspectionPool

log = logging.getLogger("baomi.reload")


@dataclass
class Staged:
    """A policy prepared for a coordinated reload: parsed, its detector (if new) warm."""

    policy: Policy
    pool: InspectionPool | None = None


def fingerprint(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


@dataclass(frozen=True)
class PolicyRead:
    """The policy file as a reload read it: its bytes (None: unreadable), and its policy or
    the errors that reject it."""

    raw: bytes | None
    policy: Policy | None = None
    errors: tuple[str, ...] = ()

    @property
    def seen(self) -> str | None:
        """What ``watch_file`` compares: the content's fingerprint (None: unreadable)."""
        return None if self.raw is None else hashlib.sha256(self.raw).hexdigest()


def read_policy_file(path: Path) -> PolicyRead:
    """Read and validate ``path`` for a reload (the one reader of ``PolicyReloader`` and the
    supervisor); never raises."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        return PolicyRead(None, errors=(f"{path}: cannot read policy file: {e.strerror or e}",))
    try:
        return PolicyRead(raw, parse_policy(raw, str(path)))
    except PolicyError as e:
        return PolicyRead(raw, errors=tuple(e.errors))
    except Exception as e:  # a validator bug must not take the watcher down
        log.exception("policy validation crashed")
        return PolicyRead(raw, errors=(f"{path}: validation failed ({type(e).__name__})",))


async def watch_file(look: Callable[[], str | None], seen: Callable[[], str | None],
                     reload: Callable[[str], Awaitable[bool]], interval: float) -> None:
    """Poll the file's content (``look``: its ``fingerprint``; works for editors that replace
    the file and for ConfigMaps) and ``reload("file changed")`` when it differs from
    ``seen()``; runs until cancelled."""
    while True:
        await asyncio.sleep(interval)
        now = look()
        if now is None or now == seen():
            continue
        try:
            await reload("file changed")
        except Exception:  # a dead watcher would silently stop every later reload
            log.exception("policy reload crashed; keeping the last good policy")


def rejected(metrics, why: str, errors: list[str] | tuple[str, ...], keeping: str) -> bool:
    """Log and count a rejected reload; the last good policy (``keeping``) stays."""
    for line in errors:
        log.error("policy reload rejected (%s): %s", why, line)
    log.error("keeping the last good policy %s", keeping)
    metrics.policy_reload("failure", None)
    metrics.notes["policy_reload"] = "last reload rejected: " + errors[0]
    return False


def accepted(metrics, why: str, policy, what: str) -> None:
    metrics.policy_reload("success", policy.hash, rules=[r.name for r in policy.rules])
    metrics.notes.pop("policy_reload", None)
    log.info("policy %s (%s): %s %s", what, why, policy.path, policy.hash)


class PolicyReloader:
    def __init__(self, path: Path, runtime, addon, metrics, pool_factory):
        self.path = Path(path)
        self.runtime = runtime
        self.addon = addon
        self.metrics = metrics
        self.pool_factory = pool_factory  # DetectorConfig -> started InspectionPool (async)
        # policy -> policy in force; run.py sets ApprovalWatcher.merge (data-dir approvals)
        self.merge = lambda policy: policy
        self._lock = asyncio.Lock()
        self._seen = self._fingerprint()

    def _fingerprint(self) -> str | None:
        return fingerprint(self.path)

    def trigger(self) -> None:
        """Signal handler: schedule a reload on the event loop."""
        asyncio.get_running_loop().create_task(self.reload("SIGHUP"))

    async def watch(self, interval: float = 1.0) -> None:
        """Reload when the file's content changes (``watch_file``)."""
        await watch_file(self._fingerprint, lambda: self._seen, self.reload, interval)

    async def reload(self, why: str) -> bool:
        """Load the file and swap it in; False (last good policy kept) if it is rejected."""
        async with self._lock:
            read = read_policy_file(self.path)
            if read.raw is not None:
                self._seen = read.seen  # a bad file is not retried every poll
            if read.policy is None:
                return self._reject(why, read.errors)
            policy, old = read.policy, self.runtime.policy
            if policy.hash == old.hash:
                # Nothing to swap, but the file in force is valid again: clear a rejection
                # (someone reverted a bad edit) and count the reload that was asked for.
                self._accepted(why, policy, "unchanged")
                return True
            try:
                await self._swap_detector_if_changed(old, policy)
            except Exception as e:  # noqa: BLE001 - any start-up failure keeps the old detector
                return self._reject(why, [f"detector could not start: {e}"])
            self.runtime.policy = self.merge(policy)  # the atomic swap
            self.addon.apply_limits()
            self._accepted(why, policy, "reloaded")
            return True

    def _reject(self, why: str, errors: list[str] | tuple[str, ...]) -> bool:
        return rejected(self.metrics, why, errors, self.runtime.policy.hash)

    def _accepted(self, why: str, policy, what: str) -> None:
        accepted(self.metrics, why, policy, what)

    async def prepare(self, raw: bytes) -> Staged:
        """Phase one of a coordinated reload: parse (PolicyError) and warm a new detector if
        the detection settings changed; nothing is swapped yet."""
        policy = parse_policy(raw, str(self.path))
        if policy.detection == self.runtime.policy.detection:
            return Staged(policy)
        return Staged(policy, await self.pool_factory(policy.detection))

    def commit(self, staged: Staged) -> None:
        """Phase two: swap the prepared policy in (one assignment, as ``reload`` does)."""
        if staged.pool is not None:
            previous, self.addon.pool = self.addon.pool, staged.pool
            previous.close_when_idle()
        self.runtime.policy = self.merge(staged.policy)
        self.addon.apply_limits()
        self._accepted("supervisor", staged.policy, "reloaded")

    @staticmethod
    def abort(staged: Staged) -> None:
        if staged.pool is not None:
            staged.pool.close()

    async def _swap_detector_if_changed(self, old, new) -> None:

        if old.detection == new.detection:
            return
        pool = await self.pool_factory(new.detection)
        previous, self.addon.pool = self.addon.pool, pool
        previous.close_when_idle()
