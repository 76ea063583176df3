"""End to end: the decision log of the real `baomi run` process stays bounded and loses nothing.

- A small ``--decision-log-max-bytes`` rotates ``decisions.jsonl`` into ``.1``, ``.2``, ...:
  every line is whole JSON, no file passes the limit, and every request sent is there once.
- ``SIGUSR1`` after an external ``mv decisions.jsonl x`` (what logrotate does) starts a fresh
  file; until then lines still go to the renamed one.
- The logrotate configuration in deploy/README.md, run by the real logrotate.
- ``logging: {allowed: none}`` leaves clean allows out of the log but still writes a block, and
  metrics count both.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml
from harness import REPO, BaomiProcess, free_port
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.e2e

RESIDENT_ID = "11010519491231002X"
MAX_BYTES = 4096
CLEAN = {"order": "SO-2026-000123", "items": [{"sku": "AB-1234", "qty": 2}]}
CUSTOMER = {"customer": {"id_number": RESIDENT_ID}}  # block-plain-http / block-ids-and-cards


def policy_with(tmp: Path, **sections) -> Path:
    data = yaml.safe_load((REPO / "policies" / "default.yaml").read_text())
    data.update(sections)
    path, part = tmp / "policy.yaml", tmp / "policy.yaml.part"
    part.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    os.replace(part, path)  # in one step: the reload watcher never reads half a file
    return path


def lines_of(path: Path) -> list[dict]:
    """Every line of the file as JSON; fails on a partial or broken line."""
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), f"{path.name} ends inside a line"
    return [json.loads(line) for line in data.decode().splitlines()]


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def rotating(tmp_path_factory):
    """Flags win over BAOMI_* variables: the environment's limit would never rotate here."""
    data = tmp_path_factory.mktemp("rotating")
    env = {"BAOMI_DECISION_LOG_MAX_BYTES": "999999999", "BAOMI_DECISION_LOG_KEEP": "100"}
    with BaomiProcess(REPO / "policies" / "default.yaml", data, env=env,
                      extra_args=("--decision-log-max-bytes", str(MAX_BYTES))) as px:
        yield px


@pytest.fixture(scope="module")
def quiet(tmp_path_factory):
    """The default policy with logging.allowed: none, and metrics on."""
    data = tmp_path_factory.mktemp("quiet")
    policy = policy_with(data, logging={"allowed": "none"})
    with BaomiProcess(policy, data / "var", metrics_port=free_port()) as px:
        yield px


def client(proxy: BaomiProcess) -> httpx.Client:
    return httpx.Client(proxy=proxy.url, timeout=30)


def test_small_max_bytes_rotates_and_keeps_every_line(rotating, http_up):
    sent = 40
    with client(rotating) as c:
        for i in range(sent):
            assert c.post(http_up.url(f"/rotate/{i}"), json=CLEAN).status_code == 200
    logs = sorted(rotating.data_dir.glob("decisions.jsonl*"))
    names = {p.name for p in logs}
    assert {"decisions.jsonl", "decisions.jsonl.1", "decisions.jsonl.2"} <= names
    assert all(p.stat().st_size <= MAX_BYTES for p in logs)
    records = [r for p in logs for r in lines_of(p)]
    assert sorted(r["path"] for r in records) == sorted(f"/rotate/{i}" for i in range(sent))
    assert {r["action"] for r in records} == {"allow"}
    oldest = max((p for p in logs if p.suffix[1:].isdigit()), key=lambda p: int(p.suffix[1:]))
    assert lines_of(oldest)[0]["path"] == "/rotate/0"  # numbered from the newest: .1
    assert lines_of(rotating.data_dir / "decisions.jsonl")[-1]["path"] == f"/rotate/{sent - 1}"


def test_sigusr1_reopens_after_an_external_rename(quiet, http_up):
    log, moved = quiet.data_dir / "decisions.jsonl", quiet.data_dir / "x"
    with client(quiet) as c:
        assert c.post(http_up.url("/usr1/before"), json=CUSTOMER).status_code == 403
        os.rename(log, moved)
        assert c.post(http_up.url("/usr1/renamed"), json=CUSTOMER).status_code == 403
        reopened = quiet.log_text().count("decision log reopened")
        os.kill(quiet.proc.pid, signal.SIGUSR1)
        wait_until(lambda: quiet.log_text().count("decision log reopened") > reopened,
                   "the proxy to log that it reopened the decision log")
        assert c.post(http_up.url("/usr1/after"), json=CUSTOMER).status_code == 403
    assert quiet.proc.poll() is None  # SIGUSR1 would have killed a process without a handler
    assert [r["path"] for r in lines_of(moved)][-2:] == ["/usr1/before", "/usr1/renamed"]
    assert [r["path"] for r in lines_of(log)] == ["/usr1/after"]
    assert log.stat().st_mode & 0o077 == 0


def samples(proxy: BaomiProcess, name: str) -> list:
    text = httpx.get(f"http://127.0.0.1:{proxy.metrics_port}/metrics", timeout=10).text
    return [s for f in text_string_to_metric_families(text) for s in f.samples if s.name == name]


def requests_counted(proxy: BaomiProcess, action: str) -> float:
    return sum(s.value for s in samples(proxy, "baomi_requests_total")
               if s.labels.get("action") == action)


def test_allowed_none_leaves_out_clean_allows_but_writes_blocks(quiet, http_up):
    allowed, blocked = requests_counted(quiet, "allow"), requests_counted(quiet, "block")
    received = len(http_up.received)
    with client(quiet) as c:
        assert c.post(http_up.url("/quiet/clean"), json=CLEAN).status_code == 200
        assert c.post(http_up.url("/quiet/customer"), json=CUSTOMER).status_code == 403
    assert [r.path for r in http_up.received[received:]] == ["/quiet/clean"]
    records = [r for p in quiet.data_dir.glob("decisions.jsonl*") for r in lines_of(p)]
    assert [(r["path"], r["action"]) for r in records if r["path"].startswith("/quiet/")] == [
        ("/quiet/customer", "block")
    ]
    assert (requests_counted(quiet, "allow"), requests_counted(quiet, "block")) == (
        allowed + 1, blocked + 1
    )


def readme_logrotate_config(log: Path, pid: int) -> str:
    """deploy/README.md's logrotate block, pointed at this log and this process (no systemd
    and no user baomi here)."""
    text = (REPO / "deploy" / "README.md").read_text()
    (block,) = re.findall(r"```logrotate\n(.*?)```", text, re.DOTALL)
    assert "/var/lib/baomi/decisions.jsonl {" in block and "su baomi baomi" in block
    command = "systemctl kill --kill-whom=main --signal=USR1 baomi.service"
    assert command in block
    block = block.replace("/var/lib/baomi/decisions.jsonl", str(log))
    return block.replace("    su baomi baomi\n", "").replace(command, f"kill -USR1 {pid}")


def test_logrotate_as_documented(quiet, http_up, tmp_path):
    if shutil.which("logrotate") is None:
        pytest.skip("Debian's logrotate is not installed")
    log = quiet.data_dir / "decisions.jsonl"
    config = tmp_path / "baomi.logrotate"
    config.write_text(readme_logrotate_config(log, quiet.proc.pid))
    with client(quiet) as c:
        assert c.post(http_up.url("/logrotate/before"), json=CUSTOMER).status_code == 403
        reopened = quiet.log_text().count("decision log reopened")
        run = subprocess.run(["logrotate", "--force", "--state", str(tmp_path / "state"),
                              str(config)], check=False, capture_output=True, text=True,
                             timeout=60)
        assert run.returncode == 0, run.stderr
        wait_until(lambda: quiet.log_text().count("decision log reopened") > reopened,
                   "the proxy to reopen the decision log")
        assert c.post(http_up.url("/logrotate/after"), json=CUSTOMER).status_code == 403
    (rotated,) = quiet.data_dir.glob("decisions.jsonl-*")  # dateext; delaycompress: plain text
    assert lines_of(rotated)[-1]["path"] == "/logrotate/before"
    assert [r["path"] for r in lines_of(log)] == ["/logrotate/after"]


def reload_with(proxy: BaomiProcess, allowed: str) -> None:
    """Rewrite the quiet proxy's policy, SIGHUP, and wait until metrics show it in force."""
    policy = policy_with(proxy.data_dir.parent, logging={"allowed": allowed})
    digest = "sha256:" + hashlib.sha256(policy.read_bytes()).hexdigest()
    os.kill(proxy.proc.pid, signal.SIGHUP)
    wait_until(lambda: [s.labels["hash"] for s in samples(proxy, "baomi_policy_info")] == [digest],
               f"the policy with logging.allowed {allowed} in force", timeout=120)


def test_allowed_follows_a_policy_reload(quiet, http_up):
    def logged(path: str) -> list[str]:
        return [r["path"] for p in quiet.data_dir.glob("decisions.jsonl*") for r in lines_of(p)
                if r["path"] == path]

    with client(quiet) as c:
        reload_with(quiet, "all")
        assert c.post(http_up.url("/reload/all"), json=CLEAN).status_code == 200
        reload_with(quiet, "none")
        assert c.post(http_up.url("/reload/none"), json=CLEAN).status_code == 200
    assert (logged("/reload/all"), logged("/reload/none")) == (["/reload/all"], [])
