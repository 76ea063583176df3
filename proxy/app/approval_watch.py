"""Data-dir approvals in the running proxy: merged into the policy in force, within ~1 s.

    watcher = ApprovalWatcher(data_dir, runtime)
    watcher.refresh()                       # at start-up: runtime.policy gets the approvals
    reloader.merge = watcher.merge          # a reloaded policy file gets them too
    loop.create_task(watcher.watch(1.0))    # new, revoked approvals: in force within ~1 s

Every process of the proxy runs its own watcher over the same ``DIR/approvals/state.json``
(written atomically by the CLI and the console), so an approval reaches all of them. The
watcher polls the file's (mtime, size, inode); a change builds a complete merged Policy and
swaps it in with one assignment, like a policy reload. A damaged state file fails closed:
the data-dir approvals are dropped (more is blocked, nothing more is allowed) until it is
readable again, and so does one that cannot be merged (the file is read again at the next
poll: a revocation is never stuck behind a failed merge).
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from policies.model import Policy
from proxy.record.approvals.merge import collisions, merged
from proxy.record.approvals.model import StoredApproval
from proxy.record.approvals.store import read_state, state_path

log = logging.getLogger("baomi.approvals")


class ApprovalWatcher:
    def __init__(self, data_dir: Path, runtime):
        self.path = state_path(data_dir)
        self.data_dir = Path(data_dir)
        self.runtime = runtime
        self._stamp: tuple[int, int, int] | None = None
        self._approvals: tuple[StoredApproval, ...] = ()
        self._base: Policy = runtime.policy  # the policy file's, without data-dir approvals
        self._merged: Policy | None = None

    def merge(self, policy: Policy) -> Policy:
        """``policy`` (just loaded from its file) with the data dir's approvals added."""
        self._base = policy
        for same in collisions(policy, self._approvals):
            log.error("approval %s is in the policy and in the data dir: the policy's applies",
                      same)
        self._merged = merged(policy, self._approvals)
        return self._merged

    def refresh(self) -> bool:
        """Re-read the state file if it changed; True when the policy in force was replaced."""
        if self._merged is not None and self.runtime.policy is not self._merged:
            self._base = self.runtime.policy  # reloaded without merge(): take it as the base
        stamp = self._stat()
        if stamp == self._stamp and self.runtime.policy is self._merged:
            return False
        if stamp != self._stamp:
            self._approvals = self._load()
            self._stamp = stamp
        try:
            self.runtime.policy = self.merge(self._base)
        except Exception:  # an approval that cannot be merged: fail closed, retry next poll
            log.exception("cannot merge the data-dir approvals: dropped until they merge")
            self.runtime.policy = self._base
            self._approvals, self._stamp, self._merged = (), None, None
        return True

    async def watch(self, interval: float = 1.0) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                if self.refresh():
                    log.info("data-dir approvals in force: %d", len(self._approvals))
            except Exception:  # a dead watcher would freeze approvals and revocations
                log.exception("approval refresh crashed; keeping the policy in force")

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def _load(self) -> tuple[StoredApproval, ...]:
        try:
            return tuple(read_state(self.data_dir).approvals.values())
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.error("cannot read %s (%s): data-dir approvals dropped until it is readable",
                      self.path, type(e).__name__)
            return ()
