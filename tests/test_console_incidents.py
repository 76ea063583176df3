"""The incident pages over HTTP (Flask test client): filters, sort, pages, counts, triage one
and in bulk (log frames as the CLI writes them; verify passes), the reveal endpoint, and no
raw value in any page."""

from __future__ import annotations

import base64
import json
import re

import pytest
from console_support import RAW_VALUES, console_app, csrf, login, seeded_dir
from incidents_cli import RAW_ID, RAW_PHONE, run

from proxy.console import queue
from proxy.record.incidents import envelope, review
from proxy.record.incidents.keys import load_private_keys
from proxy.record.incidents.log import entries, incidents_dir


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return seeded_dir(tmp_path_factory.mktemp("console-incidents"))


@pytest.fixture(scope="module")
def client(data):
    app, _ = console_app(data[0])
    c = app.test_client()
    login(c, "rita")
    return c


def listed(client, query: str = "") -> list[str]:
    page = client.get(f"/incidents{query}").get_data(as_text=True)
    return re.findall(r'class="incident-row" data-id="([^"]+)"', page)


def frames(data_dir, kind: str) -> list[dict]:
    return [e.data for e in entries(incidents_dir(data_dir)) if e.kind == kind]


@pytest.mark.parametrize(("query", "expected"), [
    ("", [5, 4, 3, 2, 1, 0]),
    ("?sort=oldest", [0, 1, 2, 3, 4, 5]),
    ("?user=ALICE&sort=oldest", [0, 1, 2]),
    ("?action=mask&sort=oldest", [3, 4]),
    ("?rule=watch", [5]),
    ("?destination=files.example.net", [2]),
    ("?group=Payroll", [5]),
    ("?entity=PHONE_NUMBER&sort=oldest", [0, 1, 3, 4, 5]),
    ("?since=2026-12-02&until=2026-12-03&sort=oldest", [1, 2]),
    ("?since=2026-12-02T09:00&sort=oldest", [2, 3, 4, 5]),
    ("?severity=medium&sort=oldest", [3, 4]),
    ("?severity=low", [5]),
    ("?entity=x%27)%20OR%201=1--&sort=oldest", [0, 1, 2, 3, 4, 5]),  # malformed: dropped
    ("?until=2026-02-30T25:99&sort=oldest", [0, 1, 2, 3, 4, 5]),  # no such time: dropped
    ("?since=2026-13-45&sort=oldest", [0, 1, 2, 3, 4, 5]),
    ("?since=2026-12-02T24:00&until=2026-12-03&sort=oldest", [0, 1, 2]),  # only the bad one
])
def test_filters_and_sort(data, query, expected):
    app, _ = console_app(data[0])  # a fresh, untriaged view: other tests triage
    c = app.test_client()
    login(c, "rita")
    ids = data[2]
    assert listed(c, query) == [ids[i] for i in expected]


def test_status_filter_and_counts(tmp_path):
    data_dir, _, ids = seeded_dir(tmp_path)
    app, _ = console_app(data_dir)
    c = app.test_client()
    login(c, "rita")
    c.post(f"/incidents/{ids[0]}/triage", data={"new_status": "resolved",
                                                "csrf_token": csrf(c, "/incidents")})
    assert listed(c, "?status=resolved") == [ids[0]]
    page = c.get("/incidents?user=alice").get_data(as_text=True)
    assert '<p id="total">3 matching incident(s)</p>' in page
    assert 'data-status="new">New: 2</span>' in page
    assert 'data-status="resolved">Resolved: 1</span>' in page
    assert 'data-severity="high">High: 3</span>' in page


def test_pagination(client, data, monkeypatch):
    monkeypatch.setattr(queue, "PAGE_SIZE", 4)
    ids = data[2]
    assert listed(client, "?sort=oldest") == ids[:4]
    assert listed(client, "?sort=oldest&page=2") == ids[4:]
    page = client.get("/incidents?sort=oldest&page=2&user=").get_data(as_text=True)
    assert "Page 2 of 2" in page and 'id="prev" href="/incidents?sort=oldest&amp;page=1"' in page
    assert listed(client, "?sort=oldest&page=99") == ids[4:]  # past the end: the last page


def test_triage_one_is_a_log_frame_like_the_cli(tmp_path):
    data_dir, key, ids = seeded_dir(tmp_path)
    app, _ = console_app(data_dir)
    c = app.test_client()
    login(c, "rita")
    response = c.post(f"/incidents/{ids[2]}/triage", data={
        "new_status": "duplicate", "new_severity": "low", "new_assignee": "sam",
        "new_note": "same upload as yesterday", "csrf_token": csrf(c, "/incidents")})
    assert (response.status_code, response.headers["Location"]) == (302, f"/incidents/{ids[2]}")
    assert frames(data_dir, "triage") == [{
        "incident": ids[2], "who": "console:rita", "status": "duplicate", "assignee": "sam",
        "note": "same upload as yesterday", "severity": "low"}]
    shown = json.loads(run("incidents", "show", ids[2], "--data-dir", str(data_dir),
                           "--json").out)
    assert (shown["status"], shown["severity"], shown["assignee"]) == ("duplicate", "low", "sam")
    assert run("incidents", "verify", "--data-dir", str(data_dir), "--key", str(key)).code == 0


@pytest.mark.parametrize("form", [{"new_status": "bogus"}, {"new_status": "new",
                                                              "new_severity": "extreme"}])
def test_triage_refuses_unknown_values(client, data, form):
    response = client.post(f"/incidents/{data[2][0]}/triage",
                           data={**form, "csrf_token": csrf(client, "/incidents")})
    assert response.status_code == 400


def test_triage_of_unknown_incident_is_404(client):
    response = client.post("/incidents/0123abc/triage",
                           data={"new_status": "new", "csrf_token": csrf(client, "/incidents")})
    assert response.status_code == 404


def test_bulk_confirms_the_count_before_changing_anything(tmp_path):
    data_dir, key, ids = seeded_dir(tmp_path)
    app, _ = console_app(data_dir)
    c = app.test_client()
    login(c, "rita")
    token = csrf(c, "/incidents")
    form = {"user": "alice", "action": "block", "new_status": "triaged", "new_assignee": "sam",
            "csrf_token": token}
    ask = c.post("/incidents/bulk", data=form)
    assert ask.status_code == 200
    assert 'data-count="3"' in ask.get_data(as_text=True)
    assert frames(data_dir, "triage") == []  # nothing changed yet
    selection = confirmation(ask)
    assert selection.startswith("3:")
    for wrong in ("3", "2:" + selection[2:], "3:" + "0" * 32):  # count alone, or another set
        stale = c.post("/incidents/bulk", data={**form, "confirm": wrong})
        assert "The filtered set changed (now 3)" in stale.get_data(as_text=True)
    assert frames(data_dir, "triage") == []
    done = c.post("/incidents/bulk", data={**form, "confirm": selection})
    assert done.status_code == 302
    assert [(f["incident"], f["status"], f["who"]) for f in frames(data_dir, "triage")] == [
        (i, "triaged", "console:rita") for i in ids[:3]]
    assert listed(c, "?status=triaged&sort=oldest") == ids[:3]
    assert run("incidents", "verify", "--data-dir", str(data_dir), "--key", str(key)).code == 0


def confirmation(page) -> str:
    return re.search(r'name="confirm" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def test_bulk_confirmation_is_bound_to_the_incidents_not_only_their_count(tmp_path):
    data_dir, _, ids = seeded_dir(tmp_path)
    for i in (0, 3):
        review.triage(data_dir, ids[i], "triaged", actor="sam")
    app, _ = console_app(data_dir)
    c = app.test_client()
    login(c, "rita")
    form = {"status": "triaged", "new_status": "resolved", "csrf_token": csrf(c, "/incidents")}
    ask = c.post("/incidents/bulk", data=form)
    assert 'data-count="2"' in ask.get_data(as_text=True)
    review.triage(data_dir, ids[0], "escalated", actor="sam")  # meanwhile: one leaves the set,
    review.triage(data_dir, ids[4], "triaged", actor="sam")    # another comes in: still two
    stale = c.post("/incidents/bulk", data={**form, "confirm": confirmation(ask)})
    assert "The filtered set changed (now 2)" in stale.get_data(as_text=True)
    assert [f["status"] for f in frames(data_dir, "triage")] == [
        "triaged", "triaged", "escalated", "triaged"]  # nothing resolved
    done = c.post("/incidents/bulk", data={**form, "confirm": confirmation(stale)})
    assert done.status_code == 302
    assert listed(c, "?status=resolved&sort=oldest") == [ids[3], ids[4]]


def test_reveal_writes_the_access_first_and_returns_only_sealed_bytes(tmp_path):
    data_dir, key, ids = seeded_dir(tmp_path)
    app, _ = console_app(data_dir)
    c = app.test_client()
    login(c, "rita")
    token = csrf(c, f"/incidents/{ids[0]}")
    empty = c.post(f"/incidents/{ids[0]}/reveal", data={"reason": " "},
                   headers={"X-CSRF-Token": token})
    assert empty.status_code == 400 and frames(data_dir, "access") == []
    response = c.post(f"/incidents/{ids[0]}/reveal", data={"reason": "SEC-7"},
                      headers={"X-CSRF-Token": token})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    for raw in RAW_VALUES:
        assert raw not in body
    assert frames(data_dir, "access") == [
        {"incident": ids[0], "who": "console:rita", "via": "console", "why": "SEC-7"}]
    sealed = response.get_json()
    private = load_private_keys([key])[sealed["key_id"]]
    data_key = envelope.unseal(private, base64.b64decode(sealed["sealed_key"]),
                               base64.b64decode(sealed["info"]))
    evidence = json.loads(envelope.decrypt_evidence(
        data_key, base64.b64decode(sealed["evidence"]), base64.b64decode(sealed["aad"])))
    assert [e["value"] for e in evidence] == [RAW_ID, RAW_PHONE]
    assert run("incidents", "verify", "--data-dir", str(data_dir), "--key", str(key)).code == 0


def test_reveal_needs_the_reviewer_role_and_a_csrf_header(data):
    app, _ = console_app(data[0])
    approver = app.test_client()
    login(approver, "abe")
    refused = approver.post(f"/incidents/{data[2][0]}/reveal", data={"reason": "x"},
                            headers={"X-CSRF-Token": csrf(approver, "/")})
    assert refused.status_code == 403
    reviewer = app.test_client()
    login(reviewer, "rita")
    assert reviewer.post(f"/incidents/{data[2][0]}/reveal",
                         data={"reason": "x"}).status_code == 400


def test_no_raw_value_in_any_page(tmp_path):
    data_dir, _, ids = seeded_dir(tmp_path)
    app, _ = console_app(data_dir)
    c = app.test_client()
    login(c, "rita")
    token = csrf(c, "/incidents")
    c.post(f"/incidents/{ids[0]}/triage", data={"new_status": "escalated", "csrf_token": token})
    c.post(f"/incidents/{ids[0]}/reveal", data={"reason": "audit"},
           headers={"X-CSRF-Token": token})
    pages = ["/", "/login", "/incidents", "/incidents?entity=CN_RESIDENT_ID",
             f"/incidents?user={RAW_ID}", "/incidents/nope", *(f"/incidents/{i}" for i in ids)]
    seen = []
    for lang in ("en", "zh"):
        for path in pages:
            seen.append(c.get(path, headers={"Accept-Language": lang}).get_data(as_text=True))
        seen.append(c.post("/incidents/bulk", data={"new_status": "triaged",
                                                    "csrf_token": token}).get_data(as_text=True))
    # the one place a raw value was typed (a filter) is echoed in its form field only
    for page in seen:
        for raw in RAW_VALUES:
            assert page.count(raw) <= page.count(f'value="{raw}"'), raw
    assert any("CN_RESIDENT_ID" in p for p in seen)  # the pages did render incident data


def test_cli_accepts_the_same_statuses_and_severity(tmp_path):
    data_dir, _, ids = seeded_dir(tmp_path)
    d = str(data_dir)
    for status in ("triaged", "escalated", "duplicate", "confirmed"):
        assert run("incidents", "triage", ids[0], "--data-dir", d, "--status", status).code == 0
    done = run("incidents", "triage", ids[1], "--data-dir", d, "--status", "escalated",
               "--severity", "critical")
    assert done.code == 0
    shown = json.loads(run("incidents", "show", ids[1], "--data-dir", d, "--json").out)
    assert (shown["status"], shown["severity"]) == ("escalated", "critical")
    listed_ids = [json.loads(line)["id"] for line in
                  run("incidents", "list", "--data-dir", d, "--status", "confirmed",
                      "--json").out.splitlines()]
    assert listed_ids == [ids[0]]
    with pytest.raises(SystemExit) as refused:  # argparse's choices: usage error, exit 2
        run("incidents", "triage", ids[1], "--data-dir", d, "--status", "bogus")
    assert refused.value.code == 2


def test_an_index_from_before_severity_is_rebuilt(tmp_path):
    import sqlite3

    from proxy.record.incidents.index import ReviewIndex

    data_dir, _, ids = seeded_dir(tmp_path)
    path = data_dir / "incidents" / "index.sqlite"
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)  # the first release's incidents table: no severity column
    db.execute("CREATE TABLE incidents (id TEXT PRIMARY KEY, seq INTEGER, file INTEGER, "
               "offset INTEGER, time TEXT, action TEXT, rule TEXT, host TEXT, status TEXT NOT "
               "NULL DEFAULT 'new', assignee TEXT, period TEXT, meta TEXT NOT NULL)")
    db.execute("CREATE TABLE watermark (one INTEGER PRIMARY KEY CHECK (one = 1), file INTEGER,"
               " offset INTEGER, seq INTEGER)")
    db.commit()
    db.close()
    index = ReviewIndex.open(data_dir)
    try:
        assert [index.incident(i)["severity"] for i in ids] == [
            "high", "high", "high", "medium", "medium", "low"]
    finally:
        index.close()
