"""The decision log on disk: size rotation, kept copies, whole lines only, threads, reopen after
an external rename, and which clean allows the policy's ``logging.allowed`` keeps.

Every test reads the files back and checks each record by its id, so a lost, doubled or split
line fails the test.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from policies.model import LogPolicy
from proxy.errors import IncidentLogError
from proxy.record.decisions import DecisionLog, DecisionRecord, is_clean_allow


def record(n: int, **changes) -> DecisionRecord:
    base = DecisionRecord(
        time="2026-12-05T12:00:00Z", incident_id=f"BM-{n:06d}", source="10.0.0.1", user=None,
        scheme="https", host="api.example.com", port=443, method="POST", path="/orders",
        mode="regular", action="allow", rule="default", enforced=True, would_be=None,
        reason="no rule matched", entity_counts={}, masked=[], locations=[],
        policy_hash="sha256:00",
    )
    return replace(base, **changes)


def line_size(rec: DecisionRecord) -> int:
    return len((json.dumps(rec.public(), ensure_ascii=False, sort_keys=True) + "\n").encode())


def ids_in(path: Path) -> list[str]:
    """Incident ids of the file's lines; fails on a partial or non-JSON line."""
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), f"{path.name} ends inside a line"
    return [json.loads(line)["incident_id"] for line in data.decode().splitlines()]


def files(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir())


@pytest.fixture
def log_of(tmp_path):
    logs = []

    def make(**kwargs) -> DecisionLog:
        logs.append(DecisionLog(tmp_path, **kwargs))
        return logs[-1]

    yield make
    for log in logs:
        log.close()


SIZE = line_size(record(0))  # every record(n) below has this size (ids are fixed-width)


def test_rotates_before_a_line_would_cross_max_bytes(tmp_path, log_of):
    log = log_of(max_bytes=3 * SIZE, keep=5)
    for n in range(8):
        log.write(record(n))
    assert files(tmp_path) == ["decisions.jsonl", "decisions.jsonl.1", "decisions.jsonl.2"]
    assert ids_in(tmp_path / "decisions.jsonl.2") == ["BM-000000", "BM-000001", "BM-000002"]
    assert ids_in(tmp_path / "decisions.jsonl.1") == ["BM-000003", "BM-000004", "BM-000005"]
    assert ids_in(tmp_path / "decisions.jsonl") == ["BM-000006", "BM-000007"]


def test_a_line_that_does_not_fit_starts_a_new_file_never_crosses(tmp_path, log_of):
    log = log_of(max_bytes=3 * SIZE - 1, keep=5)  # room for two lines, not three
    for n in range(5):
        log.write(record(n))
    assert ids_in(tmp_path / "decisions.jsonl.2") == ["BM-000000", "BM-000001"]
    assert ids_in(tmp_path / "decisions.jsonl.1") == ["BM-000002", "BM-000003"]
    assert ids_in(tmp_path / "decisions.jsonl") == ["BM-000004"]
    assert all(p.stat().st_size <= 3 * SIZE - 1 for p in tmp_path.iterdir())


def test_a_line_longer_than_max_bytes_gets_a_file_of_its_own(tmp_path, log_of):
    log = log_of(max_bytes=SIZE // 2, keep=5)
    for n in range(3):
        log.write(record(n))
    assert ids_in(tmp_path / "decisions.jsonl.2") == ["BM-000000"]
    assert ids_in(tmp_path / "decisions.jsonl.1") == ["BM-000001"]
    assert ids_in(tmp_path / "decisions.jsonl") == ["BM-000002"]


def test_keep_drops_the_oldest_copies(tmp_path, log_of):
    log = log_of(max_bytes=SIZE, keep=2)  # one line per file
    for n in range(6):
        log.write(record(n))
    assert files(tmp_path) == ["decisions.jsonl", "decisions.jsonl.1", "decisions.jsonl.2"]
    assert [ids_in(tmp_path / f"decisions.jsonl{s}") for s in (".2", ".1", "")] == [
        ["BM-000003"], ["BM-000004"], ["BM-000005"]
    ]


def test_keep_zero_keeps_no_copies(tmp_path, log_of):
    log = log_of(max_bytes=2 * SIZE, keep=0)
    for n in range(5):
        log.write(record(n))
    assert files(tmp_path) == ["decisions.jsonl"]
    assert ids_in(tmp_path / "decisions.jsonl") == ["BM-000004"]


def test_a_reopened_log_continues_the_existing_file_and_its_size(tmp_path, log_of):
    log_of(max_bytes=3 * SIZE, keep=3).write(record(0))
    log = log_of(max_bytes=3 * SIZE, keep=3)  # a restart
    for n in range(1, 4):
        log.write(record(n))
    assert ids_in(tmp_path / "decisions.jsonl.1") == ["BM-000000", "BM-000001", "BM-000002"]
    assert ids_in(tmp_path / "decisions.jsonl") == ["BM-000003"]


def test_new_files_are_private(tmp_path, log_of):
    log = log_of(max_bytes=SIZE, keep=1)
    log.write(record(0))
    log.write(record(1))
    for path in tmp_path.iterdir():
        assert path.stat().st_mode & 0o077 == 0, path.name


@pytest.mark.parametrize("max_bytes, keep", [(0, 1), (-5, 1), (10, -1)])
def test_bad_limits_are_refused(tmp_path, max_bytes, keep):
    with pytest.raises(ValueError, match="max_bytes must be > 0 and keep >= 0"):
        DecisionLog(tmp_path, max_bytes=max_bytes, keep=keep)


def test_threads_writing_while_it_rotates_lose_and_split_nothing(tmp_path, log_of):
    threads_n, per_thread = 8, 150
    log = log_of(max_bytes=7 * SIZE + 3, keep=threads_n * per_thread)  # keep every copy
    start = threading.Barrier(threads_n)

    def writer(t: int) -> None:
        start.wait()
        for i in range(per_thread):
            log.write(record(t * per_thread + i))

    workers = [threading.Thread(target=writer, args=(t,)) for t in range(threads_n)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    found = [i for p in tmp_path.iterdir() for i in ids_in(p)]
    assert sorted(found) == [f"BM-{n:06d}" for n in range(threads_n * per_thread)]
    assert max(p.stat().st_size for p in tmp_path.iterdir()) <= 7 * SIZE + 3
    assert len(files(tmp_path)) == -(-threads_n * per_thread // 7)  # 7 lines fit in each file


def test_reopen_after_an_external_rename(tmp_path, log_of):
    log = log_of(max_bytes=100 * SIZE)
    log.write(record(0))
    os.rename(tmp_path / "decisions.jsonl", tmp_path / "decisions.jsonl-20261205")
    log.write(record(1))  # not reopened yet: still the renamed file (what logrotate expects)
    log.reopen()
    log.write(record(2))
    assert ids_in(tmp_path / "decisions.jsonl-20261205") == ["BM-000000", "BM-000001"]
    assert ids_in(tmp_path / "decisions.jsonl") == ["BM-000002"]
    assert (tmp_path / "decisions.jsonl").stat().st_mode & 0o077 == 0


def test_reopen_that_cannot_open_keeps_the_old_file(tmp_path, log_of):
    log = log_of()
    log.write(record(0))
    os.rename(tmp_path / "decisions.jsonl", tmp_path / "old.jsonl")
    os.mkdir(tmp_path / "decisions.jsonl")  # the name is taken by something we cannot open
    with pytest.raises(IncidentLogError, match="cannot reopen decision log"):
        log.reopen()
    log.write(record(1))
    assert ids_in(tmp_path / "old.jsonl") == ["BM-000000", "BM-000001"]


def test_rotation_that_fails_midway_loses_no_line(tmp_path, log_of, monkeypatch):
    """A crash or error between the renames: every line is still in exactly one file, and the
    next write finishes the job."""
    log = log_of(max_bytes=2 * SIZE, keep=3)
    for n in range(4):
        log.write(record(n))  # .1 = [0, 1], live = [2, 3]
    real_rename = os.rename

    def rename(src, dst):
        if Path(src).name == "decisions.jsonl":
            raise OSError(28, "No space left on device")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(IncidentLogError, match="cannot write decision log"):
        log.write(record(4))
    # .1 was already moved to .2, the live file was not renamed: a gap at .1, nothing lost.
    assert files(tmp_path) == ["decisions.jsonl", "decisions.jsonl.2"]
    monkeypatch.setattr(os, "rename", real_rename)
    log.write(record(4))
    log.write(record(5))
    assert [ids_in(tmp_path / f"decisions.jsonl{s}") for s in (".3", ".1", "")] == [
        ["BM-000000", "BM-000001"], ["BM-000002", "BM-000003"], ["BM-000004", "BM-000005"]
    ]
    assert files(tmp_path) == ["decisions.jsonl", "decisions.jsonl.1", "decisions.jsonl.3"]


# -- logging.allowed: which clean allows are written -------------------------------------------

class PolicyStub:
    """The one attribute DecisionLog reads from the policy in force."""

    def __init__(self, allowed: str):
        self.logging = LogPolicy.parse(allowed)


ALWAYS_KEPT = [
    pytest.param({"action": "block", "rule": "block-ids", "entity_counts": {"CN_RESIDENT_ID": 1}},
                 id="block"),
    pytest.param({"action": "mask", "rule": "mask-contacts", "entity_counts": {"PHONE_NUMBER": 1}},
                 id="mask"),
    pytest.param({"action": "monitor", "enforced": False, "would_be": "allow"}, id="monitor"),
    pytest.param({"rule": "on_timeout", "uninspected": "timeout"}, id="failure-allowed"),
    pytest.param({"uninspected": "passthrough"}, id="passthrough"),
    pytest.param({"error_stage": "act"}, id="error"),
    pytest.param({"entity_counts": {"PERSON": 1}}, id="allow-with-findings"),
    pytest.param({"approval": "APR-2026-014"}, id="approved"),
]


@pytest.mark.parametrize("changes", ALWAYS_KEPT)
def test_only_clean_allows_can_be_left_out(tmp_path, log_of, changes):
    log = log_of(policy=lambda: PolicyStub("none"))
    kept = record(1, **changes)
    assert not is_clean_allow(kept)
    log.write(record(0))
    log.write(kept)
    assert ids_in(tmp_path / "decisions.jsonl") == ["BM-000001"]


def test_zero_counts_are_still_clean():
    assert is_clean_allow(record(0, entity_counts={"PHONE_NUMBER": 0}))


@pytest.mark.parametrize("allowed, kept", [
    ("all", list(range(7))),
    ("none", []),
    ("sample:3", [0, 3, 6]),
    ("sample:1", list(range(7))),
])
def test_allowed_switch(tmp_path, log_of, allowed, kept):
    log = log_of(policy=lambda: PolicyStub(allowed))
    for n in range(7):
        log.write(record(n))
    assert ids_in(tmp_path / "decisions.jsonl") == [f"BM-{n:06d}" for n in kept]


def test_allowed_switch_follows_the_policy_in_force(tmp_path, log_of):
    runtime = {"policy": PolicyStub("all")}
    log = log_of(policy=lambda: runtime["policy"])
    log.write(record(0))
    runtime["policy"] = PolicyStub("none")  # a reload swaps the policy object
    log.write(record(1))
    log.write(record(2, action="block", rule="block-ids"))
    runtime["policy"] = PolicyStub("all")
    log.write(record(3))
    assert ids_in(tmp_path / "decisions.jsonl") == ["BM-000000", "BM-000002", "BM-000003"]


def test_without_a_policy_every_record_is_written(tmp_path, log_of):
    log = log_of()
    for n in range(3):
        log.write(record(n))
    assert ids_in(tmp_path / "decisions.jsonl") == ["BM-000000", "BM-000001", "BM-000002"]


# -- the run flags ---------------------------------------------------------------------------

def run_settings(monkeypatch, argv: list[str], env: dict[str, str] | None = None):
    """What `baomi run ARGV` would hand to proxy.app.run.run, without starting a proxy."""
    from proxy import cli
    from proxy.app import run

    for name in ("BAOMI_DECISION_LOG_MAX_BYTES", "BAOMI_DECISION_LOG_KEEP"):
        monkeypatch.delenv(name, raising=False)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    captured = []
    monkeypatch.setattr(run, "run", lambda settings: captured.append(settings) or 0)
    code = cli.main(["run", *argv])
    return code, captured[0] if captured else None


def test_flag_defaults(monkeypatch):
    code, settings = run_settings(monkeypatch, [])
    assert code == 0
    assert (settings.decision_log_max_bytes, settings.decision_log_keep) == (104857600, 10)


def test_flags_override_environment(monkeypatch):
    env = {"BAOMI_DECISION_LOG_MAX_BYTES": "5000", "BAOMI_DECISION_LOG_KEEP": "3"}
    _, from_env = run_settings(monkeypatch, [], env)
    assert (from_env.decision_log_max_bytes, from_env.decision_log_keep) == (5000, 3)
    _, from_flags = run_settings(monkeypatch, ["--decision-log-max-bytes", "7000",
                                               "--decision-log-keep", "0"], env)
    assert (from_flags.decision_log_max_bytes, from_flags.decision_log_keep) == (7000, 0)


@pytest.mark.parametrize("argv, env, message", [
    (["--decision-log-max-bytes", "0"], {},
     "Error: --decision-log-max-bytes must be a whole number >= 1, got '0'"),
    (["--decision-log-max-bytes", "10MiB"], {},
     "Error: --decision-log-max-bytes must be a whole number >= 1, got '10MiB'"),
    (["--decision-log-keep", "-1"], {},
     "Error: --decision-log-keep must be a whole number >= 0, got '-1'"),
    ([], {"BAOMI_DECISION_LOG_KEEP": "ten"},
     "Error: --decision-log-keep must be a whole number >= 0, got 'ten'"),
])
def test_bad_flag_values_are_usage_errors(monkeypatch, capsys, argv, env, message):
    code, settings = run_settings(monkeypatch, argv, env)
    assert (code, settings) == (2, None)
    assert capsys.readouterr().err.strip() == message
