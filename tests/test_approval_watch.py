"""The running proxy's view of data-dir approvals: ApprovalWatcher merges state.json into the
policy in force, notices new and revoked approvals, survives policy reloads, fails closed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from test_approvals import approved, facts, ids

from policies.decide import decide
from policies.load import load_policy
from proxy.app.approval_watch import ApprovalWatcher
from proxy.hook.state import Runtime
from proxy.record.approvals import state_path
from proxy.record.incidents import ensure_keys

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def data_dir(tmp_path) -> Path:
    ensure_keys(tmp_path)
    return tmp_path


@pytest.fixture
def runtime() -> Runtime:
    return Runtime(policy=load_policy(REPO / "policies" / "default.yaml"))


def action(runtime: Runtime) -> tuple[str, str | None]:
    decision = decide(runtime.policy, facts(), ids(1))
    return decision.action, decision.approval


def test_refresh_applies_new_and_revoked_approvals(data_dir, runtime):
    watcher = ApprovalWatcher(data_dir, runtime)
    file_policy = runtime.policy
    assert watcher.refresh() is True  # first look: merged (nothing to merge yet)
    assert watcher.refresh() is False  # nothing changed
    assert action(runtime) == ("block", None)
    store, approval = approved(data_dir)
    assert watcher.refresh() is True
    assert action(runtime) == ("allow", approval.id)
    assert runtime.policy.hash == file_policy.hash
    store.revoke(approval.id, "carol")
    assert watcher.refresh() is True
    assert action(runtime) == ("block", None)


def test_a_reloaded_policy_gets_the_approvals_again(data_dir, runtime):
    watcher = ApprovalWatcher(data_dir, runtime)
    _, approval = approved(data_dir)
    watcher.refresh()
    runtime.policy = load_policy(REPO / "policies" / "default.yaml")  # a reload, no merge()
    assert action(runtime) == ("block", None)
    assert watcher.refresh() is True
    assert action(runtime) == ("allow", approval.id)
    reloaded = watcher.merge(load_policy(REPO / "policies" / "default.yaml"))  # with merge()
    runtime.policy = reloaded
    assert watcher.refresh() is False and action(runtime) == ("allow", approval.id)


def test_a_damaged_state_file_drops_the_approvals(data_dir, runtime):
    watcher = ApprovalWatcher(data_dir, runtime)
    approved(data_dir)
    watcher.refresh()
    assert action(runtime)[0] == "allow"
    state_path(data_dir).write_text("{damaged")
    assert watcher.refresh() is True
    assert action(runtime) == ("block", None)


def test_an_approval_that_cannot_be_merged_fails_closed_and_is_retried(data_dir, runtime):
    watcher = ApprovalWatcher(data_dir, runtime)
    store, approval = approved(data_dir)
    watcher.refresh()
    assert action(runtime) == ("allow", approval.id)
    good = state_path(data_dir).read_text()
    state_path(data_dir).write_text(good.replace(approval.expires, "not a time"))
    assert watcher.refresh() is True  # the merge raised: the file's policy alone
    assert action(runtime) == ("block", None)
    assert watcher.refresh() is True  # not stuck: tried again
    store.rebuild()  # state.json good again (same size: the stamp must not hide it)
    assert watcher.refresh() is True
    assert action(runtime) == ("allow", approval.id)


def test_watch_polls_until_cancelled(data_dir, runtime):
    async def scenario() -> tuple[tuple[str, str | None], str]:
        watcher = ApprovalWatcher(data_dir, runtime)
        task = asyncio.get_running_loop().create_task(watcher.watch(interval=0.05))
        try:
            _, approval = approved(data_dir)
            for _ in range(200):  # the watcher's next polls; each sleep yields to it
                await asyncio.sleep(0.05)
                if runtime.policy.approvals:
                    break
            return action(runtime), approval.id
        finally:
            task.cancel()

    seen, approval_id = asyncio.run(scenario())
    assert seen == ("allow", approval_id)


def test_a_reload_swaps_in_the_new_policy_with_the_approvals_at_once(data_dir, tmp_path):
    """PolicyReloader.merge (set by run.py): no moment without the data-dir approvals."""
    from test_reload import FakeAddon

    from proxy.app.reload import PolicyReloader
    from proxy.observe.metrics import Metrics

    path = tmp_path / "policy.yaml"
    path.write_text((REPO / "policies" / "default.yaml").read_text())
    runtime = Runtime(policy=load_policy(path))
    watcher = ApprovalWatcher(data_dir, runtime)
    _, approval = approved(data_dir)
    watcher.refresh()
    reloader = PolicyReloader(path, runtime, FakeAddon(), Metrics(), None)
    reloader.merge = watcher.merge
    path.write_text(path.read_text() + "\n# edited\n")
    assert asyncio.run(reloader.reload("file changed")) is True
    assert runtime.policy.hash != load_policy(REPO / "policies" / "default.yaml").hash
    assert action(runtime) == ("allow", approval.id)
