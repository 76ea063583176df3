"""IncidentStore.probe: readiness can recover without writing a frame, and only when writes work."""

from __future__ import annotations

import errno
import os

import pytest
from fulldisk import tmpfs
from incidents_cli import keyed_dir, record

from proxy.errors import IncidentLogError
from proxy.record.incidents import IncidentStore
from proxy.record.incidents.log import PROBE_BYTES, entries, incidents_dir


def frames(data_dir) -> int:
    return sum(1 for _ in entries(incidents_dir(data_dir)))


def test_probe_on_a_healthy_log_adds_nothing(tmp_path):
    data_dir, _ = keyed_dir(tmp_path)
    store = IncidentStore(data_dir)
    store.write(record())
    before = frames(data_dir)
    assert store.probe() is True
    assert frames(data_dir) == before
    assert not (incidents_dir(data_dir) / ".probe").exists()


def test_probe_after_an_unrecoverable_failure_is_false(tmp_path):
    data_dir, _ = keyed_dir(tmp_path)
    store = IncidentStore(data_dir)
    store._log._broken = "could not undo a partial write"  # the state _undo_partial leaves
    assert store.probe() is False
    with pytest.raises(IncidentLogError):
        store.write(record())


@pytest.fixture
def small_tmpfs(tmp_path):
    with tmpfs(tmp_path / "var" / "incidents", "256k") as at:
        yield at


def test_probe_follows_free_space(tmp_path, small_tmpfs):
    data_dir, _ = keyed_dir(tmp_path)
    store = IncidentStore(data_dir)
    try:
        fill_then_free(store, small_tmpfs / "filler")
    finally:
        store.close()  # its lock file keeps the mount busy


def fill_then_free(store: IncidentStore, filler) -> None:
    store.write(record())
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, bytes(4096))
    except OSError as e:
        assert e.errno == errno.ENOSPC
    finally:
        os.close(fd)
    assert store.probe() is False
    os.truncate(filler, os.path.getsize(filler) - PROBE_BYTES // 2)  # not enough yet
    assert store.probe() is False
    filler.unlink()
    assert store.probe() is True
    store.write(record())
