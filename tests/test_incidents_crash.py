"""kill -9 a writer again and again: no acknowledged record is lost, and the log verifies."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from incidents_cli import keyed_dir

from proxy.record.incidents import IncidentStore
from proxy.record.incidents.index import ReviewIndex
from proxy.record.incidents.keys import load_private_keys
from proxy.record.incidents.verify import verify

REPO = Path(__file__).resolve().parents[1]

# Acknowledged = printed after write() returned. Printing is line-buffered to a pipe, so every
# printed id reaches the parent even when the writer dies right after.
WRITER = """
import sys, uuid
sys.path[:0] = [{repo!r}, {tests!r}]
from pathlib import Path
from incidents_cli import record
from proxy.record.incidents import IncidentStore
store = IncidentStore(Path({data_dir!r}), checkpoint_every=7)
print("ready", flush=True)
while True:
    rec = record(incident_id=uuid.uuid4().hex)
    store.write(rec)
    print(rec.incident_id, flush=True)
"""


def run_and_kill(data_dir: Path, delay: float) -> list[str]:
    code = WRITER.format(repo=str(REPO), tests=str(REPO / "tests"), data_dir=str(data_dir))
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        out = proc.stdout.read()
    assert proc.returncode == -signal.SIGKILL
    lines = out.splitlines()
    if lines and len(lines[-1]) != 32:
        lines.pop()  # a line cut by the kill was never a complete acknowledgement
    return lines


def test_kill_9_loses_no_acknowledged_record(tmp_path):
    data_dir, key = keyed_dir(tmp_path)
    rng = random.Random(4)
    acknowledged: list[str] = []
    for _ in range(8):
        acknowledged += run_and_kill(data_dir, rng.uniform(0.02, 0.3))
    assert len(acknowledged) > 50  # the loop really wrote while being killed

    report = verify(data_dir, load_private_keys([key]))
    assert report.ok, report.problems  # even before any writer recovers the tail

    IncidentStore(data_dir).close()  # next start: tail set aside if torn, chain continues
    report = verify(data_dir, load_private_keys([key]))
    assert report.ok, report.problems
    index = ReviewIndex.open(data_dir)
    stored = {row["id"] for row in index.incidents()}
    index.close()
    assert set(acknowledged) <= stored
