"""End to end: customer records and Exact Data Match through the real `baomi run` process.

A JSON export of 6 customers to an outside HTTPS host is blocked with the record count in the
reason; with an EDM index configured, one real customer's phone together with their name is
found as CUSTOMER_RECORD and a rule targeting it blocks, while the same phone with somebody
else's name is only masked.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import yaml
from harness import REPO, BaomiProcess, Upstream, UpstreamCA
from test_e2e_proxy import trust

from detectors.edm import new_key, read_key
from detectors.edm_build import build_index

pytestmark = pytest.mark.e2e

CUSTOMERS = (
    "姓名,手机,邮箱\n张伟,13800138000,zhang.wei@example.com\n李娜,13900139000,li.na@example.com\n"
)


@pytest.fixture(scope="module")
def edm_files(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("edm")
    (root / "keys").mkdir()
    (root / "index").mkdir()
    key, index, csv_path = root / "keys" / "edm.key", root / "index" / "c.edm", root / "c.csv"
    csv_path.write_text(CUSTOMERS, encoding="utf-8")
    new_key(key)
    build_index(csv_path, read_key(key, index), index)
    return index, key


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, edm_files):
    test_ca = UpstreamCA(tmp_path_factory.mktemp("upstream-ca"))
    data = yaml.safe_load((REPO / "policies" / "default.yaml").read_text())
    index, key = edm_files
    data["detection"]["edm"] = {"index": str(index), "key_file": str(key)}
    data["rules"].insert(
        0,
        {
            "name": "block-known-customers",
            "description": "Records of our own customers (exact match) never leave",
            "action": "block",
            "destination": ["external"],
            "data": {"entities": ["CUSTOMER_RECORD"]},
        },
    )
    policy = tmp_path_factory.mktemp("policy") / "policy.yaml"
    policy.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    with (
        Upstream(tls=test_ca) as up,
        BaomiProcess(policy, tmp_path_factory.mktemp("data"), upstream_ca=test_ca.pem) as px,
    ):
        yield px, up


@pytest.fixture
def client(proxy):
    px, _ = proxy
    with httpx.Client(proxy=px.url, verify=trust(px.ca_pem), timeout=30) as c:
        yield c


def test_json_export_of_six_customers_is_blocked_with_the_count(client, proxy):
    px, up = proxy
    people = [{"name": f"客户{i}", "phone": f"1370013{i:04d}", "city": "北京"} for i in range(6)]
    n = len(up.received)
    r = client.post(
        up.url("/export"), json={"customers": people}, headers={"accept": "application/json"}
    )
    assert r.status_code == 403
    assert len(up.received) == n
    page = r.json()
    assert page["rule"] == "block-bulk-contacts" and page["customer_records"] == 6
    assert "6 customer records (" in page["reason"] and "PHONE_NUMBER" in page["reason"]
    record = px.last_decision()
    assert (record["action"], record["rule"], record["records"]) == (
        "block",
        "block-bulk-contacts",
        6,
    )
    assert "13700130000" not in json.dumps(record, ensure_ascii=False)


def test_four_customers_are_masked_not_blocked(client, proxy):
    px, up = proxy
    people = [{"name": f"客户{i}", "phone": f"1370013{i:04d}"} for i in range(4)]
    r = client.post(up.url("/export"), json={"customers": people})
    assert r.status_code == 200
    assert b"13700130000" not in up.received[-1].body
    assert px.last_decision()["records"] == 4


def test_real_customer_phone_and_name_is_a_customer_record(client, proxy):
    px, up = proxy
    n = len(up.received)
    r = client.post(
        up.url("/crm/notes"),
        content="张伟,13800138000\n".encode(),
        headers={"content-type": "text/csv; charset=utf-8"},
    )
    assert r.status_code == 403
    assert len(up.received) == n
    record = px.last_decision()
    assert record["rule"] == "block-known-customers"
    assert record["entity_counts"].get("CUSTOMER_RECORD") == 1


def test_real_phone_with_another_name_is_not(client, proxy):
    px, up = proxy
    r = client.post(up.url("/crm/notes"), json={"contact": "王芳", "phone": "13800138000"})
    assert r.status_code == 200
    record = px.last_decision()
    assert record["rule"] == "mask-contacts-external"
    assert "CUSTOMER_RECORD" not in record["entity_counts"]
    assert b"13800138000" not in up.received[-1].body
