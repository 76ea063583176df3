"""`baomi run --processes N` says at start when a drained process's queued connections would
be reset (net.ipv4.tcp_migrate_req off or missing); the e2e count is test_e2e_drain_resets."""

from __future__ import annotations

from pathlib import Path

from proxy.app.supervisor import migration_warning


def test_on_says_nothing(tmp_path):
    (sysctl := tmp_path / "tcp_migrate_req").write_text("1\n")
    assert migration_warning(sysctl) is None


def test_off_names_the_fix(tmp_path):
    (sysctl := tmp_path / "tcp_migrate_req").write_text("0\n")
    assert migration_warning(sysctl) == (
        "net.ipv4.tcp_migrate_req is 0: a drain or restart of one proxy process resets the "
        "connections queued on it; set it to 1 (deploy/sysctl.d/90-baomi.conf)")


def test_an_old_kernel_is_told_apart(tmp_path):
    warning = migration_warning(tmp_path / "missing")
    assert warning is not None and warning.startswith("this kernel cannot move")


def test_the_shipped_file_sets_it():
    conf = Path(__file__).parent.parent / "deploy" / "sysctl.d" / "90-baomi.conf"
    lines = [line for line in conf.read_text().splitlines() if not line.startswith("#")]
    assert lines == ["net.ipv4.tcp_migrate_req = 1"]
