"""End to end: draining one of `baomi run --processes 2`'s processes resets no connection
the kernel accepted (session 22, F9).

With SO_REUSEPORT every proxy process has a listening socket of its own, and the kernel
queues each new connection on one of them. A process that closes its socket (a drain, a
restart) took its queue with it: the connections queued there were reset. Two things fix
it: ``net.ipv4.tcp_migrate_req=1`` (deploy/sysctl.d/90-baomi.conf) moves a closing
listener's queue to another socket of the group, and the drain waits for a connection
accepted less than 1 s ago to send its request before it stops.

Load: four client threads open a new connection per request (``Connection: close``) while
the test SIGTERMs one proxy process (it drains and exits; the supervisor starts another),
twice. Every request must get its 200. With the sysctl at 0 the same run failed in 2 of 3
runs (a ConnectionResetError; an unanswered close): ``PYTHONPATH=tests unshare --net --
.venv/bin/python tests/test_e2e_drain_resets.py 0 DIR`` prints its counts.

The scenario runs in a network namespace of its own (``unshare --net``; the sysctl is per
namespace), so the test never changes the machine's setting; it needs root.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

CLIENTS = 4
DRAINS = 2
MIGRATE = Path("/proc/sys/net/ipv4/tcp_migrate_req")


def child_pids(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def one_request(port: int, target: str) -> bytes:
    """A new connection, one GET through the proxy, the whole answer (the server closes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                  .encode())
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


class Load:
    """Client threads sending requests until stopped; counts answers and failures by kind."""

    def __init__(self, port: int, target: str):
        self.port, self.target = port, target
        self.ok = 0
        self.failures: dict[str, int] = {}
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run) for _ in range(CLIENTS)]

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                answer = one_request(self.port, self.target)
                kind = "ok" if answer.startswith(b"HTTP/1.1 200 ") else \
                    "closed unanswered" if not answer else answer.split(b"\r\n")[0].decode()
            except OSError as e:
                kind = type(e).__name__
            with self.lock:
                if kind == "ok":
                    self.ok += 1
                else:
                    self.failures[kind] = self.failures.get(kind, 0) + 1

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join()


def wait_for(predicate, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def ready(metrics_port: int) -> bool:
    """/readyz is green only when every proxy process is up and ready."""
    import httpx

    try:
        return httpx.get(f"http://127.0.0.1:{metrics_port}/readyz", timeout=5).status_code \
            == 200
    except httpx.HTTPError:
        return False


def drain_under_load(data_dir: Path) -> dict:
    """The scenario, in the current network namespace: requests answered and failures."""
    from harness import REPO, BaomiProcess, Upstream, free_port, process_alive

    with Upstream() as up, BaomiProcess(REPO / "policies" / "default.yaml", data_dir,
                                        processes=2, metrics_port=free_port()) as px, \
            Load(px.port, up.url("/d")) as load:
        assert px.proc is not None
        for _ in range(DRAINS):
            wait_for(lambda: ready(px.metrics_port))
            before = load.ok
            wait_for(lambda before=before: load.ok >= before + 20)
            first = child_pids(px.proc.pid)[0]
            os.kill(first, signal.SIGTERM)  # drains, exits, is restarted
            wait_for(lambda first=first: not process_alive(first))
        wait_for(lambda: ready(px.metrics_port))
    return {"ok": load.ok, "failures": load.failures}


def in_own_namespace(migrate: str, data_dir: Path) -> None:
    """Entry point inside ``unshare --net``: loopback up, the sysctl set, the scenario run,
    its result as one JSON line on stdout."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    MIGRATE.write_text(migrate)
    print(json.dumps(drain_under_load(data_dir)), flush=True)


@pytest.mark.e2e
def test_draining_one_process_under_load_resets_no_connection(tmp_path):
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        pytest.skip("a network namespace of its own needs root, unshare and ip")
    if not MIGRATE.exists():
        pytest.skip("no net.ipv4.tcp_migrate_req (Linux < 5.14)")
    tests = Path(__file__).resolve().parent
    done = subprocess.run(
        ["unshare", "--net", "--", sys.executable, __file__, "1", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=300, cwd=tests.parent,
        env={**os.environ, "PYTHONPATH": str(tests)}, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["failures"] == {}
    assert result["ok"] > DRAINS * 20


if __name__ == "__main__":
    in_own_namespace(sys.argv[1], Path(sys.argv[2]))
