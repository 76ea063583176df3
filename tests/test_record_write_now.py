"""Records written on the event loop, made durable by the writer thread's one fsync a group.

``RecordWriter.write`` appends the decision-log line and chains and writes the incident frame
on the loop (``decisions.write_now``); the writer thread's only system call per group is the
fsync (``IncidentLog.sync``). What must not change: a write returns only after an fsync that
began after its frame was written; an error fails its own record; a record the loop cannot
write at once (another writer holds the log) is written whole by the thread; the chain,
its MACs and checkpoints verify.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import threading
from pathlib import Path

import pytest
from incidents_cli import keyed_dir, record

from proxy.errors import IncidentLogError
from proxy.record.decisions import NOT_WRITTEN, DecisionLog, Pending, Recorders
from proxy.record.incidents import IncidentStore
from proxy.record.incidents import log as log_module
from proxy.record.incidents.keys import load_private_keys
from proxy.record.incidents.log import entries
from proxy.record.incidents.verify import verify
from proxy.record.writer import RecordWriter

MORE = 4


class Fsyncs:
    """os.fsync that notes each call's thread and the log's size on entry; ``hold()``
    makes the next call wait until ``release``; ``fail`` an errno for every call."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.calls: list[tuple[str, int]] = []
        self.entered, self.release = threading.Event(), threading.Event()
        self.holding = False
        self.fail: int | None = None
        self.real = os.fsync

    def hold(self) -> None:
        self.holding = True
        self.entered.clear(), self.release.clear()

    def __call__(self, fd: int) -> None:
        size = sum(p.stat().st_size for p in self.log_dir.glob("log-*.bin"))
        self.calls.append((threading.current_thread().name, size))
        if self.holding:
            self.holding = False
            self.entered.set()
            assert self.release.wait(10), "the test never released the fsync"
        if self.fail is not None:
            raise OSError(self.fail, os.strerror(self.fail))
        self.real(fd)


@pytest.fixture
def store(tmp_path: Path, monkeypatch):
    """Decision log + incident store as ``baomi run`` builds them, warmed up (period and
    segment frames exist), with fsync observed from then on."""
    data_dir, key = keyed_dir(tmp_path)
    recorders = Recorders(DecisionLog(data_dir, sync=False), IncidentStore(data_dir))
    recorders.write(record(incident_id="warm"))
    fsyncs = Fsyncs(data_dir / "incidents")
    monkeypatch.setattr(log_module.os, "fsync", fsyncs)
    yield recorders, fsyncs, data_dir, key
    fsyncs.release.set()


def incident_ids(data_dir: Path) -> list[str]:
    return [e.data["meta"]["incident"] for e in entries(data_dir / "incidents")
            if e.kind == "incident"]


def log_size(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in (data_dir / "incidents").glob("log-*.bin"))


def verified(data_dir: Path, key: Path) -> None:
    report = verify(data_dir, load_private_keys([key]))
    assert report.ok and report.macs_checked, report.problems


def test_the_loop_writes_and_the_thread_only_fsyncs(store):
    recorders, fsyncs, data_dir, key = store
    step = recorders.write_now(record(incident_id="now"), recorders.prepare(record(
        incident_id="now")))
    assert isinstance(step, Pending) and not step.rest and len(step.syncs) == 1
    assert incident_ids(data_dir) == ["warm", "now"]  # written, not durable yet
    assert fsyncs.calls == []
    step.syncs[0]()
    assert len(fsyncs.calls) == 1
    recorders.close()
    verified(data_dir, key)


def test_a_write_returns_after_an_fsync_that_began_after_its_frame(store):
    """One write holds the thread's fsync; MORE written meanwhile are in the file at once
    but acknowledged only by the next fsync, which they share."""
    recorders, fsyncs, data_dir, key = store
    writer = RecordWriter(recorders)

    async def main():
        fsyncs.hold()
        first = asyncio.ensure_future(writer.write(record(incident_id="first")))
        await asyncio.get_running_loop().run_in_executor(None, fsyncs.entered.wait, 10)
        size = log_size(data_dir)
        rest = [asyncio.ensure_future(writer.write(record(incident_id=f"r{i}")))
                for i in range(MORE)]
        await asyncio.sleep(0)  # each of them has written its frame on the loop
        assert incident_ids(data_dir) == ["warm", "first"] + [f"r{i}" for i in range(MORE)]
        assert not any(t.done() for t in [first, *rest])  # nothing acknowledged early
        fsyncs.release.set()
        await asyncio.gather(first, *rest)
        return size

    size_at_first_fsync = asyncio.run(main())
    recorders.close()  # the final checkpoint's own fsyncs come after
    group = [c for c in fsyncs.calls if c[0] == "baomi-records"]
    assert len(group) == 2  # one per group: "first", then the MORE that queued behind it
    assert group[1][1] > size_at_first_fsync == group[0][1]
    verified(data_dir, key)


def test_a_failed_fsync_fails_its_records_and_stops_the_writer(store):
    recorders, fsyncs, data_dir, _ = store
    writer = RecordWriter(recorders)
    fsyncs.fail = errno.EIO

    async def main():
        return await asyncio.gather(*(writer.write(record(incident_id=f"f{i}"))
                                      for i in range(3)), return_exceptions=True)

    results = asyncio.run(main())
    assert [type(r) for r in results] == [IncidentLogError] * 3
    assert "Input/output error" in str(results[0])
    fsyncs.fail = None
    with pytest.raises(IncidentLogError, match="unusable after an earlier failure"):
        asyncio.run(writer.write(record(incident_id="later")))  # no new frame after a hole
    assert not recorders.probe()
    ids = incident_ids(data_dir)
    assert "f0" in ids and "later" not in ids  # nothing is chained after a failed fsync
    recorders.close()


def test_a_log_another_writer_holds_is_left_to_the_thread(store):
    """Another process's lock (flock on a second descriptor): the loop does not wait for
    it; the thread writes the record whole (decision-log line and incident) once it is free."""
    recorders, _, data_dir, key = store
    writer = RecordWriter(recorders)
    other = os.open(data_dir / "incidents" / ".lock", os.O_RDWR)
    fcntl.flock(other, fcntl.LOCK_EX)
    try:
        assert recorders.recorders[1].write_now(
            record(incident_id="x"), recorders.prepare(record(incident_id="x"))[1]) is NOT_WRITTEN

        async def main():
            task = asyncio.ensure_future(writer.write(record(incident_id="held")))
            await asyncio.sleep(0.05)  # not an ordering device: it may not finish meanwhile
            assert not task.done()
            fcntl.flock(other, fcntl.LOCK_UN)
            await task

        asyncio.run(main())
    finally:
        os.close(other)
    recorders.close()
    assert incident_ids(data_dir) == ["warm", "held"]
    lines = (data_dir / "decisions.jsonl").read_text().splitlines()
    assert sum('"incident_id": "held"' in line for line in lines) == 1  # written once
    verified(data_dir, key)


def test_checkpoints_come_from_the_thread_after_the_frames_are_durable(tmp_path: Path,
                                                                       monkeypatch):
    data_dir, key = keyed_dir(tmp_path)
    recorders = Recorders(DecisionLog(data_dir, sync=False),
                          IncidentStore(data_dir, checkpoint_every=3))
    recorders.write(record(incident_id="warm"))
    writer = RecordWriter(recorders)

    async def main():
        for i in range(8):
            await writer.write(record(incident_id=f"c{i}"))

    asyncio.run(main())
    checkpoints = [e for e in entries(data_dir / "incidents") if e.kind == "checkpoint"]
    assert len(checkpoints) >= 2
    recorders.close()
    assert incident_ids(data_dir) == ["warm"] + [f"c{i}" for i in range(8)]
    verified(data_dir, key)


def test_two_writers_extend_one_chain_from_their_loops(tmp_path: Path):
    """Two stores on one log (as two proxy processes): their loop writes interleave on the
    shared head, each sync makes its own frames durable, and the chain verifies."""
    data_dir, key = keyed_dir(tmp_path)
    a, b = (Recorders(DecisionLog(data_dir, sync=False), IncidentStore(data_dir))
            for _ in range(2))
    a.write(record(incident_id="a-warm")), b.write(record(incident_id="b-warm"))

    async def main():
        wa, wb = RecordWriter(a), RecordWriter(b)
        await asyncio.gather(*(w.write(record(incident_id=f"{n}{i}"))
                               for i in range(5) for n, w in (("a", wa), ("b", wb))))

    asyncio.run(main())
    a.close(), b.close()
    ids = incident_ids(data_dir)
    assert sorted(ids) == sorted(["a-warm", "b-warm"] + [f"{n}{i}" for i in range(5)
                                                         for n in "ab"])
    verified(data_dir, key)
