"""The record writer: one thread writes every record handed over by the event loop, in
groups; each ``write`` returns once its own record is durable, or raises its own error.

Groups form while the thread is busy: a recorder that holds the first group lets the
event loop queue the rest, which must then arrive as one group.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import sys
import threading
from pathlib import Path

import pytest
from incidents_cli import RAW_ID, RAW_PHONE, keyed_dir, record

from proxy.errors import IncidentLogError
from proxy.record import decisions as decisions_module
from proxy.record import writer as writer_module
from proxy.record.decisions import NOT_PREPARED, DecisionLog, Recorders
from proxy.record.incidents import IncidentStore, review
from proxy.record.incidents import log as log_module
from proxy.record.incidents.keys import load_private_keys
from proxy.record.incidents.log import entries
from proxy.record.incidents.verify import verify
from proxy.record.writer import RecordWriter

QUEUED = 5


class HeldRecorder:
    """A recorder with ``write_many`` whose first group waits until released; ``fail``
    names incident ids it refuses (an error for that record alone)."""

    def __init__(self, fail: frozenset[str] = frozenset()):
        self.groups: list[list[str]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fail = fail

    def write_many(self, records):
        if not self.groups:
            self.entered.set()
            assert self.release.wait(10), "the test never released the first group"
        self.groups.append([r.incident_id for r in records])
        return [IncidentLogError("disk full") if r.incident_id in self.fail else None
                for r in records]

    def write(self, record):  # not used when write_many exists
        raise AssertionError("write called")


async def held_then_queued(writer: RecordWriter, recorder: HeldRecorder) -> list:
    """One write holds the thread; QUEUED more are queued meanwhile; results in order."""
    first = asyncio.ensure_future(writer.write(record(incident_id="first")))
    await asyncio.get_running_loop().run_in_executor(None, recorder.entered.wait, 10)
    rest = [asyncio.ensure_future(writer.write(record(incident_id=f"r{i}")))
            for i in range(QUEUED)]
    await asyncio.sleep(0)  # every write above has queued its record
    assert not any(task.done() for task in [first, *rest])  # nothing acknowledged early
    recorder.release.set()
    return await asyncio.gather(first, *rest, return_exceptions=True)


def test_records_queued_during_a_write_go_as_one_group():
    recorder = HeldRecorder()
    results = asyncio.run(held_then_queued(RecordWriter(recorder), recorder))
    assert results == [None] * (QUEUED + 1)
    assert recorder.groups == [["first"], [f"r{i}" for i in range(QUEUED)]]


def test_an_error_fails_its_own_record_only():
    recorder = HeldRecorder(fail=frozenset({"r2"}))
    results = asyncio.run(held_then_queued(RecordWriter(recorder), recorder))
    assert [type(r) for r in results] == [type(None)] * 3 + [IncidentLogError] + [type(None)] * 2


class Exploding:
    def write_many(self, records):
        raise ValueError("13800138000 in the message")  # a bug quoting a value


def test_a_group_that_raises_fails_every_record_without_its_message():
    async def main():
        writer = RecordWriter(Exploding())
        return await asyncio.gather(*(writer.write(record()) for _ in range(3)),
                                    return_exceptions=True)

    results = asyncio.run(main())
    assert [type(r) for r in results] == [IncidentLogError] * 3
    assert all("13800138000" not in str(r) and "ValueError" in str(r) for r in results)


class Plain:
    """A recorder with ``write`` only (like tests' MemoryRecorder)."""

    def __init__(self):
        self.written: list[str] = []

    def write(self, record):
        if record.incident_id == "bad":
            raise IncidentLogError("disk full")
        self.written.append(record.incident_id)


def test_a_recorder_without_write_many_is_written_record_by_record():
    recorder = Plain()

    async def main():
        writer = RecordWriter(recorder)
        return await asyncio.gather(*(writer.write(record(incident_id=i))
                                      for i in ("a", "bad", "c")), return_exceptions=True)

    results = asyncio.run(main())
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], IncidentLogError)
    assert recorder.written == ["a", "c"]


def test_the_thread_ends_when_idle_and_a_later_write_starts_another(monkeypatch):
    monkeypatch.setattr(writer_module, "IDLE_SECONDS", 0.05)
    recorder = Plain()
    writer = RecordWriter(recorder)

    others = set(threading.enumerate())  # other tests' writers, idle on their own clock

    def threads() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "baomi-records" and t not in others]

    asyncio.run(writer.write(record(incident_id="a")))
    assert len(threads()) == 1
    for thread in threads():
        thread.join(5)
    assert threads() == []
    asyncio.run(writer.write(record(incident_id="b")))  # a new thread takes it
    assert recorder.written == ["a", "b"]


class CountedFsync:
    def __init__(self):
        self.calls = 0
        self.real = log_module.os.fsync

    def __call__(self, fd):
        self.calls += 1
        self.real(fd)


def test_incident_store_writes_a_group_with_one_fsync_and_verifies(tmp_path: Path, monkeypatch):
    data_dir, key = keyed_dir(tmp_path)
    store = IncidentStore(data_dir)
    store.write(record(incident_id="warm"))  # period and segment frames exist from here on
    fsync = CountedFsync()
    monkeypatch.setattr(log_module.os, "fsync", fsync)
    bad = record(incident_id="bad", entity_counts={"PHONE_NUMBER": object()})  # not JSON
    group = [record(incident_id=f"g{i}") for i in range(4)]
    allowed = record(incident_id="clean", action="allow", entity_counts={})  # no incident
    results = store.write_many([group[0], bad, group[1], allowed, group[2], group[3]])
    monkeypatch.undo()
    store.close()
    assert [type(r) for r in results] == [type(None), IncidentLogError] + [type(None)] * 4
    assert "cannot record incident (TypeError)" in str(results[1])
    assert fsync.calls == 1
    ids = [e.data["meta"]["incident"] for e in entries(data_dir / "incidents")
           if e.kind == "incident"]
    assert ids == ["warm", "g0", "g1", "g2", "g3"]
    report = verify(data_dir, load_private_keys([key]))
    assert report.ok, report.problems


def test_records_written_in_one_loop_pass_reach_the_thread_as_one_group(
        tmp_path: Path, monkeypatch):
    """One hand-over (and wake-up) per loop pass: however eager the thread (a switch
    interval of 1 us lets it take the GIL at once), the records the pass wrote on the loop
    are synced by one fsync, not one each."""
    data_dir, key = keyed_dir(tmp_path)
    store = IncidentStore(data_dir)
    store.write(record(incident_id="warm"))  # period and segment: write_now can append
    writer = RecordWriter(store)
    fsync = CountedFsync()
    monkeypatch.setattr(log_module.os, "fsync", fsync)
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        async def one_pass():
            return await asyncio.gather(*(writer.write(record(incident_id=f"p{i}"))
                                          for i in range(QUEUED)))
        results = asyncio.run(one_pass())
    finally:
        sys.setswitchinterval(before)
    monkeypatch.undo()
    store.close()
    assert results == [None] * QUEUED
    assert fsync.calls == 1
    ids = [e.data["meta"]["incident"] for e in entries(data_dir / "incidents")
           if e.kind == "incident"]
    assert ids == ["warm"] + [f"p{i}" for i in range(QUEUED)]
    assert verify(data_dir, load_private_keys([key])).ok


def test_recorders_hand_the_incident_store_only_what_the_decision_log_took(tmp_path: Path):
    data_dir, _ = keyed_dir(tmp_path)

    class FailsOne(DecisionLog):
        def write_many(self, records):
            results = super().write_many(records)
            return [IncidentLogError("disk full") if r.incident_id == "x" else e
                    for r, e in zip(records, results, strict=True)]

    log, store = FailsOne(data_dir), IncidentStore(data_dir)
    recorders = Recorders(log, store)
    results = recorders.write_many([record(incident_id=i) for i in ("a", "x", "b")])
    recorders.close()
    assert [type(r) for r in results] == [type(None), IncidentLogError, type(None)]
    ids = [e.data["meta"]["incident"] for e in entries(data_dir / "incidents")
           if e.kind == "incident"]
    assert ids == ["a", "b"]


@pytest.mark.parametrize("sync", [True, False])
def test_decision_log_write_many_writes_the_lines_write_would(tmp_path: Path, sync):
    records = [record(incident_id=f"id{i}", action=a)
               for i, a in enumerate(("block", "allow", "mask"))]
    one, many = tmp_path / "one", tmp_path / "many"
    one.mkdir(), many.mkdir()
    by_one, by_many = DecisionLog(one, sync=sync), DecisionLog(many, sync=sync)
    for r in records:
        by_one.write(r)
    assert by_many.write_many(records) == [None, None, None]
    by_one.close(), by_many.close()
    written = (many / "decisions.jsonl").read_bytes()
    assert written == (one / "decisions.jsonl").read_bytes()
    assert written.count(b"\n") == 3


class Preparing(Plain):
    """Records what ``write_many`` was handed: each record's ``prepare`` result."""

    def __init__(self):
        super().__init__()
        self.handed: list = []

    def prepare(self, record):
        if record.incident_id == "odd":
            raise ValueError("cannot prepare")  # redone by write_many
        return f"line of {record.incident_id}"

    def write_many(self, records, prepared=None):  # no ``prepared`` when none was prepared
        self.handed.extend(prepared or [NOT_PREPARED] * len(records))
        return [None] * len(records)


def test_records_are_prepared_on_the_loop_and_handed_over():
    recorder = Preparing()

    async def main():
        writer = RecordWriter(recorder)
        await asyncio.gather(*(writer.write(record(incident_id=i)) for i in ("a", "odd")))

    asyncio.run(main())
    assert recorder.handed == ["line of a", NOT_PREPARED]


def test_prepared_records_make_the_same_files_as_unprepared_ones(tmp_path: Path):
    """decision log line and incident frame prepared on the loop, then written by the thread:
    the same lines, incidents that decrypt and verify; before today's period exists the
    incident store leaves the work to the thread (it writes the period frame)."""
    data_dir, key = keyed_dir(tmp_path)
    recorders = Recorders(DecisionLog(data_dir, sync=False), IncidentStore(data_dir))
    first, allowed = record(incident_id="first"), record(incident_id="ok", action="allow",
                                                         entity_counts={})
    assert recorders.prepare(first)[1] is NOT_PREPARED  # no period yet
    writer = RecordWriter(recorders)

    async def main():
        await writer.write(first)
        prepared = [recorders.prepare(r) for r in (record(incident_id="p1"), allowed)]
        assert isinstance(prepared[0][1], dict) and prepared[1][1] is None
        await asyncio.gather(*(writer.write(record(incident_id=i)) for i in ("p1", "p2")))
        await writer.write(allowed)

    asyncio.run(main())
    recorders.close()
    lines = (data_dir / "decisions.jsonl").read_text().splitlines()
    assert [json.loads(line)["incident_id"] for line in lines] == ["first", "p1", "p2", "ok"]
    assert json.loads(lines[1]) == json.loads(json.dumps(record(incident_id="p1").public()))
    ids = [e.data["meta"]["incident"] for e in entries(data_dir / "incidents")
           if e.kind == "incident"]
    assert ids == ["first", "p1", "p2"]
    report = verify(data_dir, load_private_keys([key]))
    assert report.ok and report.macs_checked, report.problems
    revealed = review.reveal(data_dir, "p2", load_private_keys([key]), "test")
    assert [e["value"] for e in revealed.evidence] == [RAW_ID, RAW_PHONE]


def test_decision_log_group_that_does_not_fit_rotates_between_lines(tmp_path: Path):
    records = [record(incident_id=f"id{i}") for i in range(3)]
    size = len(DecisionLog.prepare(None, records[0]))  # type: ignore[arg-type]  # same size each
    log = DecisionLog(tmp_path, sync=False, max_bytes=2 * size, keep=2)
    assert log.write_many(records) == [None, None, None]
    log.close()
    ids = {name: [json.loads(x)["incident_id"] for x in (tmp_path / name).read_text().splitlines()]
           for name in ("decisions.jsonl.1", "decisions.jsonl")}
    assert ids == {"decisions.jsonl.1": ["id0", "id1"], "decisions.jsonl": ["id2"]}


def test_decision_log_group_write_that_fails_fails_every_line_and_leaves_none(
        tmp_path: Path, monkeypatch):
    log = DecisionLog(tmp_path, sync=False)
    log.write(record(incident_id="before"))
    real_write = os.write

    def full(fd, data):
        real_write(fd, bytes(data)[:10])  # a short write, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(decisions_module.os, "write", full)
    results = log.write_many([record(incident_id=f"g{i}") for i in range(3)])
    monkeypatch.undo()
    log.close()
    assert [type(r) for r in results] == [IncidentLogError] * 3
    assert "No space left on device" in str(results[0])
    lines = (tmp_path / "decisions.jsonl").read_text().splitlines()
    assert [json.loads(x)["incident_id"] for x in lines] == ["before"]
