"""PolicyReloader without a proxy: what a reload does to the policy in force, the detector
pool, the metrics and /readyz's note, for good files, bad files and crashing parts.
(tests/test_e2e_reload.py does the same through the real process.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from policies.load import load_policy
from proxy.app import reload as reload_module
from proxy.app.reload import PolicyReloader
from proxy.errors import DetectionFailed
from proxy.hook.state import Runtime
from proxy.observe.metrics import Metrics

REPO = Path(__file__).resolve().parent.parent
DEFAULT = (REPO / "policies" / "default.yaml").read_text()


class FakePool:
    def __init__(self, config=None):
        self.config = config
        self.retired = False

    def close_when_idle(self) -> None:
        self.retired = True


class FakeAddon:
    def __init__(self):
        self.pool = FakePool()
        self.limits_applied = 0

    def apply_limits(self) -> None:
        self.limits_applied += 1


@pytest.fixture
def setup(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(DEFAULT)
    runtime = Runtime(policy=load_policy(path))
    addon, metrics = FakeAddon(), Metrics()
    started: list[FakePool] = []

    async def pool_factory(config):
        pool = FakePool(config)
        started.append(pool)
        return pool

    reloader = PolicyReloader(path, runtime, addon, metrics, pool_factory)
    return reloader, started


def reloads(metrics: Metrics, result: str) -> float:
    return metrics.registry.get_sample_value("baomi_policy_reloads_total", {"result": result})


def run(coro):
    return asyncio.run(coro)


@pytest.mark.parametrize(
    ("content", "accepted", "message"),
    [
        (DEFAULT + "\n# reviewed\n", True, None),
        (
            DEFAULT.replace("\nmode: enforce\n", "\nmode: enforce: now\n"),
            False,
            ":23:14: invalid YAML",
        ),
        (DEFAULT.replace("    action: mask\n", "    action: destroy\n"), False, "rules[4].action"),
        (DEFAULT + "\nunknown_section: 1\n", False, "unknown_section"),
        ("", False, "file is empty"),
        (None, False, "cannot read policy file"),
    ],
    ids=["comment-added", "syntax", "schema", "unknown-key", "empty", "missing"],
)
def test_reload_outcomes(setup, content, accepted, message):
    reloader, started = setup
    old = reloader.runtime.policy
    if content is None:
        reloader.path.unlink()
    else:
        reloader.path.write_text(content)
    assert run(reloader.reload("test")) is accepted
    m = reloader.metrics
    assert reloads(m, "success" if accepted else "failure") == 1
    assert reloads(m, "failure" if accepted else "success") == 0
    if accepted:
        assert reloader.runtime.policy.hash != old.hash
        assert reloader.addon.limits_applied == 1
        assert "policy_reload" not in m.notes
    else:
        assert reloader.runtime.policy is old
        assert m.registry.get_sample_value("baomi_policy_last_reload_successful") == 0
        assert m.notes["policy_reload"].startswith(f"last reload rejected: {reloader.path}")
        assert message in m.notes["policy_reload"]
    assert started == []  # detection settings did not change: no new workers


def test_reverting_a_rejected_file_clears_the_rejection(setup):
    reloader, _ = setup
    old = reloader.runtime.policy
    reloader.path.write_text("version: [")
    assert not run(reloader.reload("test"))
    reloader.path.write_text(DEFAULT)  # the very file in force
    assert run(reloader.reload("test"))
    assert reloader.runtime.policy is old
    assert "policy_reload" not in reloader.metrics.notes
    assert reloader.metrics.registry.get_sample_value("baomi_policy_last_reload_successful") == 1


def test_detection_change_starts_a_new_pool_and_retires_the_old(setup):
    reloader, started = setup
    previous = reloader.addon.pool
    reloader.path.write_text(DEFAULT.replace("allow_values: []", 'allow_values: ["400-800-8888"]'))
    assert run(reloader.reload("test"))
    (fresh,) = started
    assert reloader.addon.pool is fresh and previous.retired
    assert fresh.config.allow_values == ("400-800-8888",)


@pytest.mark.parametrize(
    "error",
    [DetectionFailed("worker failed to start"), OSError("cannot fork"), RuntimeError("bug")],
)
def test_detector_that_cannot_start_keeps_the_old_policy_and_pool(setup, error):
    reloader, _ = setup
    old, old_pool = reloader.runtime.policy, reloader.addon.pool

    async def failing_factory(config):
        raise error

    reloader.pool_factory = failing_factory
    reloader.path.write_text(DEFAULT.replace("allow_values: []", 'allow_values: ["x"]'))
    assert run(reloader.reload("test")) is False
    assert reloader.runtime.policy is old and reloader.addon.pool is old_pool
    assert not old_pool.retired
    assert "detector could not start" in reloader.metrics.notes["policy_reload"]


def test_validator_crash_is_a_rejection(setup, monkeypatch):
    reloader, _ = setup

    def crash(raw, name):
        raise TypeError("validator bug")

    monkeypatch.setattr(reload_module, "parse_policy", crash)
    reloader.path.write_text(DEFAULT + "\n# edited\n")
    assert run(reloader.reload("test")) is False
    assert "validation failed (TypeError)" in reloader.metrics.notes["policy_reload"]


async def until(check, what: str, timeout: float = 10) -> None:
    """Wait for ``check()`` on the event loop, failing after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def test_watcher_survives_a_crashing_reload(setup, monkeypatch):
    reloader, _ = setup
    calls = []

    async def crash_once(why):
        calls.append(why)
        reloader._seen = reloader._fingerprint()
        if len(calls) == 1:
            raise RuntimeError("reload bug")
        return True

    monkeypatch.setattr(reloader, "reload", crash_once)

    async def scenario():
        watcher = asyncio.create_task(reloader.watch(interval=0.01))
        reloader.path.write_text(DEFAULT + "\n# one\n")
        await until(lambda: len(calls) == 1, "the first change picked up")
        reloader.path.write_text(DEFAULT + "\n# two\n")
        await until(lambda: len(calls) == 2, "the second change, after the crash")
        assert not watcher.done()
        watcher.cancel()

    run(scenario())
    assert calls == ["file changed", "file changed"]


def test_watcher_ignores_an_unchanged_or_missing_file(setup, monkeypatch):
    reloader, _ = setup
    polls: list[str | None] = []  # what each poll of the watcher saw (None: no file)
    fingerprint = reloader._fingerprint

    def counted() -> str | None:
        polls.append(fingerprint())
        return polls[-1]

    monkeypatch.setattr(reloader, "_fingerprint", counted)

    def reloaded() -> tuple[float, float]:
        return reloads(reloader.metrics, "success"), reloads(reloader.metrics, "failure")

    async def scenario():
        watcher = asyncio.create_task(reloader.watch(interval=0.01))
        await until(lambda: len(polls) >= 3, "polls of the unchanged file")
        reloader.path.unlink()  # a ConfigMap symlink swap, mid-way
        await until(lambda: polls.count(None) >= 3, "polls of the missing file")
        assert reloaded() == (0, 0)
        # The same watcher does reload a real change: it was looking all along.
        reloader.path.write_text(DEFAULT + "\n# edited\n")
        await until(lambda: reloaded() != (0, 0), "the edited file reloaded")
        assert not watcher.done()
        watcher.cancel()

    run(scenario())
    assert reloaded() == (1, 0)
