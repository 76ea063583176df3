"""End to end: a host mitmproxy ignores (``--set ignore_hosts=...``) is a recorded passthrough.

mitmproxy tunnels an ignored host without firing a single hook; baomi records each such
connection as the policy's own ``passthrough`` is recorded (allow, uninspected passthrough,
counted), so no data leaves unrecorded. The client trusts only the upstream's CA: the tunnel
is a real passthrough, not an interception.
"""

from __future__ import annotations

import json
import ssl

import httpx
import pytest
from harness import REPO, BaomiProcess, Upstream, free_port

pytestmark = pytest.mark.e2e

RESIDENT_ID = "11010519491231002X"
BODY = json.dumps({"customer": {"id_no": RESIDENT_ID}}).encode()


@pytest.fixture(scope="module")
def upstream(upstream_ca):
    with Upstream(tls=upstream_ca) as up:
        yield up


@pytest.fixture(scope="module", params=[1, 2], ids=["processes1", "processes2"])
def proxy(request, tmp_path_factory, upstream, upstream_ca):
    tmp = tmp_path_factory.mktemp("baomi-ignore-hosts")
    ignore = rf"ignore_hosts=^127\.0\.0\.1:{upstream.port}$"
    with BaomiProcess(REPO / "policies" / "default.yaml", tmp / "data",
                      upstream_ca=upstream_ca.pem, metrics_port=free_port(),
                      processes=request.param, extra_args=("--set", ignore)) as px:
        yield px


def passthrough_count(proxy: BaomiProcess) -> float:
    return proxy.metric("baomi_uninspected_total", reason="passthrough")


def decisions(proxy: BaomiProcess) -> list[dict]:
    path = proxy.data_dir / "decisions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_ignored_host_passes_recorded_and_counted(proxy, upstream, upstream_ca):
    before_count, before_records = passthrough_count(proxy), len(decisions(proxy))
    n = len(upstream.received)
    with httpx.Client(proxy=proxy.url, verify=ssl.create_default_context(cafile=upstream_ca.pem),
                      timeout=30) as client:
        r = client.post(upstream.url("/leak"), content=BODY,
                        headers={"content-type": "application/json"})
    assert r.status_code == 200
    assert [got.body for got in upstream.received[n:]] == [BODY]  # tunnelled, uninspected
    [record] = decisions(proxy)[before_records:]
    assert (record["action"], record["rule"], record["uninspected"]) == (
        "allow", "passthrough", "passthrough")
    assert "ignore_hosts" in record["reason"]
    assert (record["host"], record["port"]) == ("127.0.0.1", upstream.port)
    assert RESIDENT_ID not in json.dumps(record)
    assert passthrough_count(proxy) == before_count + 1


def test_other_hosts_are_still_inspected(proxy, upstream_ca):
    with Upstream(tls=upstream_ca) as other:  # same address, another port: not ignored
        before_count = passthrough_count(proxy)
        with httpx.Client(proxy=proxy.url, verify=ssl.create_default_context(
                cafile=proxy.ca_pem), timeout=30) as client:
            r = client.post(other.url("/leak"), content=BODY,
                            headers={"content-type": "application/json"})
        assert r.status_code == 403
        assert other.received == []
    assert decisions(proxy)[-1]["uninspected"] is None
    assert passthrough_count(proxy) == before_count
