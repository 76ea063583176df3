"""End to end: `baomi run --processes 2`, one supervisor and two proxy processes on one port.

One baomi for the module (its start-up is the expensive part). Which process served a
request is read from prometheus-client's per-process files (``DATA/metrics.d/counter_<pid>.db``,
one per proxy process): the kernel spreads new connections between the processes, so each
request below opens its own connection. The tests run in file order: serving, metrics,
reloads, a kill -9, then the drain at SIGTERM.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml
from harness import BAOMI, REPO, BaomiProcess, free_port, process_alive
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.e2e

RESIDENT_ID = "11010519491231002X"
MOBILE = "13800138000"
MASKED_MOBILE = "138********"
BASE = yaml.safe_load((REPO / "policies" / "default.yaml").read_text())
BODIES = {"block": {"customer": {"id_no": RESIDENT_ID}},
          "mask": {"customer": {"phone": MOBILE}},
          "allow": {"order": "SO-2026-000123", "qty": 2}}


def render(change: Callable[[dict], None] | None = None) -> str:
    data = json.loads(json.dumps(BASE))
    if change:
        change(data)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def mask_to_block(data: dict) -> None:
    (rule,) = [r for r in data["rules"] if r["name"] == "mask-contacts-external"]
    rule["action"] = "block"


def write_policy(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# -- the proxy ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def policy_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("processes-policy") / "policy.yaml"
    path.write_text(render())
    return path


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, upstream_ca, policy_path):
    data = tmp_path_factory.mktemp("processes-data")
    px = BaomiProcess(policy_path, data, upstream_ca=upstream_ca.pem, metrics_port=free_port(),
                      processes=2, workers=2)
    with px:
        yield px


def banner_pids(px: BaomiProcess) -> list[int]:
    (line,) = re.findall(r"proxy processes: ([\d, ]+)", px.log_text())
    return [int(p) for p in line.split(",")]


def served(px: BaomiProcess) -> dict[int, Counter]:
    """{pid: Counter(action -> requests)} from each proxy process's own metrics file."""
    out: dict[int, Counter] = {}
    for path in (px.data_dir / "metrics.d").glob("counter_*.db"):
        counts: Counter = Counter()
        for key, value, _ts, _pos in MmapedDict.read_all_values_from_file(str(path)):
            _metric, name, labels, _help = json.loads(key)
            if name == "baomi_requests_total":
                counts[labels["action"]] += int(value)
        out[int(path.stem.split("_")[1])] = counts
    return out


def scrape(px: BaomiProcess) -> list:
    text = httpx.get(f"http://127.0.0.1:{px.metrics_port}/metrics", timeout=10).text
    return [s for f in text_string_to_metric_families(text) for s in f.samples]


def value(samples: list, name: str, **labels: str) -> float:
    return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())


def readyz(px: BaomiProcess) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{px.metrics_port}/readyz", timeout=10)


def wait_until(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def send(px: BaomiProcess, up, kind: str, path: str = "/p") -> tuple[httpx.Response, bytes | None]:
    """One request on a connection of its own: (response, body the upstream got or None)."""
    n = len(up.received)
    with httpx.Client(proxy=px.url, verify=ssl.create_default_context(cafile=px.ca_pem),
                      timeout=60) as c:
        r = c.post(up.url(path), json=BODIES[kind])
    return r, (up.received[-1].body if len(up.received) > n else None)


def assert_decided(kind: str, r: httpx.Response, got: bytes | None) -> None:
    if kind == "block":
        assert (r.status_code, got) == (403, None)
    elif kind == "mask":
        assert r.status_code == 200 and json.loads(got)["customer"]["phone"] == MASKED_MOBILE
    else:
        assert r.status_code == 200 and json.loads(got) == BODIES["allow"]


# -- 1. both processes serve, each blocks, masks and allows --------------------------------------

def test_two_processes_share_the_port_and_each_blocks_masks_and_allows(proxy, https_up):
    pids = banner_pids(proxy)
    assert len(pids) == 2 and proxy.proc.pid not in pids
    sent: Counter = Counter()
    for _ in range(40):
        if all(+served(proxy).get(pid, Counter()) >= Counter(BODIES.keys()) for pid in pids):
            break  # (unary + keeps the actions counted at least once)
        for kind in BODIES:
            r, got = send(proxy, https_up, kind)
            assert_decided(kind, r, got)
            sent[kind] += 1
    per_pid = served(proxy)
    assert sorted(per_pid) == sorted(pids)  # the supervisor serves no traffic itself
    for pid in pids:
        assert {a for a, n in per_pid[pid].items() if n > 0} >= set(BODIES), (pid, per_pid)
    total = sum(per_pid.values(), Counter())
    assert {a: total[a] for a in BODIES} == dict(sent)


def test_one_scrape_sums_the_processes(proxy, https_up):
    before = scrape(proxy)
    for kind in ("block", "mask", "mask"):
        send(proxy, https_up, kind)
    after, per_pid = scrape(proxy), served(proxy)
    for action in BODIES:
        assert value(after, "baomi_requests_total", action=action) == \
            sum(c[action] for c in per_pid.values())
    assert value(after, "baomi_requests_total", action="mask") - \
        value(before, "baomi_requests_total", action="mask") == 2
    assert value(after, "baomi_detections_total", entity="CN_RESIDENT_ID") >= 1
    # the supervisor's own series, once: the policy in force, readiness, restarts
    assert [s.labels["hash"] for s in after if s.name == "baomi_policy_info"] == \
        [f"sha256:{_sha256(render())}"]
    assert value(after, "baomi_policy_reloads_total", result="success") == 1
    assert value(after, "baomi_process_restarts_total") == 0
    assert len([s for s in after if s.name == "baomi_build_info"]) == 1
    assert {s.labels["component"]: s.value for s in after if s.name == "baomi_ready"} == \
        {"policy": 1, "detector": 1, "incident_log": 1, "processes": 1}
    assert not [s for s in after if "pid" in s.labels]
    r = readyz(proxy)
    assert r.status_code == 200 and r.json()["components"]["processes"] == "ready"


def _sha256(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


# -- 2. reloads under load move every process, or none ------------------------------------------

class Load:
    """Threads sending masked-or-blocked requests, each on a new connection (so both
    processes get some); records every outcome."""

    def __init__(self, px: BaomiProcess, up, kind: str, threads: int = 3):
        self.px, self.up, self.kind = px, up, kind
        self.outcomes: list[tuple[float, int, str | None]] = []  # (sent at, status, incident)
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(90)

    def _run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                with httpx.Client(proxy=self.px.url, timeout=60,
                                  verify=ssl.create_default_context(cafile=self.px.ca_pem)) as c:
                    r = c.post(self.up.url("/load"), content=json.dumps(BODIES[self.kind]),
                               headers={"content-type": "application/json",
                                        "x-load": str(threading.get_ident())})
            except httpx.TransportError as e:
                self.errors.append(type(e).__name__)
                continue
            self.outcomes.append((started, r.status_code,
                                  r.headers.get("x-baomi-incident")))

    def wait_for(self, more: int, timeout: float = 120) -> None:
        want = len(self.outcomes) + more
        wait_until(lambda: len(self.outcomes) >= want, f"{more} more answered requests", timeout)


def test_reload_under_load_moves_every_process_or_none(proxy, https_up, policy_path):
    pids = banner_pids(proxy)
    before = scrape(proxy)
    blocked = render(mask_to_block)
    with Load(proxy, https_up, "mask") as load:
        load.wait_for(10)
        write_policy(policy_path, blocked)  # the supervisor's watcher sees it within ~1 s
        wait_until(lambda: value(scrape(proxy), "baomi_policy_reloads_total",
                                 result="success") == 2, "the reload")
        reloaded_at = time.monotonic()
        load.wait_for(20)
        # an invalid policy: every process keeps the last good one
        write_policy(policy_path, blocked.replace("action: block", "action: blok", 1))
        wait_until(lambda: value(scrape(proxy), "baomi_policy_reloads_total",
                                 result="failure") == 1, "the rejected reload")
        load.wait_for(20)
    per_pid_blocks = {pid: served(proxy)[pid]["block"] for pid in pids}
    after = scrape(proxy)
    assert load.errors == []
    statuses_after = [status for t, status, _ in load.outcomes if t > reloaded_at]
    assert set(statuses_after) == {403}  # once reported, the new policy is everywhere
    assert {status for _, status, _ in load.outcomes} <= {200, 403}
    # every masked request reached the upstream masked; no blocked one reached it
    masked = [json.loads(r.body) for r in https_up.received if r.path == "/load"]
    assert masked and all(b["customer"]["phone"] == MASKED_MOBILE for b in masked)
    assert len(masked) == sum(1 for _, status, _ in load.outcomes if status == 200)
    assert all(n > 0 for n in per_pid_blocks.values()), per_pid_blocks  # both moved
    assert [s.labels["hash"] for s in after if s.name == "baomi_policy_info"] == \
        [f"sha256:{_sha256(blocked)}"]
    assert value(after, "baomi_policy_last_reload_successful") == 0
    r = readyz(proxy)
    assert r.status_code == 200 and r.json()["policy_reload"].startswith("last reload rejected")
    assert value(before, "baomi_policy_reloads_total", result="failure") == 0

    write_policy(policy_path, render())  # back to the base policy for the tests that follow
    wait_until(lambda: value(scrape(proxy), "baomi_policy_reloads_total",
                             result="success") == 3, "the base policy again")
    for _ in range(4):
        assert_decided("mask", *send(proxy, https_up, "mask"))


def test_sighup_reloads_through_the_supervisor(proxy, https_up, policy_path):
    before = value(scrape(proxy), "baomi_policy_reloads_total", result="success")
    proxy.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: value(scrape(proxy), "baomi_policy_reloads_total",
                             result="success") == before + 1, "the SIGHUP reload")
    assert "policy unchanged (SIGHUP)" in proxy.log_text()


def test_sigusr1_is_passed_on_to_every_process(proxy):
    """logrotate signals the main pid: each process reopens its decision log."""
    before = proxy.log_text().count("decision log reopened")
    proxy.proc.send_signal(signal.SIGUSR1)
    wait_until(lambda: proxy.log_text().count("decision log reopened") == before + 2,
               "both processes to reopen their decision log")
    assert proxy.proc.poll() is None


# -- 3. kill -9 of one proxy process under load -------------------------------------------------

def test_kill_9_of_one_process_under_load(proxy, https_up):
    victim, survivor = banner_pids(proxy)
    n = len([r for r in https_up.received if r.path == "/load"])
    with Load(proxy, https_up, "block") as load:
        load.wait_for(10)
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        survivor_before = served(proxy)[survivor]["block"]
        load.wait_for(20)  # the other process keeps serving
        survivor_served = served(proxy)[survivor]["block"] - survivor_before
        wait_until(lambda: value(scrape(proxy), "baomi_process_restarts_total") == 1,
                   "the restart to be counted")
        wait_until(lambda: readyz(proxy).status_code == 200, "every process ready again", 180)
        restarted = [pid for pid in served(proxy) if pid not in (victim, survivor)]
        load.wait_for(10)
    assert survivor_served >= 5
    assert len(restarted) == 1 and process_alive(restarted[0]) and not process_alive(victim)
    answered = [(t, status, incident) for t, status, incident in load.outcomes]
    assert {status for _, status, _ in answered} == {403}  # never let through, never an error
    assert any(t > killed_at for t, _, _ in answered)
    assert len([r for r in https_up.received if r.path == "/load"]) == n
    acked = [incident for _, _, incident in answered]
    assert all(acked) and len(set(acked)) == len(acked)
    listed = subprocess.run([BAOMI, "incidents", "list", "--json", "--data-dir",
                             str(proxy.data_dir)], capture_output=True, text=True, timeout=120,
                            check=True, cwd=REPO)
    recorded = {json.loads(line)["id"] for line in listed.stdout.splitlines()}
    assert [i for i in acked if i not in recorded] == []  # no acknowledged incident lost
    key = proxy.data_dir / "reviewer-private-key.pem"
    verify = subprocess.run([BAOMI, "incidents", "verify", "--key", str(key), "--data-dir",
                             str(proxy.data_dir)], capture_output=True, text=True, timeout=120,
                            check=False, cwd=REPO)
    assert verify.returncode == 0, verify.stdout + verify.stderr


# -- 4. SIGTERM drains: in-flight requests finish, nothing new is accepted, all stop -----------

def test_sigterm_drains_every_process_and_exits_0(proxy, upstream_ca):
    from harness import Upstream

    release, arrived = threading.Event(), threading.Event()

    slow = Upstream(tls=upstream_ca)
    handler = slow.server.RequestHandlerClass
    original = handler._handle

    def held(self):
        arrived.set()
        release.wait(60)
        original(self)

    handler.do_POST = held
    pids = [pid for pid in served(proxy) if process_alive(pid)]
    result: list = []
    with slow:
        def in_flight():
            result.append(send(proxy, slow, "allow", "/slow"))

        sender = threading.Thread(target=in_flight)
        sender.start()
        assert arrived.wait(60)
        proxy.proc.send_signal(signal.SIGTERM)
        wait_until(lambda: not _accepts(proxy.port), "the listeners to close", 30)
        release.set()
        sender.join(60)
        assert proxy.proc.wait(60) == 0
    (r, got), = result
    assert r.status_code == 200 and json.loads(got) == BODIES["allow"]
    assert not any(process_alive(pid) for pid in pids)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False
