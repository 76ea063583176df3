"""Data-dir approvals reach every proxy process: `baomi run --processes 2` (one port, the
kernel spreads new connections over both), an approval and then a revocation, each in force
within 5 s in whichever process answers. No console here: the store and the CLI act directly
(test_e2e_applications covers the console and the browser)."""

from __future__ import annotations

import json
import ssl
import time

import httpx
import pytest
from harness import REPO, BaomiProcess

from proxy.cli import main
from proxy.record.approvals import ApprovalStore

pytestmark = pytest.mark.e2e

RESIDENT_ID = "11010519491231002X"
IN_FORCE = 5.0
FRESH = 12  # requests on fresh connections once in force: all must agree, whichever process


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, upstream_ca):
    data = tmp_path_factory.mktemp("apps-processes")
    with BaomiProcess(REPO / "policies" / "default.yaml", data, upstream_ca=upstream_ca.pem,
                      processes=2, workers=2) as px:
        yield px


def send(proxy, https_up) -> httpx.Response:
    """One request on a fresh connection (a new client port: either process may take it)."""
    trust = ssl.create_default_context(cafile=proxy.ca_pem)
    with httpx.Client(proxy=proxy.url, verify=trust, timeout=30) as client:
        return client.post(https_up.url("/payroll"), json={"id": RESIDENT_ID},
                           headers={"accept": "application/json"})


def until(proxy, https_up, status: int) -> float:
    """Seconds from now until a request that got ``status`` was sent (or the poll gave up)."""
    start = time.monotonic()
    while True:
        sent = time.monotonic() - start
        if send(proxy, https_up).status_code == status or sent > IN_FORCE + 10:
            return sent
        time.sleep(0.2)  # between polls of the proxy


def after(moment: float) -> None:
    """Let the promised IN_FORCE seconds since ``moment`` pass: every process must have the
    change by then (the bound under test, not a guess at how long something takes)."""
    time.sleep(max(0.0, moment + IN_FORCE - time.monotonic()))


def records(proxy) -> list[dict]:
    lines = (proxy.data_dir / "decisions.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["path"] == "/payroll" and not r["outcome"]]


def test_approval_and_revocation_reach_every_process(proxy, https_up, monkeypatch):
    refused = send(proxy, https_up)
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["application_url"].startswith(
        f"http://127.0.0.1:9465/applications/new?incident={error['incident']}&token=")
    store = ApprovalStore(proxy.data_dir)
    app = store.file(error["incident"], purpose="payroll", recipient="bank", method="HTTPS",
                     agreement="NDA-1", wanted_until=_in_days(30), max_records=1)
    approval = store.approve(app.id, "abe")
    approved_at = time.monotonic()

    assert until(proxy, https_up, 200) <= IN_FORCE  # one process has it ...
    after(approved_at)
    assert [send(proxy, https_up).status_code for _ in range(FRESH)] == [200] * FRESH  # ... all
    passed = records(proxy)[-FRESH:]
    assert {(r["action"], r["approval"]) for r in passed} == {("allow", approval.id)}

    monkeypatch.setenv("USER", "dpo")
    assert main(["approvals", "revoke", approval.id, "--data-dir", str(proxy.data_dir)]) == 0
    revoked_at = time.monotonic()
    assert until(proxy, https_up, 403) <= IN_FORCE
    after(revoked_at)
    assert [send(proxy, https_up).status_code for _ in range(FRESH)] == [403] * FRESH
    assert {r["approval"] for r in records(proxy)[-FRESH:]} == {None}


def _in_days(days: int):
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) + timedelta(days=days)
