"""The default process and worker counts honour a container's CPU quota (cgroup cpu.max)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from proxy.app import cpus
from proxy.app.settings import RunSettings
from proxy.app.supervisor import processes_wanted, workers_of


@pytest.mark.parametrize("text,want", [("150000 100000\n", 2), ("100000 100000\n", 1),
                                       ("50000 100000\n", 1), ("max 100000\n", None)])
def test_cgroup_v2_quota_rounds_up(tmp_path, text, want):
    (tmp_path / "cpu.max").write_text(text)
    assert cpus.cgroup_cpus(tmp_path, own="/") == want


def test_the_process_own_cgroup_v2_is_read_first(tmp_path):
    (tmp_path / "cpu.max").write_text("max 100000\n")
    (tmp_path / "kubepods" / "pod1").mkdir(parents=True)
    (tmp_path / "kubepods" / "pod1" / "cpu.max").write_text("300000 100000\n")
    assert cpus.cgroup_cpus(tmp_path, own="/kubepods/pod1") == 3


def test_cgroup_v1_quota(tmp_path):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("250000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cpus.cgroup_cpus(tmp_path, own="/") == 3
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert cpus.cgroup_cpus(tmp_path, own="/") is None


def test_no_cgroup_files_no_cap(tmp_path):
    assert cpus.cgroup_cpus(tmp_path, own="/") is None


def test_a_quota_caps_the_default_processes_and_workers(monkeypatch):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs 2 cores to see a cap")
    monkeypatch.setattr(cpus, "cgroup_cpus", lambda: 1)
    s = RunSettings(policy=Path("p"))
    assert (cpus.cores(), processes_wanted(s), workers_of(s, 1, 0)) == (1, 1, 1)
    monkeypatch.setattr(cpus, "cgroup_cpus", lambda: None)
    assert cpus.cores() == len(os.sched_getaffinity(0))
