"""End to end: a failed fsync of the incident log stops the proxy process, and it comes back.

After a failed fsync the incident log takes no further record (frames written but not made
durable may have other writers' frames after them: cutting the file back is not safe), so a
process that goes on would answer 503 ``on_record_failure`` to every request that needs a
record until someone restarts it. It drains instead (requests in flight get their 503) and
exits with EXIT_RECORD_FAILURE (75, EX_TEMPFAIL); with ``--processes N`` the supervisor
restarts it, with ``-p 1`` the service manager does (systemd ``Restart=on-failure``). The
new process starts a segment of its own; ``baomi incidents verify`` passes.

The fsync fails for real: the data directory is ext4 on a loop device whose backing tmpfs
is full (tests/faultydisk.py).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from faultydisk import failing_disk
from harness import BAOMI, REPO, BaomiProcess, free_port
from prometheus_client.mmap_dict import MmapedDict

from proxy.app.supervisor import EXIT_RECORD_FAILURE

pytestmark = pytest.mark.e2e

POLICY = REPO / "policies" / "default.yaml"
RESIDENT_ID = "11010519491231002X"
GIVE_UP = 60


def block(px: BaomiProcess, up, path: str) -> httpx.Response:
    """A request the default policy blocks (it needs an incident), on a connection of its own."""
    with px.client() as c:
        return c.post(up.url(path), json={"customer": {"id_no": RESIDENT_ID}})


def first_refusal(px: BaomiProcess, up, tag: str) -> httpx.Response:
    """Block requests until one is refused for want of a record. A frame that fits in a block
    the image already has on the tmpfs still reaches the disk; with 1 KiB blocks the next
    one does not. Each answer before it is a 403 (its incident is durable)."""
    for n in range(10):
        r = block(px, up, f"/{tag}-{n}")
        if r.status_code != 403:
            return r
    raise AssertionError("ten incidents were made durable on a full disk")


def assert_record_failure(r: httpx.Response) -> None:
    assert r.status_code == 503
    assert r.json()["rule"] == "on_record_failure"


def wait_until(check: Callable[[], bool], what: str, timeout: float = GIVE_UP) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def baomi(*args: str, data_dir: Path) -> subprocess.CompletedProcess:
    out = subprocess.run([BAOMI, *args, "--data-dir", str(data_dir)], cwd=REPO,
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, (f"baomi {' '.join(args)}: {out.returncode}\n"
                                 f"{out.stdout}\n{out.stderr}")
    return out


def verify(data_dir: Path) -> None:
    baomi("incidents", "verify", "--key", str(data_dir / "reviewer-private-key.pem"),
          data_dir=data_dir)


def segment_pids(data_dir: Path) -> list[int]:
    """The pid each segment's first frame names, oldest segment first."""
    from proxy.record.incidents import framing
    from proxy.record.incidents.log import log_files, read_file

    pids = []
    for file in log_files(data_dir / "incidents"):
        first = next(item for item in framing.scan(read_file(file))
                     if isinstance(item, framing.Frame))
        pids.append(first.fields["data"]["pid"])
    return pids


def by_pid(data_dir: Path, metric: str, **labels: str) -> dict[int, float]:
    """``metric`` of each proxy process (with ``labels``), from its own metrics file."""
    out: dict[int, float] = {}
    for path in (data_dir / "metrics.d").glob("counter_*.db"):
        pid = int(path.stem.split("_")[1])
        for key, value, _ts, _pos in MmapedDict.read_all_values_from_file(str(path)):
            _, name, found, _ = json.loads(key)
            if name == metric and labels.items() <= found.items():
                out[pid] = out.get(pid, 0) + value
    return out


def stopped_pid(px: BaomiProcess) -> int | None:
    """The proxy process the supervisor saw exit because its incident log stopped."""
    found = re.search(rf"proxy process (\d+) exited \({EXIT_RECORD_FAILURE}\): its incident "
                      "log stopped", px.log_text())
    return int(found[1]) if found else None


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_one_process_exits_75_after_a_failed_fsync_and_its_restart_verifies(
        tmp_path, upstream_ca, https_up):
    data = tmp_path / "data"
    with failing_disk(data) as disk:
        px = BaomiProcess(POLICY, data, upstream_ca=upstream_ca.pem)
        with px:
            assert block(px, https_up, "/f8-p1-before").status_code == 403
            disk.fail()
            assert_record_failure(first_refusal(px, https_up, "f8-p1-full"))
            assert px.proc.wait(GIVE_UP) == EXIT_RECORD_FAILURE
            assert "incident log stopped (fsync failed" in px.log_text()
            first = px.proc.pid
            disk.heal()
            px.start()  # what systemd's Restart=on-failure does
            assert block(px, https_up, "/f8-p1-after").status_code == 403
        verify(data)
        pids = segment_pids(data)
        assert pids[0] == first and pids[-1] == px.proc.pid != first


def test_a_process_whose_fsync_failed_is_restarted_by_the_supervisor(
        tmp_path, upstream_ca, https_up):
    """Both processes hold a segment before the disk fails (a process that has none yet
    fails to start one: a transient 503, it stays up and recovers with the disk), so the
    next record of either fails its fsync. A connection may be refused while a process
    closes its listener (its accept queue is reset: SO_REUSEPORT), hence ``attempt``."""
    data = tmp_path / "data"
    with failing_disk(data) as disk:
        px = BaomiProcess(POLICY, data, upstream_ca=upstream_ca.pem, metrics_port=free_port(),
                          processes=2, workers=2)
        with px:
            def blocked_by_both() -> bool:
                assert block(px, https_up, "/f8-p2-before").status_code == 403
                return len(by_pid(data, "baomi_requests_total", action="block")) == 2
            wait_until(blocked_by_both, "a block in each process")
            disk.fail()

            def one_stopped() -> bool:
                r = attempt(px, https_up, "/f8-p2-full")
                assert r is None or r.status_code in (403, 503)  # 403: its block fit the disk
                return stopped_pid(px) is not None
            wait_until(one_stopped, "a process to stop")
            stopped = stopped_pid(px)
            assert stopped in by_pid(data, "baomi_incident_log_failures_total")
            assert not alive(stopped)
            wait_until(lambda: px.metric("baomi_process_restarts_total") >= 1, "the restart")
            disk.heal()

            def ready() -> bool:  # a request each time: a process refused before heals on one
                attempt(px, https_up, "/f8-p2-heal")
                return httpx.get(f"http://127.0.0.1:{px.metrics_port}/readyz",
                                 timeout=10).status_code == 200
            wait_until(ready, "every process ready again")
            assert [block(px, https_up, f"/f8-p2-after-{n}").status_code
                    for n in range(6)] == [403] * 6
        verify(data)
        assert stopped in segment_pids(data)


def attempt(px: BaomiProcess, up, path: str) -> httpx.Response | None:
    """``block``, or None when the connection was refused."""
    try:
        return block(px, up, path)
    except httpx.ConnectError:
        return None
