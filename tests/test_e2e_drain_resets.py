"""End to end: draining or restarting one of `baomi run --processes 2`'s processes resets no
connection the kernel accepted (session 22, F9).

With SO_REUSEPORT every process has a listening socket of its own, and the kernel queues each
new connection on one of them. A process that closed its socket (a drain, a restart) took
its queue with it: connections the kernel had accepted for it were reset. The supervisor now
opens the listening sockets and hands the same ones to every process it starts (and to the
replacement of one that stops): a socket stays open while its process drains or restarts,
and what is queued on it waits for the next process instead of being reset.

Load: four client threads open a new connection per request (``Connection: close``) through
the proxy while the test SIGTERMs one proxy process (it drains and exits; the supervisor
restarts it), three times. Every request must get its 200: 0 resets.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
from harness import REPO, BaomiProcess, free_port, process_alive

pytestmark = pytest.mark.e2e

CLIENTS = 4
DRAINS = 3


MIGRATE = Path("/proc/sys/net/ipv4/tcp_migrate_req")


@pytest.fixture
def migrate():
    """``net.ipv4.tcp_migrate_req=1`` for the test (deploy/sysctl.d/90-baomi.conf ships it):
    a closing listener's queue goes to another listener of its SO_REUSEPORT group. Set here
    when it is off and this process may (root in its network namespace), put back after."""
    if not MIGRATE.exists():
        pytest.skip("no net.ipv4.tcp_migrate_req (Linux < 5.14)")
    was = MIGRATE.read_text().strip()
    if was != "1":
        try:
            MIGRATE.write_text("1")
        except OSError:
            pytest.skip("net.ipv4.tcp_migrate_req is 0 and cannot be set here")
    yield
    if was != "1":
        MIGRATE.write_text(was)


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


def ready(px: BaomiProcess) -> bool:
    """/readyz is green only when every proxy process is up and ready."""
    try:
        return httpx.get(f"http://127.0.0.1:{px.metrics_port}/readyz", timeout=5).status_code \
            == 200
    except httpx.HTTPError:
        return False


def test_draining_one_process_under_load_resets_no_connection(tmp_path, http_up, migrate):
    with BaomiProcess(REPO / "policies" / "default.yaml", tmp_path / "data", processes=2,
                      metrics_port=free_port()) as px, Load(px.port, http_up.url("/d")) as load:
        assert px.proc is not None
        for _ in range(DRAINS):
            wait_for(lambda: ready(px))
            before = load.ok
            wait_for(lambda before=before: load.ok >= before + 20)
            first = child_pids(px.proc.pid)[0]
            os.kill(first, signal.SIGTERM)  # drains, exits, is restarted
            wait_for(lambda first=first: not process_alive(first))
        wait_for(lambda: ready(px))
    assert load.failures == {}
    assert load.ok > DRAINS * 20
