"""End to end: a record of a request nothing inspected keeps no name from its URL or host.

Through the real `baomi run`: a body over ``max_body_bytes`` is refused before inspection
(``uninspected: oversize``) and recorded with its path and host in clear fields. The rule
(proxy/record/unseen.py, routewords.py): a path segment or host label is withheld when the
detector's selector finds something in it, when it is not ASCII, or when a word of it is a
name word (census given names and surnames, Chinese surnames in pinyin); a host keeps its
last two labels. One test per class of value, and the leak search: no raw value (as
sent, percent-encoded or lower-cased) in any file under the data directory.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import yaml
from harness import REPO, BaomiProcess

from proxy.record.unseen import SEGMENT_WITHHELD

pytestmark = pytest.mark.e2e

W = SEGMENT_WITHHELD
LIMIT = 1024
RESIDENT_ID = "11010519491231002X"


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    data = yaml.safe_load((REPO / "policies" / "default.yaml").read_text())
    data["limits"]["max_body_bytes"] = LIMIT
    policy = tmp_path_factory.mktemp("unseen-policy") / "policy.yaml"
    policy.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    with BaomiProcess(policy, tmp_path_factory.mktemp("unseen-data")) as px:
        yield px


def leaked(data_dir: Path, raw: str) -> list[str]:
    """Files under ``data_dir`` holding ``raw`` as sent, percent-encoded or lower-cased."""
    forms = {raw.encode(), quote(raw).encode(), raw.lower().encode()}
    return [str(p) for p in data_dir.rglob("*") if p.is_file()
            and any(form in p.read_bytes() for form in forms)]


def record_of(px: BaomiProcess, **fields) -> dict:
    found = [r for r in px.decisions() if fields.items() <= r.items()]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("raw,path,kept", [
    ("张伟", "/customers/{}/orders", f"/customers/{W}/orders"),  # a Chinese name alone
    ("zhang.wei.1985", "/u/{}", f"/u/{W}"),  # a pinyin user name
    ("alice-walker", "/api/users/{}/notes", f"/api/users/{W}/notes"),  # an English name
    ("13912345678", "/orders/{}/items", f"/orders/{W}/items"),  # a phone: the selector's
])
def test_an_oversize_requests_path_keeps_only_route_words(proxy, http_up, raw, path, kept):
    n = len(http_up.received)
    r = httpx.post(http_up.url(path.format(quote(raw))), content=b"x" * (LIMIT * 2),
                   proxy=proxy.url, timeout=30)
    assert r.status_code == 403
    assert len(http_up.received) == n  # nothing went upstream
    record = record_of(proxy, path=kept, uninspected="oversize")
    assert (record["action"], record["host"]) == ("block", "127.0.0.1")
    assert leaked(proxy.data_dir, raw) == []


def test_an_oversize_requests_host_keeps_only_its_destination(proxy, http_up):
    """A name and an ID as subdomains of an absolute URL's host (a failed CONNECT's host
    goes through the same rule: tests/test_uninspected_path.py, through the addon)."""
    host = f"zhangwei.{RESIDENT_ID.lower()}.api.example.com"
    r = httpx.post(f"http://{host}/orders", content=b"x" * (LIMIT * 2), proxy=proxy.url,
                   timeout=30)
    assert r.status_code == 403
    record = record_of(proxy, method="POST", path="/orders", uninspected="oversize")
    assert record["host"] == f"{W}.{W}.api.example.com"
    for raw in ("zhangwei", RESIDENT_ID):
        assert leaked(proxy.data_dir, raw) == []
