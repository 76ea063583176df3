"""The decision log written by several processes at once (``baomi run --processes N``).

Real OS processes (multiprocessing, spawn) write to one data directory while it rotates
every few lines; every test reads all files back and checks each record by its id, so a lost,
doubled, interleaved or torn line fails, and so does a file rotated more than once.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
from pathlib import Path

from proxy.record.decisions import DecisionLog
from tests.test_decision_log import SIZE, ids_in, record

SPAWN = multiprocessing.get_context("spawn")
LINES_PER_FILE = 7
MAX_BYTES = LINES_PER_FILE * SIZE + 3  # 7 lines fit, the 8th rotates


def write_records(data_dir: str, first: int, count: int, keep: int, start) -> None:
    """One writer process: ``count`` records numbered from ``first``."""
    log = DecisionLog(Path(data_dir), sync=False, max_bytes=MAX_BYTES, keep=keep)
    start.wait()
    try:
        for n in range(first, first + count):
            log.write(record(n))
    finally:
        log.close()


def run_writers(data_dir: Path, processes: int, per_process: int, keep: int) -> None:
    start = SPAWN.Barrier(processes)
    writers = [SPAWN.Process(target=write_records,
                             args=(str(data_dir), p * per_process, per_process, keep, start))
               for p in range(processes)]
    for w in writers:
        w.start()
    for w in writers:
        w.join(timeout=120)
    assert [w.exitcode for w in writers] == [0] * processes
    for w in writers:
        w.close()


def logs(data_dir: Path) -> list[Path]:
    return sorted(data_dir.glob("decisions.jsonl*"))


def test_processes_writing_while_it_rotates_lose_split_and_double_nothing(tmp_path):
    processes, per_process = 4, 120
    total = processes * per_process
    run_writers(tmp_path, processes, per_process, keep=total)  # keep every copy
    found = [i for p in logs(tmp_path) for i in ids_in(p)]  # ids_in fails on a torn line
    assert sorted(found) == [f"BM-{n:06d}" for n in range(total)]
    # Rotated once per full file, not once per process: every copy is full, and there are
    # exactly as many files as the lines need.
    copies = [p for p in logs(tmp_path) if p.name != "decisions.jsonl"]
    assert {len(ids_in(p)) for p in copies} == {LINES_PER_FILE}
    assert len(logs(tmp_path)) == -(-total // LINES_PER_FILE)


def test_a_writer_follows_a_rotation_forced_by_a_bigger_line(tmp_path):
    """Another's big line rotated a file that still had room for small lines: the writer
    notices by the path's inode (checked at most every FOLLOW_SECONDS; every line here)."""
    small = DecisionLog(tmp_path, max_bytes=40 * SIZE, keep=5)
    big = DecisionLog(tmp_path, max_bytes=40 * SIZE, keep=5)
    small.FOLLOW_SECONDS = 0.0
    try:
        small.write(record(0))
        for n in range(1, 30):
            big.write(record(n))
        big.write(record(30, locations=["json:$.x"] * 600))  # > the room left: rotates
        small.write(record(99))
    finally:
        small.close()
        big.close()
    assert ids_in(tmp_path / "decisions.jsonl") == ["BM-000030", "BM-000099"]
    assert ids_in(tmp_path / "decisions.jsonl.1") == [f"BM-{n:06d}" for n in range(30)]


def test_processes_with_few_copies_keep_the_newest_lines_whole(tmp_path):
    processes, per_process, keep = 3, 60, 2
    run_writers(tmp_path, processes, per_process, keep=keep)
    assert [p.name for p in logs(tmp_path)] == [
        "decisions.jsonl", "decisions.jsonl.1", "decisions.jsonl.2"]
    kept = [ids_in(p) for p in logs(tmp_path)]  # whole lines in every file
    assert [len(ids) for ids in kept[1:]] == [LINES_PER_FILE, LINES_PER_FILE]
    assert len({i for ids in kept for i in ids}) == sum(len(ids) for ids in kept)


def test_an_idle_writer_follows_rotations_it_did_not_do(tmp_path):
    """Two descriptors of one log behave like two processes (flock is per open file)."""
    idle = DecisionLog(tmp_path, max_bytes=MAX_BYTES, keep=5)
    busy = DecisionLog(tmp_path, max_bytes=MAX_BYTES, keep=5)
    try:
        idle.write(record(0))
        for n in range(1, 2 * LINES_PER_FILE + 1):  # two rotations: idle's file is now .2
            busy.write(record(n))
        idle.write(record(99))
    finally:
        idle.close()
        busy.close()
    assert ids_in(tmp_path / "decisions.jsonl")[-1] == "BM-000099"
    assert len(ids_in(tmp_path / "decisions.jsonl.2")) == LINES_PER_FILE


def test_keep_zero_never_writes_into_an_unlinked_file(tmp_path):
    idle = DecisionLog(tmp_path, max_bytes=MAX_BYTES, keep=0)
    busy = DecisionLog(tmp_path, max_bytes=MAX_BYTES, keep=0)
    try:
        idle.write(record(0))
        for n in range(1, LINES_PER_FILE + 1):  # busy fills the file and unlinks it
            busy.write(record(n))
        idle.write(record(99))
    finally:
        idle.close()
        busy.close()
    assert ids_in(tmp_path / "decisions.jsonl") == ["BM-000007", "BM-000099"]


def hold_the_lock_then_die(data_dir: str, locked) -> None:
    """A writer killed (-9) while it holds the log's lock, mid-line."""
    log = DecisionLog(Path(data_dir), max_bytes=MAX_BYTES, keep=5)
    with log._exclusive():
        os.write(log._fd, b'{"incident_id": "BM-torn"')  # half a line, no newline
        locked.set()
        signal.pause()


def test_a_writer_killed_holding_the_lock_blocks_no_one(tmp_path):
    locked = SPAWN.Event()
    victim = SPAWN.Process(target=hold_the_lock_then_die, args=(str(tmp_path), locked))
    victim.start()
    assert locked.wait(60)
    os.kill(victim.pid, signal.SIGKILL)
    victim.join(60)
    victim.close()
    log = DecisionLog(tmp_path, max_bytes=MAX_BYTES, keep=5)
    try:
        log.write(record(1))  # the kernel released the dead writer's lock
    finally:
        log.close()
    torn, whole = (tmp_path / "decisions.jsonl").read_bytes().decode().splitlines()
    assert torn == '{"incident_id": "BM-torn"'  # never acknowledged; kept apart, not glued on
    assert json.loads(whole)["incident_id"] == "BM-000001"
