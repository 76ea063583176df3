"""The incident store written by several processes at once (``baomi run --processes N``).

Real OS processes (multiprocessing, spawn) append to one log. A writer acknowledges an
incident (sends its id down a pipe) only after ``write`` returned, so "no acknowledged
incident lost" is checked against what each writer really promised. Afterwards
``baomi incidents verify`` (with the reviewer key, so every MAC is checked) must pass and
``baomi incidents list`` must show every acknowledged incident.
"""

from __future__ import annotations

import fcntl
import json
import multiprocessing
import os
import signal
from multiprocessing.connection import Connection, wait
from pathlib import Path

from incidents_cli import keyed_dir, record, run

from proxy.record.incidents import IncidentStore
from proxy.record.incidents.framing import scan
from proxy.record.incidents.head import SHM
from proxy.record.incidents.keys import Keyring, load_private_keys
from proxy.record.incidents.log import IncidentLog, _flock, incidents_dir, log_files
from proxy.record.incidents.verify import verify

SPAWN = multiprocessing.get_context("spawn")
CHECKPOINT_EVERY = 3  # small: checkpoints from every writer, interleaved


def write_incidents(data_dir: str, count: int, acks: Connection, start) -> None:
    """One writer process: ``count`` incidents (``0``: until killed), each id acknowledged."""
    store = IncidentStore(Path(data_dir), checkpoint_every=CHECKPOINT_EVERY)
    acks.send_bytes(b"ready")
    start.wait()
    n = 0
    while count == 0 or n < count:
        rec = record(rule=f"writer-{os.getpid()}")
        store.write(rec)
        acks.send_bytes(rec.incident_id.encode())  # one small write: whole or not at all
        n += 1
    store.close()
    acks.close()


class Writer:
    """A spawned writer and the ids it acknowledged."""

    def __init__(self, data_dir: Path, count: int, start, ready: bool = True):
        self.acks, child_end = SPAWN.Pipe(duplex=False)
        self.proc = SPAWN.Process(target=write_incidents,
                                  args=(str(data_dir), count, child_end, start))
        self.proc.start()
        child_end.close()
        self.acknowledged: list[str] = []
        self.pid = self.proc.pid
        if ready:
            self.ready()

    def ready(self) -> None:
        assert self.acks.poll(120) and self.acks.recv_bytes() == b"ready"

    def drain(self) -> bool:
        """Take what the writer acknowledged so far; False once its end of the pipe closed."""
        while self.acks.poll():
            try:
                self.acknowledged.append(self.acks.recv_bytes().decode())
            except (EOFError, OSError):
                return False
        return True

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        assert self.finish() == -signal.SIGKILL

    def finish(self) -> int | None:
        self.proc.join(120)
        self.drain()  # everything sent before it exited is in the pipe by now
        self.acks.close()
        code = self.proc.exitcode
        self.proc.close()
        return code


def wait_for_acks(writers: list[Writer], at_least: int) -> None:
    """Until every writer acknowledged ``at_least`` more incidents (they are all writing)."""
    targets = {w: len(w.acknowledged) + at_least for w in writers}
    while any(len(w.acknowledged) < targets[w] for w in writers):
        ready = wait([w.acks for w in writers], timeout=60)
        assert ready, "writers stopped acknowledging"
        for w in writers:
            w.drain()


def listed(data_dir: Path) -> set[str]:
    result = run("incidents", "list", "--data-dir", str(data_dir), "--json")
    assert result.code == 0, result.err
    return {json.loads(line)["id"] for line in result.out.splitlines()}


def verified(data_dir: Path, key: Path) -> str:
    result = run("incidents", "verify", "--data-dir", str(data_dir), "--key", str(key))
    assert result.code == 0, result.out
    assert "PROBLEM" not in result.out
    return result.out


def segments(data_dir: Path) -> list[tuple[int, int]]:
    """(file number, writer pid) of every segment, in log order."""
    found = []
    for file in log_files(incidents_dir(data_dir)):
        first = next(iter(scan(file.path.read_bytes())))
        found.append((file.number, first.fields["data"]["pid"]))
    return found


def test_processes_appending_at_once_make_one_log_that_verifies(tmp_path):
    data_dir, key = keyed_dir(tmp_path)
    start = SPAWN.Barrier(4)
    writers = [Writer(data_dir, 25, start) for _ in range(4)]
    for w in writers:
        w.finish()
    assert [len(w.acknowledged) for w in writers] == [25] * 4
    out = verified(data_dir, key)
    assert "MACs checked" in out
    assert listed(data_dir) == {i for w in writers for i in w.acknowledged}
    # Each writer started one segment (its first append); then all extended the newest one,
    # instead of a new segment at every turn.
    assert sorted(pid for _, pid in segments(data_dir)) == sorted(w.pid for w in writers)
    report = verify(data_dir, load_private_keys([key]))
    assert report.checkpoint_seq is not None
    assert report.checkpoint_seq >= report.last_seq - 1  # the last writer's close() signed it


def test_kill_9_of_one_writer_under_load_loses_nothing_and_the_others_go_on(tmp_path):
    data_dir, key = keyed_dir(tmp_path)
    start = SPAWN.Barrier(3)
    writers = [Writer(data_dir, 0, start) for _ in range(3)]
    wait_for_acks(writers, 10)
    victim, others = writers[0], writers[1:]
    victim.kill()
    before = {w: len(w.acknowledged) for w in others}
    wait_for_acks(others, 10)  # the others keep writing
    restarted = Writer(data_dir, 0, SPAWN.Barrier(1))
    wait_for_acks([*others, restarted], 10)
    for w in [*others, restarted]:
        w.kill()
    IncidentStore(data_dir).close()  # what a later start does: removes their shared state
    assert all(len(w.acknowledged) > before.get(w, 0) for w in [*others, restarted])

    verified(data_dir, key)
    assert listed(data_dir) >= {i for w in [*writers, restarted] for i in w.acknowledged}
    # The restarted writer starts fresh segments after every file of the one it replaces.
    order = segments(data_dir)
    victim_files = [n for n, pid in order if pid == victim.pid]
    restarted_files = [n for n, pid in order if pid == restarted.pid]
    assert restarted_files and min(restarted_files) > max(victim_files)


def die_mid_frame_holding_the_lock(data_dir: str, locked) -> None:
    """A writer killed (-9) in the middle of writing a frame, with the log's lock held."""
    log = IncidentLog(Path(data_dir), Keyring.load(Path(data_dir)))
    log.append("incident", {"meta": {"incident": "acknowledged-before-the-kill"}})
    with _flock(log._lock_fd, fcntl.LOCK_EX):
        segment = log._segment
        assert segment is not None
        os.write(segment.fd, b"BMI\x01\x00\x00\x01\x00" + b"{" * 100)  # half a frame
        locked.set()
        signal.pause()


def test_a_writer_killed_mid_frame_holding_the_lock_blocks_no_one(tmp_path):
    data_dir, key = keyed_dir(tmp_path)
    locked = SPAWN.Event()
    victim = SPAWN.Process(target=die_mid_frame_holding_the_lock, args=(str(data_dir), locked))
    victim.start()
    assert locked.wait(60)
    start = SPAWN.Barrier(1)
    other = Writer(data_dir, 3, start, ready=False)  # waits for the lock: the kernel frees it
    os.kill(victim.pid, signal.SIGKILL)
    victim.join(60)
    victim.close()
    other.ready()
    other.finish()
    assert len(other.acknowledged) == 3
    out = verified(data_dir, key)
    assert "torn tail set aside" in out
    (torn,) = incidents_dir(data_dir).glob("torn-*.bin")
    assert torn.read_bytes().startswith(b"BMI\x01")
    meta_ids = {json.loads(f.body)["data"].get("meta", {}).get("incident")
                for file in log_files(incidents_dir(data_dir))
                for f in scan(file.path.read_bytes())}
    assert "acknowledged-before-the-kill" in meta_ids


def test_verify_while_writers_checkpoint_sees_no_false_problem(tmp_path):
    """verify reads checkpoint.json and the log files at one moment between appends."""
    data_dir, key = keyed_dir(tmp_path)
    start = SPAWN.Barrier(2)
    writers = [Writer(data_dir, 0, start) for _ in range(2)]
    keys = load_private_keys([key])
    try:
        for _ in range(15):
            wait_for_acks(writers, 1)
            report = verify(data_dir, keys)
            assert report.ok, report.problems
    finally:
        for w in writers:
            w.kill()
        IncidentStore(data_dir).close()
    verified(data_dir, key)


def test_a_damaged_shared_state_starts_a_new_segment_and_loses_nothing(tmp_path):
    data_dir, key = keyed_dir(tmp_path)
    first, second = IncidentStore(data_dir), IncidentStore(data_dir)
    try:
        first.write(record())
        second.write(record())
        (shared,) = [p for p in SHM.glob("baomi-incidents-*")
                     if p.samefile(first._log._head.path)]
        for damage in (b"\xff" * 116, bytes(40)):  # a flipped state, then a half-written one
            with open(shared, "r+b") as fh:
                fh.write(damage)
            first.write(record())
        second.write(record())
    finally:
        first.close()
        second.close()
    assert not shared.exists()  # the last writer out removed it
    assert len(segments(data_dir)) == 4  # two first appends, two damaged states
    verified(data_dir, key)
    assert len(listed(data_dir)) == 5


def test_without_shared_state_writers_still_make_one_log(tmp_path):
    data_dir, key = keyed_dir(tmp_path)
    logs = [IncidentLog(data_dir, Keyring.load(data_dir), share_head=False) for _ in range(2)]
    try:
        for n in range(6):
            logs[n % 2].append("incident", {"meta": {"incident": f"turn-{n}"}})
    finally:
        for log in logs:
            log.close()
    assert len(segments(data_dir)) == 6  # a new segment at every turn, as before
    verified(data_dir, key)
