"""The console's transfer applications over HTTP (Flask test client, real data dir and log):
the one-time link, filing, the approver's queue, approve / reject / revoke, roles and CSRF."""

from __future__ import annotations

import re

import pytest
from console_support import PASSWORD, RAW_VALUES, console_app, csrf, login, seeded_dir
from harness import REPO

from proxy.console.users import Users
from proxy.record.approvals import ApprovalStore
from proxy.record.approvals.links import ensure_link_key, link_token
from proxy.record.incidents.verify import verify

CLIENT = {"REMOTE_ADDR": "10.0.0.5"}  # the seeded incidents' client address
FORM = {"purpose": "quarterly payroll", "recipient": "ACME HR", "method": "HTTPS upload",
        "agreement": "NDA-2026-7", "days": "30", "max_records": "5"}


@pytest.fixture
def world(tmp_path):
    data_dir, _, ids = seeded_dir(tmp_path)
    Users(data_dir).add("alice", ["approver"], PASSWORD)  # also the seeded incidents' sender
    key = ensure_link_key(data_dir)
    app, _ = console_app(data_dir)
    return data_dir, key, ids, app


def link(key: bytes, incident: str) -> str:
    return f"/applications/new?incident={incident}&token={link_token(key, incident, '10.0.0.5')}"


def requester(app, environ: dict = CLIENT):
    client = app.test_client()
    client.environ_base.update(environ)  # the browser's address the console sees
    return client


def file_application(app, key, incident) -> str:
    client = requester(app)
    page = link(key, incident)
    response = client.post("/applications/new", data={
        **FORM, "incident": incident, "token": page.rsplit("=", 1)[1],
        "csrf_token": csrf(client, page)})
    assert response.status_code == 200, response.get_data(as_text=True)
    return re.search(r"(app-\d{8}-[0-9a-f]{8})", response.get_data(as_text=True)).group(1)


def as_user(app, name: str):
    client = app.test_client()
    assert login(client, name).status_code == 302
    return client


def test_link_opens_a_prefilled_form_with_no_value(world):
    _, key, ids, app = world
    response = requester(app).get(link(key, ids[0]))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r'id="host">api\.example\.com<', page)
    assert re.search(r'id="requester">alice<', page)
    assert "resident ID number (CN_RESIDENT_ID), mobile or landline phone number" in page
    assert not any(value in page for value in RAW_VALUES)


@pytest.mark.parametrize(("which", "environ"), [
    ("token of another incident", CLIENT),
    ("another computer", {"REMOTE_ADDR": "10.0.0.9"}),
])
def test_link_refused_elsewhere(world, which, environ):
    _, key, ids, app = world
    url = link(key, ids[0])
    if which == "token of another incident":
        url = url.replace(ids[0], ids[1], 1)
    response = requester(app, environ).get(url)
    assert response.status_code == 403
    assert "This application link is not valid here" in response.get_data(as_text=True)


def test_filing_needs_csrf_and_works_once(world):
    data_dir, key, ids, app = world
    client = requester(app)
    page = link(key, ids[0])
    client.get(page)
    token = page.rsplit("=", 1)[1]
    refused = client.post("/applications/new", data={**FORM, "incident": ids[0], "token": token})
    assert refused.status_code == 400
    assert ApprovalStore(data_dir).state().applications == {}
    app_id = file_application(app, key, ids[0])
    filed = ApprovalStore(data_dir).state().applications[app_id]
    assert (filed.requester, filed.host, filed.max_records, filed.purpose) == (
        "alice", "api.example.com", 5, "quarterly payroll")
    used = client.get(page)
    assert used.status_code == 409
    assert f"application {app_id} was already filed" in used.get_data(as_text=True)
    again = client.post("/applications/new", data={**FORM, "incident": ids[0], "token": token,
                                                   "csrf_token": csrf(client, "/login")})
    assert again.status_code == 409
    assert "already filed" in again.get_data(as_text=True)


@pytest.mark.parametrize(("field", "typed"), [
    ("recipient", "ACME HR, 11010519491231002X"),
    ("purpose", "call 13800138000 about payroll"),
    ("agreement", "NDA for customer 11010519491231002X"),
    ("method", "courier to 浙江省杭州市西湖区文三路100号"),
])
def test_personal_data_typed_into_an_application_is_refused(world, field, typed):
    data_dir, key, ids, app = world
    client = requester(app)
    page = link(key, ids[0])
    response = client.post("/applications/new", data={
        **FORM, field: typed, "incident": ids[0], "token": page.rsplit("=", 1)[1],
        "csrf_token": csrf(client, page)})
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f"{field} looks like it holds personal data" in text
    assert "11010519491231002X" not in text and "13800138000" not in text
    assert ApprovalStore(data_dir).state().applications == {}
    assert file_application(app, key, ids[0])  # the same link, without the value: filed


def test_only_an_approver_decides_and_never_their_own(world):
    data_dir, key, ids, app = world
    app_id = file_application(app, key, ids[0])
    rita = as_user(app, "rita")  # reviewer
    assert rita.get("/applications").status_code == 403
    denied = rita.post(f"/applications/{app_id}/approve", data={"csrf_token": csrf(rita, "/")})
    assert denied.status_code == 403
    alice = as_user(app, "alice")  # an approver, and the requester
    own = alice.post(f"/applications/{app_id}/approve", data={
        "entities": ["CN_RESIDENT_ID"], "csrf_token": csrf(alice, "/")})
    assert own.status_code == 403
    assert "another approver must decide it" in own.get_data(as_text=True)
    assert ApprovalStore(data_dir).state().applications[app_id].status == "pending"


def test_approver_approves_narrower_then_revokes(world):
    data_dir, key, ids, app = world
    app_id = file_application(app, key, ids[0])
    abe = as_user(app, "abe")
    assert 'id="nav-applications"' in abe.get("/").get_data(as_text=True)  # every page
    assert 'id="nav-applications"' not in as_user(app, "rita").get("/").get_data(as_text=True)
    queue = abe.get("/applications").get_data(as_text=True)
    assert app_id in queue and "quarterly payroll" in queue
    detail = abe.get(f"/applications/{app_id}").get_data(as_text=True)
    assert 'id="approve-form"' in detail and not any(v in detail for v in RAW_VALUES)
    no_csrf = abe.post(f"/applications/{app_id}/approve", data={"entities": ["CN_RESIDENT_ID"]})
    assert no_csrf.status_code == 400
    wider = abe.post(f"/applications/{app_id}/approve", data={
        "entities": ["CN_RESIDENT_ID"], "max_records": "6", "csrf_token": csrf(abe, "/")})
    assert wider.status_code == 409
    done = abe.post(f"/applications/{app_id}/approve", data={
        "entities": ["CN_RESIDENT_ID"], "days": "7", "max_records": "2",
        "csrf_token": csrf(abe, "/")})
    assert (done.status_code, done.headers["Location"]) == (302, "/applications/approvals")
    approval = ApprovalStore(data_dir).state().approvals[app_id]
    assert (approval.entities, approval.max_records, approval.approver) == (
        ("CN_RESIDENT_ID",), 2, "abe")
    listing = abe.get("/applications/approvals").get_data(as_text=True)
    assert re.search(rf'id="approval-{app_id}">.*?class="status">Active<', listing, re.S)

    assert abe.post(f"/applications/approvals/{app_id}/revoke", data={}).status_code == 400
    revoked = abe.post(f"/applications/approvals/{app_id}/revoke", data={
        "reason": "contract ended", "csrf_token": csrf(abe, "/")})
    assert revoked.status_code == 302
    state = ApprovalStore(data_dir).state().approvals[app_id]
    assert (state.revoked_by, state.revoke_reason) == ("abe", "contract ended")
    listing = abe.get("/applications/approvals").get_data(as_text=True)
    assert re.search(rf'id="approval-{app_id}">.*?class="status">Revoked<', listing, re.S)
    assert verify(data_dir).ok


def test_reject_with_a_reason(world):
    data_dir, key, ids, app = world
    app_id = file_application(app, key, ids[0])
    abe = as_user(app, "abe")
    done = abe.post(f"/applications/{app_id}/reject", data={
        "reason": "no agreement on file", "csrf_token": csrf(abe, "/")})
    assert done.status_code == 302
    rejected = ApprovalStore(data_dir).state().applications[app_id]
    assert (rejected.status, rejected.decision_reason) == ("rejected", "no agreement on file")
    assert ApprovalStore(data_dir).state().approvals == {}


def test_pages_speak_chinese(world):
    _, key, ids, app = world
    page = requester(app).get(link(key, ids[0]), headers={"Accept-Language": "zh-CN"})
    text = page.get_data(as_text=True)
    assert "数据传输申请" in text and "居民身份证号" in text


def test_approvals_page_lists_the_policy_approvals_when_given_the_policy(world, tmp_path):
    data_dir, _, _, _ = world
    policy = tmp_path / "p.yaml"
    text = (REPO / "policies" / "default.yaml").read_text()
    policy.write_text(text.replace("destinations: {}", "destinations:\n  partner:\n"
                                   "    hosts: [api.partner.example]").replace(
        "approvals: []", "approvals:\n  - id: APR-2026-014\n    source: any\n"
        "    destination: partner\n    data: [CN_RESIDENT_ID]\n    purpose: payroll\n"
        "    approver: carol\n    agreement: DPA-1\n    expires: 2020-01-01T00:00:00Z"))
    app, _ = console_app(data_dir, extra={"BAOMI_POLICY": str(policy)})
    page = as_user(app, "abe").get("/applications/approvals").get_data(as_text=True)
    assert re.search(r'id="policy-approval-APR-2026-014">.*?class="status">Expired<', page, re.S)
    plain, _ = console_app(data_dir)  # not given the policy: no such section
    assert "policy-approval" not in as_user(plain, "abe").get(
        "/applications/approvals").get_data(as_text=True)
