"""`baomi scan` and the proxy decide alike: the same HAR through both, request by request.

Both go through ``proxy.pipeline.process`` (inspection, the strictest of every destination
name, content rules); this test holds them to it on real requests: each HAR entry is sent
through the real `baomi run` to a recording upstream, and the decision it recorded is
compared with what `baomi scan --json` says of the same entry.
"""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import time

import httpx
import pytest
from harness import BAOMI, REPO, BaomiProcess

pytestmark = pytest.mark.e2e

MOBILE = "13800138000"
RESIDENT_ID = "11010519491231002X"
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBA"
                       "QDJ/pLvAAAAAElFTkSuQmCC")
CSV = "name,mobile\n" + "".join(f"客户{i},1380013{8000 + i}\n" for i in range(8))


def entries(https: str, http: str) -> list[tuple[str, str, dict, bytes]]:
    """(method, url, headers, body): clean, masked, blocked, bulk, uninspectable, plain HTTP.

    The paths are route words: the record of a request nothing inspected (``gz``) keeps only
    those (proxy/record/routewords.py), and the test finds each record by its path.
    """
    js = {"content-type": "application/json"}
    return [
        ("POST", f"{https}/api/clean", js, json.dumps({"order": "SO-1", "qty": 2}).encode()),
        ("POST", f"{https}/api/phone", js,
         json.dumps({"note": f"call the customer at {MOBILE} tomorrow"}).encode()),
        ("POST", f"{https}/api/id", js, json.dumps({"id_no": RESIDENT_ID}).encode()),
        ("GET", f"{https}/api/query?id={RESIDENT_ID}", {}, b""),
        ("POST", f"{https}/api/form", {"content-type": "application/x-www-form-urlencoded"},
         b"name=x&email=zhang.wei%40example.com"),
        ("POST", f"{https}/api/bulk", {"content-type": "text/csv"}, CSV.encode()),
        ("POST", f"{https}/api/gz", {"content-type": "text/plain", "content-encoding": "gzip"},
         b"\x1f\x8bnot gzip at all"),
        ("POST", f"{https}/api/png", {"content-type": "image/png"}, PNG),
        ("POST", f"{http}/api/plain", js, json.dumps({"phone": MOBILE}).encode()),
    ]


def har(reqs) -> dict:
    def entry(method, url, headers, body):
        request = {"method": method, "url": url,
                   "headers": [{"name": k, "value": v} for k, v in headers.items()]}
        if body:
            request["postData"] = {"mimeType": headers.get("content-type", ""),
                                   "encoding": "base64", "text": base64.b64encode(body).decode()}
        return {"request": request}
    return {"log": {"version": "1.2", "entries": [entry(*r) for r in reqs]}}


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, upstream_ca):
    data = tmp_path_factory.mktemp("agree")
    with BaomiProcess(REPO / "policies" / "default.yaml", data / "var",
                      upstream_ca=upstream_ca.pem) as px:
        yield px


def test_scan_and_proxy_decide_the_same_har_alike(proxy, https_up, http_up, tmp_path):
    reqs = entries(https_up.url("").rstrip("/"), http_up.url("").rstrip("/"))
    path = tmp_path / "capture.har"
    path.write_text(json.dumps(har(reqs)))

    verify = ssl.create_default_context(cafile=proxy.ca_pem)
    with httpx.Client(proxy=proxy.url, verify=verify, timeout=60) as client:
        for method, url, headers, body in reqs:
            client.request(method, url, headers=headers, content=body)
    by_path: dict[str, dict] = {}
    deadline = time.monotonic() + 20
    while len(by_path) < len(reqs) and time.monotonic() < deadline:
        lines = (proxy.data_dir / "decisions.jsonl").read_text().splitlines()
        by_path = {r["path"]: r for r in map(json.loads, lines)
                   if r["path"].startswith("/api/") and r["outcome"] is None}
        time.sleep(0.2)
    proxied = [(by_path[httpx.URL(url).path]["action"], by_path[httpx.URL(url).path]["rule"])
               for _, url, _, _ in reqs]

    out = subprocess.run([BAOMI, "scan", "--json", "--policy",
                          str(REPO / "policies" / "default.yaml"), str(path)],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    scanned = [(r["decision"]["action"], r["decision"]["rule"])
               for r in map(json.loads, out.stdout.splitlines())]

    assert scanned == proxied
    # and the entries do cover every kind of outcome, so agreement means something
    assert {action for action, _ in proxied} == {"allow", "mask", "block"}
    assert len({rule for _, rule in proxied}) >= 5
