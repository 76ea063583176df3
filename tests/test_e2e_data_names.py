"""End to end: personal data sent as a NAME (a form field's, a query parameter's, a header's,
an uploaded file's) through the real `baomi run` under the default policy is inspected like
a value: a resident ID is blocked with nothing reaching the upstream, a phone is masked in
what the upstream receives, and no record holds the raw value (decisions.jsonl, the incident
store as the reviewer CLI lists it, any file of the data dir in any encoding).
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from document_samples import multipart
from test_e2e_incidents import incidents, raw_values_at_rest

pytestmark = pytest.mark.e2e

RESIDENT_ID = "11010519491231002X"  # the values test_e2e_incidents' leak search looks for
MOBILE = "13800138000"
FORM = {"content-type": "application/x-www-form-urlencoded"}


def upload(filename: str) -> dict:
    body, content_type = multipart({"file": (filename, b"quarterly notes")})
    return {"content": body, "headers": {"content-type": content_type}}


# (id, method, path and query, request kwargs, the finding's location; * any place)
BLOCKED = [
    ("form-field-name", "POST", "/api", {"content": f"{RESIDENT_ID}=1&note=hi", "headers": FORM},
     "form:{0}"),
    ("query-name", "GET", f"/api?page=2&{RESIDENT_ID}=1", {}, "query:{1}"),
    ("query-name-no-value", "GET", f"/api?{RESIDENT_ID}=", {}, "query:{0}"),
    ("form-name-percent-encoded", "POST", "/api",
     {"content": "note=hi&" + quote(f"id {RESIDENT_ID}") + "=1", "headers": FORM}, "form:{1}"),
    ("header-name", "GET", "/api", {"headers": {f"x-{RESIDENT_ID}": "1"}}, "header:{*}"),
    ("file-name", "POST", "/upload", upload(f"{RESIDENT_ID}.txt"), "multipart:{0}.txt"),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "location"),
                         [pytest.param(*case[1:], id=case[0]) for case in BLOCKED])
def test_a_resident_id_as_a_name_is_blocked_and_never_arrives(default_client, https_up,
                                                              default_proxy, method, path,
                                                              kwargs, location):
    before = len(https_up.received)
    r = default_client.request(method, https_up.url(path), **kwargs)
    assert r.status_code == 403, r.text
    assert len(https_up.received) == before
    record = default_proxy.last_decision()
    assert record["action"] == "block" and record["rule"] == "block-ids-and-cards", record
    assert record["entity_counts"].get("CN_RESIDENT_ID") == 1, record
    assert RESIDENT_ID not in r.text and RESIDENT_ID not in json.dumps(record)
    assert re.fullmatch(re.escape(location).replace(r"\*", r"\d+"), *record["locations"]), record
    row = incidents(default_proxy.data_dir)[r.headers["x-baomi-incident"]]
    assert RESIDENT_ID not in json.dumps(row)


def test_a_phone_named_field_is_masked_in_what_the_upstream_receives(default_client, https_up,
                                                                     default_proxy):
    before = len(https_up.received)
    r = default_client.post(https_up.url("/api"), content=f"tel_{MOBILE}=1&note=hi",
                            headers=FORM)
    assert r.status_code == 200, r.text
    assert len(https_up.received) == before + 1
    assert https_up.received[-1].body == b"tel_138********=1&note=hi"
    record = default_proxy.last_decision()
    assert record["action"] == "mask" and record["entity_counts"] == {"PHONE_NUMBER": 1}
    assert record["locations"] == ["form:{0}"]
    assert MOBILE not in json.dumps(record)


def test_a_phone_named_query_parameter_is_masked_in_the_url(default_client, https_up):
    r = default_client.get(https_up.url(f"/api?mobile_{MOBILE}=1&page=2"))
    assert r.status_code == 200, r.text
    assert https_up.received[-1].path == "/api?mobile_138********=1&page=2"


def test_no_record_holds_a_raw_value(default_client, https_up, default_proxy):
    """Last in the module: after every request above, nothing the proxy wrote holds the ID or
    the phone in any encoding (the incident store's leak search, test_e2e_incidents)."""
    lines = (default_proxy.data_dir / "decisions.jsonl").read_text().splitlines()
    assert len(lines) >= len(BLOCKED) + 2
    assert raw_values_at_rest(default_proxy.data_dir) == []
