"""End to end: a real Prometheus scrapes the real `baomi run` while real traffic passes.

Every PromQL expression we ship (Grafana dashboard, alert rules) runs against what
Prometheus actually scraped: each must be valid, and every dashboard panel must show data
(a finite, non-zero sample). Traffic is made for each panel, including the unhappy ones:
forwarded uninspected bodies, a detector crash, a failed incident-log write (a file-size
limit on the process: the real EFBIG path), a rejected policy reload.

Personal data sent through the proxy in every form we can think of never appears in
/metrics, /readyz or in any label value Prometheus stored.
"""

from __future__ import annotations

import base64
import math
import resource
import socket
import ssl
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml
from harness import REPO, BaomiProcess, free_port
from prometheus_client.parser import text_string_to_metric_families
from promql import (
    Expression,
    Prometheus,
    all_expressions,
    dashboard_expressions,
    rule_expressions,
    to_promql,
)

pytestmark = pytest.mark.e2e

MOBILE = "13800138000"
RESIDENT_ID = "11010519491231002X"
EMAIL = "zhang.wei@example.com"
MASKED_MOBILE = "138********"
RAISE_MARKER = "BAOMI-TEST-RAISE"  # tests/baomi_test_plugins.py: the recognizer crashes on it


# -- the proxy, its upstream and Prometheus (one of each for the module) ----------------------


@pytest.fixture(scope="module")
def policy_path(tmp_path_factory) -> Path:
    """The default policy, except that undecodable bodies are forwarded (the "Forwarded
    uninspected" panel needs some) and a recognizer that crashes on a marker is loaded."""
    data = yaml.safe_load((REPO / "policies" / "default.yaml").read_text())
    data["failure"]["on_uninspectable"] = "allow"
    data["detection"]["extra_recognizers"] = ["baomi_test_plugins:RaiseOnMarker"]
    path = tmp_path_factory.mktemp("obs-policy") / "policy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, upstream_ca, policy_path):
    data = tmp_path_factory.mktemp("obs-data")
    with BaomiProcess(policy_path, data, upstream_ca=upstream_ca.pem, metrics_port=free_port()) as px:
        yield px


@pytest.fixture(scope="module")
def prom(proxy):
    with Prometheus(target=f"127.0.0.1:{proxy.metrics_port}") as p:
        # At least one scrape before any traffic: rate() then sees every counter start at 0.
        p.wait_for('baomi_requests_total{job="baomi"}')
        yield p


@pytest.fixture(scope="module")
def client(proxy):
    with httpx.Client(
        proxy=proxy.url, verify=ssl.create_default_context(cafile=proxy.ca_pem), timeout=60
    ) as c:
        yield c


def metrics_url(proxy: BaomiProcess, path: str = "/metrics") -> str:
    return f"http://127.0.0.1:{proxy.metrics_port}{path}"


def scrape(proxy: BaomiProcess) -> dict[tuple[str, frozenset], float]:
    """/metrics as {(sample name, labels): value}."""
    text = httpx.get(metrics_url(proxy), timeout=10).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(samples: dict, name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


# -- the traffic: every kind of event a panel shows -------------------------------------------


def post_json(client, up, path, body):
    return client.post(up.url(path), json=body)


def post_raw(client, up, path, body: bytes, **headers):
    return client.post(up.url(path), content=body, headers=headers)


TRAFFIC = [
    # (what, send, expected status, arrives upstream)
    ("allowed", lambda c, u: post_json(c, u, "/orders", {"order": "SO-1", "qty": 2}), 200, True),
    ("masked", lambda c, u: post_json(c, u, "/tickets", {"phone": MOBILE}), 200, True),
    ("blocked", lambda c, u: post_json(c, u, "/customers", {"id_no": RESIDENT_ID}), 403, False),
    ("forwarded uninspected",
     lambda c, u: post_raw(c, u, "/bin", b"\x1f\x8b\x08not-gzip", **{
         "content-type": "application/json", "content-encoding": "gzip"}), 200, True),
    ("detector crash",
     lambda c, u: post_raw(c, u, "/crash", f"hello {RAISE_MARKER}".encode(),
                           **{"content-type": "text/plain"}), 403, False),
    ("image upload",
     lambda c, u: c.post(u.url("/avatar"), files={"photo": ("me.png", PNG, "image/png")}),
     200, True),
]  # fmt: skip
# A 1x1 PNG (its pixels cannot be inspected: counted under content.images)
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC")


def fail_upstream(client) -> None:
    """A request decided and forwarded to a port nobody listens on: the exchange fails."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    assert client.get(f"http://127.0.0.1:{dead}/gone").status_code == 502


def send_malformed(proxy) -> None:
    """A chunked request with a trailer field: mitmproxy's parser refuses it (400)."""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as s:
        s.sendall(b"POST http://127.0.0.1:9/x HTTP/1.1\r\nHost: 127.0.0.1:9\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-T: 1\r\n\r\n")
        assert s.recv(65536).startswith(b"HTTP/1.1 400")


@pytest.fixture(scope="module")
def traffic(proxy, prom, client, https_up, policy_path) -> dict:
    """Send every kind of request, fail an incident-log write, reload the policy once well and
    once badly (the bad file is left in place: the proxy runs on its last good policy).
    Returns the scrape taken when Prometheus has seen all of it."""
    for what, send, status, arrives in TRAFFIC:
        n = len(https_up.received)
        r = send(client, https_up)
        assert r.status_code == status, f"{what}: {r.status_code} {r.text[:200]}"
        assert len(https_up.received) == n + arrives, what
    fail_upstream(client)
    send_malformed(proxy)
    fail_one_incident_log_write(proxy, client, https_up)
    reload_policy(proxy, policy_path, policy_path.read_text() + "\n# reviewed\n", "success")
    reload_policy(proxy, policy_path, policy_path.read_text() + "\nmode: enforce: now\n", "failure")
    final = scrape(proxy)
    prom.wait_for(
        f'sum(baomi_requests_total{{job="baomi"}}) == {total(final, "baomi_requests_total")}'
    )
    prom.wait_for('baomi_policy_reloads_total{job="baomi", result="failure"} > 0')
    return final


def fail_one_incident_log_write(proxy, client, https_up) -> None:
    """A file-size limit on the proxy makes its next log write fail (EFBIG, as on a full disk):
    the request is refused with 503 and counted; lifting the limit recovers without restart."""
    pid = proxy.proc.pid
    soft, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (1, hard))
    try:
        n = len(https_up.received)
        r = post_json(client, https_up, "/audit", {"order": "SO-2"})
    finally:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))
    assert r.status_code == 503, r.text[:200]
    assert len(https_up.received) == n, "traffic that cannot be recorded must not pass"
    assert httpx.get(metrics_url(proxy, "/readyz")).status_code == 503
    r = post_json(client, https_up, "/audit", {"order": "SO-3"})
    assert r.status_code == 200
    assert httpx.get(metrics_url(proxy, "/readyz")).status_code == 200


def reload_policy(proxy, path: Path, text: str, result: str) -> None:
    before = total(scrape(proxy), "baomi_policy_reloads_total", result=result)
    path.write_text(text)
    wait_until(
        lambda: total(scrape(proxy), "baomi_policy_reloads_total", result=result) > before,
        f"a policy reload with result {result}",
    )


# -- the dashboard and the alert rules, through Prometheus' HTTP API --------------------------
# Panel data first: the dashboard's rate() windows are 1m long, so they run right after the
# traffic.


def has_data(result: list[dict]) -> bool:
    return any(math.isfinite(v := float(s["value"][1])) and v != 0 for s in result)


@pytest.mark.parametrize("expr", dashboard_expressions(), ids=lambda e: e.origin)
def test_dashboard_panel_shows_data(prom, traffic, expr: Expression):
    promql = to_promql(expr.expr)
    deadline = time.monotonic() + 10  # the last scrape may still be on its way
    while not has_data(result := prom.query(promql)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert has_data(result), f"{expr.origin}: no data in {result} for {promql}"


@pytest.mark.parametrize("expr", all_expressions(), ids=lambda e: e.origin)
def test_expression_is_valid_promql(prom, traffic, expr: Expression):
    prom.query(expr.expr)  # raises PromQLError on a parse or type error


def alert_expr(name: str) -> str:
    (expr,) = [e.expr for e in rule_expressions() if e.origin == f"alert: {name}"]
    return expr


@pytest.mark.parametrize(
    ("alert", "fires"),
    [
        ("BaomiDown", False),
        ("BaomiAbsent", False),
        ("BaomiNotReady", False),  # the incident log recovered with the next write
        ("BaomiInspectionBypassed", True),  # the undecodable body was forwarded
        ("BaomiInspectionFailing", True),  # 1 crash in a handful of requests
        ("BaomiIncidentLogFailing", True),
        ("BaomiPolicyReloadFailed", True),  # the bad file is still in place
    ],
)
def test_alert_condition_matches_what_happened(prom, traffic, proxy, alert, fires):
    result = prom.query(alert_expr(alert))
    assert bool(result) == fires, result
    if fires:
        assert {s["metric"]["instance"] for s in result} == {f"127.0.0.1:{proxy.metrics_port}"}


def test_failing_ratio_counts_each_failure_once(prom, traffic):
    """Each failed inspection is in two counters (uninspected{reason}, errors{stage}); the
    alert must report the real share of failed requests, not twice it."""
    failed = total(traffic, "baomi_uninspected_total", reason="error") + total(
        traffic, "baomi_uninspected_total", reason="timeout"
    )
    requests = total(traffic, "baomi_requests_total")
    assert failed == 1 and total(traffic, "baomi_errors_total", stage="detect") == 1
    (sample,) = prom.query(alert_expr("BaomiInspectionFailing"))
    assert float(sample["value"][1]) == pytest.approx(failed / requests, rel=0.01)


# -- liveness and readiness -------------------------------------------------------------------


def test_healthz_is_ok(proxy):
    r = httpx.get(metrics_url(proxy, "/healthz"))
    assert (r.status_code, r.text) == (200, "ok\n")


def test_readyz_lists_components_and_the_rejected_reload(proxy, traffic, policy_path):
    r = httpx.get(metrics_url(proxy, "/readyz"))
    assert r.status_code == 200  # the last good policy is in force: still ready
    body = r.json()
    assert body["status"] == "ready" and body["not_ready"] == []
    assert body["components"] == {"policy": "ready", "detector": "ready", "incident_log": "ready"}
    assert body["policy_reload"].startswith(f"last reload rejected: {policy_path}:")


# -- no personal data on /metrics -------------------------------------------------------------


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# Every form a value could take on its way through: raw, masked, URL-encoded, base64, and
# long fragments (short digit runs would match float digits in the exposition by chance).
SECRETS = [
    MOBILE, RESIDENT_ID, RESIDENT_ID.lower(), EMAIL, MASKED_MOBILE, "zhang.wei%40example.com",
    "zhang.wei", urllib.parse.quote(MASKED_MOBILE), b64(MOBILE), b64(RESIDENT_ID), b64(EMAIL),
    "+86 138 0013 8000", "11010519491231", "13800138",
]  # fmt: skip


def send_personal_data(client, up) -> None:
    """Each request gets the answer the default policy fixes for an external destination:
    contacts are masked (200), a resident ID is blocked (403), a masked value is no data."""
    form = urllib.parse.urlencode({"email": EMAIL, "mobile": MOBILE, "shown": MASKED_MOBILE})
    requests = [
        ("json", 200, lambda: post_json(client, up, "/p1", {"phone": MOBILE, "mail": EMAIL})),
        ("id", 403, lambda: post_json(client, up, "/p2", {"id_no": RESIDENT_ID})),
        ("form", 200, lambda: post_raw(client, up, "/p3", form.encode(),
                                       **{"content-type": "application/x-www-form-urlencoded"})),
        ("query", 200,
         lambda: client.get(up.url(f"/p4?mobile={MOBILE}&email={urllib.parse.quote(EMAIL)}"))),
        ("base64", 200,
         lambda: post_json(client, up, "/p5", {"blob": b64(f"手机 {MOBILE} 邮箱 {EMAIL}")})),
        ("masked", 200, lambda: post_json(client, up, "/p6", {"note": f"已脱敏 {MASKED_MOBILE}"})),
        ("text", 403, lambda: post_raw(client, up, "/p7", f"身份证 {RESIDENT_ID} 电话 +86 138 0013 8000"
                                       .encode(), **{"content-type": "text/plain; charset=utf-8"})),
    ]  # fmt: skip
    got = {what: send().status_code for what, _, send in requests}
    assert got == {what: status for what, status, _ in requests}


@pytest.mark.parametrize("accept", ["", "application/openmetrics-text; version=1.0.0"])
def test_no_personal_data_on_metrics(proxy, prom, traffic, client, https_up, accept):
    before = scrape(proxy)
    send_personal_data(client, https_up)
    after = scrape(proxy)
    # The data was seen (or this test proves nothing): each kind was detected.
    for entity in ("PHONE_NUMBER", "CN_RESIDENT_ID", "EMAIL_ADDRESS"):
        assert total(after, "baomi_detections_total", entity=entity) > total(
            before, "baomi_detections_total", entity=entity
        ), entity
    exposition = httpx.get(metrics_url(proxy), headers={"Accept": accept}).text
    readyz = httpx.get(metrics_url(proxy, "/readyz")).text
    for secret in SECRETS:
        assert secret not in exposition, f"/metrics shows {secret[:3]}…"
        assert secret not in readyz, f"/readyz shows {secret[:3]}…"


def test_no_personal_data_in_stored_label_values(prom, traffic, client, https_up, proxy):
    send_personal_data(client, https_up)
    requests = total(scrape(proxy), "baomi_requests_total")
    prom.wait_for(f'sum(baomi_requests_total{{job="baomi"}}) >= {requests}')
    values = []
    for name in httpx.get(f"{prom.url}/api/v1/labels", timeout=10).json()["data"]:
        values += httpx.get(f"{prom.url}/api/v1/label/{name}/values", timeout=10).json()["data"]
    assert "block-ids-and-cards" in values  # a label we expect is there
    stored = "\n".join(values)
    for secret in SECRETS:
        assert secret not in stored, f"Prometheus stored a label with {secret[:3]}…"
