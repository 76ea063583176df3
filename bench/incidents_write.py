"""Incident store write cost: one frame + one fsync per write, checkpoints every 100.

.venv/bin/python bench/incidents_write.py [N] [THREADS]
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path[:0] = [
    str(Path(__file__).resolve().parents[1]),
    str(Path(__file__).resolve().parents[1] / "tests"),
]

from incidents_cli import record

from proxy.record.incidents import IncidentStore
from proxy.record.incidents.keys import init_keys
from proxy.record.incidents.verify import verify


def main(n: int, threads: int) -> None:
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        data_dir = Path(tmp) / "var"
        init_keys(data_dir, Path(tmp) / "rk.pem")
        store = IncidentStore(data_dir)
        store.write(record())  # period start outside the timing
        records = [record() for _ in range(n)]
        chunks = [records[i::threads] for i in range(threads)]
        start = time.perf_counter()
        workers = [threading.Thread(target=lambda c=c: [store.write(r) for r in c]) for c in chunks]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        elapsed = time.perf_counter() - start
        store.close()
        size = sum(p.stat().st_size for p in (data_dir / "incidents").glob("log-*.bin"))
        t0 = time.perf_counter()
        ok = verify(data_dir).ok
        vt = time.perf_counter() - t0
        print(
            f"{n} writes, {threads} thread(s): {n / elapsed:.0f} writes/s, "
            f"{elapsed / n * 1e3:.2f} ms/write, {size / (n + 1):.0f} bytes/incident on disk; "
            f"verify {vt:.2f} s ({'ok' if ok else 'FAILED'})"
        )


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 2000,
        int(sys.argv[2]) if len(sys.argv) > 2 else 1,
    )
