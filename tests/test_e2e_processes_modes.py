"""End to end: `baomi run --processes 2` in upstream and reverse mode starts and inspects.

That both processes take connections is proven for regular mode (test_e2e_processes.py);
here: each mode works with the processes sharing its port (clean passes, an ID is blocked).
"""

from __future__ import annotations

import json

import httpx
import pytest
from harness import REPO, BaomiProcess, Upstream

pytestmark = pytest.mark.e2e

CLEAN = json.dumps({"note": "quarterly numbers attached"}).encode()
LEAK = json.dumps({"customer": {"id_no": "11010519491231002X"}}).encode()
JSON = {"content-type": "application/json"}


def two_processes(tmp_path, mode: str) -> BaomiProcess:
    return BaomiProcess(REPO / "policies" / "default.yaml", tmp_path / "var", processes=2,
                        workers=2, extra_args=("--mode", mode))


def test_upstream_mode_with_two_processes(tmp_path):
    with (
        Upstream() as upstream_proxy,  # records what the upstream proxy is asked for
        two_processes(tmp_path, f"upstream:http://127.0.0.1:{upstream_proxy.port}") as px,
        httpx.Client(proxy=px.url, timeout=30) as client,
    ):
        assert "processes=2" in px.log_text()
        clean = client.post("http://api.example.test/up", content=CLEAN, headers=JSON)
        leak = client.post("http://api.example.test/up", content=LEAK, headers=JSON)
    assert (clean.status_code, leak.status_code) == (200, 403)
    assert [(r.path, r.body) for r in upstream_proxy.received] == [
        ("http://api.example.test/up", CLEAN)]


def test_reverse_mode_with_two_processes(tmp_path):
    with (
        Upstream() as upstream,
        two_processes(tmp_path, f"reverse:http://127.0.0.1:{upstream.port}") as px,
        httpx.Client(timeout=30) as client,
    ):
        assert "processes=2" in px.log_text()
        clean = client.post(f"{px.url}/rev", content=CLEAN, headers=JSON)
        leak = client.post(f"{px.url}/rev", content=LEAK, headers=JSON)
    assert (clean.status_code, leak.status_code) == (200, 403)
    assert [(r.path, r.body) for r in upstream.received] == [("/rev", CLEAN)]
