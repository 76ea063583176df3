"""Group commit: appends that arrive during another's fsync share the next one, and each
append still returns only once its own frame is durable (or raises with its whole group)."""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from incidents_cli import keyed_dir

from proxy.errors import IncidentLogError
from proxy.record.incidents import framing
from proxy.record.incidents import log as log_module
from proxy.record.incidents.keys import Keyring, load_private_keys
from proxy.record.incidents.log import Appended, IncidentLog
from proxy.record.incidents.verify import verify

WAITERS = 3


class HeldFsync:
    """os.fsync for the log module: the first call after ``hold()`` blocks until released."""

    def __init__(self) -> None:
        self.calls = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        self.holding = False
        # errno for each group's fsync once set; the undo's fsync after it (ftruncate back to
        # the last whole frame, then fsync) succeeds: calls alternate group, undo, group, undo.
        self.fail: int | None = None
        self.real = os.fsync

    def hold(self) -> None:
        self.holding, self.calls = True, 0

    def __call__(self, fd: int) -> None:
        self.calls += 1
        if self.holding:
            self.holding = False
            self.entered.set()
            assert self.release.wait(10), "the test never released the fsync"
        if self.fail is not None and self.calls % 2 == 1:
            raise OSError(self.fail, os.strerror(self.fail))
        self.real(fd)


@pytest.fixture
def held(tmp_path: Path, monkeypatch) -> Iterator[tuple[IncidentLog, HeldFsync, Path, Path]]:
    data_dir, key = keyed_dir(tmp_path)
    fsync = HeldFsync()
    monkeypatch.setattr(log_module.os, "fsync", fsync)
    log = IncidentLog(data_dir, Keyring.load(data_dir), checkpoint_every=1000)
    log.append("note", {"n": -1})  # the segment exists: from here on one fsync per group
    yield log, fsync, data_dir, key
    fsync.release.set()
    log.close()


def run_appends(log: IncidentLog, fsync: HeldFsync) -> list[Appended | BaseException]:
    """One append that holds its fsync, then WAITERS more that queue behind it; released
    once all of them wait in the queue."""
    results: list[Appended | BaseException] = [None] * (1 + WAITERS)  # type: ignore[list-item]

    def append(i: int) -> None:
        try:
            results[i] = log.append("note", {"n": i})
        except BaseException as e:  # noqa: BLE001 - the test reads what each thread got
            results[i] = e

    fsync.hold()
    first = threading.Thread(target=append, args=(0,))
    first.start()
    assert fsync.entered.wait(10)
    others = [threading.Thread(target=append, args=(i,)) for i in range(1, 1 + WAITERS)]
    for t in others:
        t.start()
    deadline = time.monotonic() + 10
    while len(log._queue) < WAITERS:  # the state they wait in, not a guessed delay
        assert time.monotonic() < deadline, "appends did not queue"
        time.sleep(0.001)
    fsync.release.set()
    for t in [first, *others]:
        t.join(10)
    return results


def test_appends_during_an_fsync_share_the_next_one(held) -> None:
    log, fsync, data_dir, key = held
    results = run_appends(log, fsync)
    assert all(isinstance(r, Appended) for r in results)
    assert fsync.calls == 2  # the first frame's fsync, then one for the three that waited
    seqs = sorted(r.seq for r in results)  # type: ignore[union-attr]
    assert seqs == list(range(seqs[0], seqs[0] + 1 + WAITERS))
    path = data_dir / "incidents" / "log-00000001.bin"
    written = [f.fields for f in framing.scan(path.read_bytes()) if isinstance(f, framing.Frame)]
    assert sorted(f["data"]["n"] for f in written if f["kind"] == "note") == [-1, 0, 1, 2, 3]
    log.close()
    report = verify(data_dir, load_private_keys([key]))
    assert report.ok, [str(p) for p in report.problems]


def test_a_failed_group_fsync_fails_every_append_in_it_and_the_log_goes_on(held) -> None:
    log, fsync, data_dir, key = held
    path = data_dir / "incidents" / "log-00000001.bin"
    fsync.fail = errno.EIO
    results = run_appends(log, fsync)
    assert [type(r) for r in results] == [IncidentLogError] * (1 + WAITERS)
    fsync.fail = None
    log.append("note", {"n": 99})
    notes = [f.fields["data"]["n"] for f in framing.scan(path.read_bytes())
             if isinstance(f, framing.Frame) and f.fields["kind"] == "note"]
    assert notes == [-1, 99]  # no frame of the failed groups was left behind
    log.close()
    assert verify(data_dir, load_private_keys([key])).ok


def test_a_frame_that_cannot_be_built_fails_alone(held) -> None:
    log, _, data_dir, key = held
    with pytest.raises(TypeError):
        log.append("note", {"n": object()})
    assert log.append("note", {"n": 1}).seq == 3  # segment frame 1, note -1 frame 2, then this
    log.close()
    assert verify(data_dir, load_private_keys([key])).ok
