"""The approval store (log frames + state.json), the merge into the policy, application links.

Real files in tmp dirs: a data dir with keys, incidents written by the proxy's IncidentStore.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from detectors.model import Finding
from policies.decide import decide
from policies.facts import RequestFacts
from policies.load import load_policy
from policies.model import Rule
from proxy.errors import ApplicationError
from proxy.record.approvals import ApprovalStore, read_state, state_path
from proxy.record.approvals.links import application_link, check_link, ensure_link_key, link_token
from proxy.record.approvals.merge import collisions, merged
from proxy.record.decisions import DecisionRecord
from proxy.record.incidents import IncidentStore, ensure_keys
from proxy.record.incidents.index import ReviewIndex
from proxy.record.incidents.log import entries, incidents_dir
from proxy.record.incidents.verify import verify

REPO = Path(__file__).resolve().parent.parent
NOW = datetime.now(UTC)
HOST = "api.partner.example"
RESIDENT_ID = "11010519491231002X"  # a synthetic, valid-format test ID


def incident(data_dir: Path, *, user: str | None = None, source: str = "10.0.0.5",
             counts: dict[str, int] | None = None, records: int = 3, host: str = HOST) -> str:
    record = DecisionRecord(
        time=NOW.isoformat().replace("+00:00", "Z"), incident_id=f"BM-test-{source}-{user}",
        source=source, user=user, scheme="https", host=host, port=443, method="POST",
        path="/upload", mode="regular", action="block", rule="block-ids-and-cards",
        enforced=True, would_be=None, reason="ids", entity_counts=counts or {"CN_RESIDENT_ID": 3},
        masked=[], locations=["json:$.id"], policy_hash="sha256:x", records=records,
        evidence=({"entity": "CN_RESIDENT_ID", "value": RESIDENT_ID},))
    store = IncidentStore(data_dir)
    try:
        store.write(record)
    finally:
        store.close()
    return record.incident_id


@pytest.fixture
def data_dir(tmp_path) -> Path:
    ensure_keys(tmp_path)
    return tmp_path


def file_one(store: ApprovalStore, incident_id: str, **overrides):
    fields = dict(purpose="quarterly payroll", recipient="ACME HR", method="HTTPS upload",
                  agreement="NDA-2026-7", wanted_until=NOW + timedelta(days=30), max_records=10)
    return store.file(incident_id, **(fields | overrides))


# --- the store --------------------------------------------------------------------------------------


def test_file_approve_revoke_lifecycle_is_in_the_log_and_verifies(data_dir):
    inc = incident(data_dir, user="alice")
    store = ApprovalStore(data_dir)
    app = file_one(store, inc)
    assert app.id.startswith("app-") and app.status == "pending"
    assert (app.requester, app.client, app.host, app.entities, app.records) == (
        "alice", "10.0.0.5", HOST, ("CN_RESIDENT_ID",), 3)

    approval = store.approve(app.id, "carol", max_records=5)
    assert (approval.id, approval.approver, approval.max_records) == (app.id, "carol", 5)
    assert approval.status(NOW + timedelta(seconds=1)) == "active"
    assert approval.status(NOW + timedelta(days=31)) == "expired"
    assert store.state().applications[app.id].status == "approved"

    revoked = store.revoke(app.id, "dave", "contract ended")
    assert revoked.status(NOW) == "revoked" and revoked.revoke_reason == "contract ended"

    kinds = [e.kind for e in entries(incidents_dir(data_dir))]
    assert [k for k in kinds if k.startswith(("application", "approval"))] == [
        "application", "application_decision", "approval_revocation"]
    report = verify(data_dir)
    assert report.ok, report.problems
    index = ReviewIndex.open(data_dir)  # the incident's history tells the story too
    try:
        history = [(h["who"], h["what"]) for h in index.history(inc)]
    finally:
        index.close()
    assert history[1:] == [("alice", f"transfer application {app.id}: filed"),
                           ("carol", f"transfer application {app.id}: approved"),
                           ("dave", f"transfer application {app.id}: approval revoked")]


def test_state_json_is_rebuilt_from_the_log(data_dir):
    store = ApprovalStore(data_dir)
    app = file_one(store, incident(data_dir))
    store.approve(app.id, "carol")
    written = read_state(data_dir)
    state_path(data_dir).unlink()
    assert read_state(data_dir).approvals == {}
    rebuilt = store.state()
    assert rebuilt.approvals == written.approvals
    assert rebuilt.applications == written.applications
    assert state_path(data_dir).exists()
    state_path(data_dir).write_text("{damaged")
    assert store.state().approvals == written.approvals  # a damaged file: the log has it all


def test_state_file_holds_no_value_and_is_private(data_dir):
    store = ApprovalStore(data_dir)
    store.approve(file_one(store, incident(data_dir)).id, "carol")
    assert RESIDENT_ID not in state_path(data_dir).read_text()
    assert state_path(data_dir).stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(("change", "message"), [
    ({"entities": ["PHONE_NUMBER"]}, "data classes must be a non-empty subset"),
    ({"entities": []}, "data classes must be a non-empty subset"),
    ({"expires": NOW + timedelta(days=40)}, "is later than the applicant asked for"),
    ({"expires": NOW - timedelta(minutes=1)}, "is not in the future"),
    ({"max_records": 11}, "max records 11 is more than the applicant asked for (10)"),
    ({"max_records": 0}, "max records must be a whole number"),
])
def test_approval_can_only_narrow(data_dir, change, message):
    store = ApprovalStore(data_dir)
    app = file_one(store, incident(data_dir))
    with pytest.raises(ApplicationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        store.approve(app.id, "carol", **change)
    assert store.state().applications[app.id].status == "pending"


def test_requester_cannot_decide_own_application_and_decisions_happen_once(data_dir):
    store = ApprovalStore(data_dir)
    app = file_one(store, incident(data_dir, user="alice"))
    with pytest.raises(ApplicationError, match="cannot decide their own application"):
        store.approve(app.id, "ALICE")
    with pytest.raises(ApplicationError, match="cannot decide their own application"):
        store.reject(app.id, "alice", "no")
    rejected = store.reject(app.id, "carol", "no agreement on file")
    assert (rejected.status, rejected.decided_by, rejected.decision_reason) == (
        "rejected", "carol", "no agreement on file")
    with pytest.raises(ApplicationError, match="was already rejected"):
        store.approve(app.id, "carol")
    assert store.state().approvals == {}


def test_one_application_per_incident_and_checks_on_filing(data_dir):
    store = ApprovalStore(data_dir)
    inc = incident(data_dir)
    with pytest.raises(ApplicationError, match="purpose is required"):
        file_one(store, inc, purpose="  ")
    with pytest.raises(ApplicationError, match="more than 366 days away"):
        file_one(store, inc, wanted_until=NOW + timedelta(days=400))
    with pytest.raises(ApplicationError, match="no incident 'BM-nope'"):
        file_one(store, "BM-nope")
    file_one(store, inc)
    with pytest.raises(ApplicationError, match="already filed"):
        file_one(store, inc)


def test_revoke_unknown_or_twice(data_dir):
    store = ApprovalStore(data_dir)
    with pytest.raises(ApplicationError, match="no approval 'app-x'"):
        store.revoke("app-x", "carol")
    app = file_one(store, incident(data_dir))
    store.approve(app.id, "carol")
    store.revoke(app.id, "carol")
    with pytest.raises(ApplicationError, match="already revoked"):
        store.revoke(app.id, "carol")


# --- the merge ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def policy():
    return load_policy(REPO / "policies" / "default.yaml")


def facts(source: str = "10.0.0.5", user: str | None = None, host: str = HOST,
          when: datetime | None = None) -> RequestFacts:
    return RequestFacts(source_ip=source, host=host, port=443, scheme="https", method="POST",
                        path="/upload", time=when or datetime.now(UTC), user=user)


def ids(n: int) -> list[Finding]:
    return [Finding("CN_RESIDENT_ID", 1.0, 0, 18, f"json:$[{i}].id", i, f"{RESIDENT_ID[:-2]}{i:02d}")
            for i in range(n)]


def approved(data_dir: Path, **kwargs):
    store = ApprovalStore(data_dir)
    user = kwargs.pop("user", None)
    app = file_one(store, incident(data_dir, user=user))
    return store, store.approve(app.id, "carol", **kwargs)


def test_data_dir_approval_turns_a_block_into_an_allow_with_its_id(data_dir, policy):
    assert decide(policy, facts(), ids(2)).action == "block"
    _, approval = approved(data_dir)
    live = merged(policy, read_state(data_dir).approvals.values())
    decision = decide(live, facts(), ids(2))
    assert (decision.action, decision.approval, decision.agreement) == (
        "allow", approval.id, "NDA-2026-7")
    assert live.approvals[: len(policy.approvals)] == policy.approvals  # policy's first
    assert live.hash == policy.hash


@pytest.mark.parametrize(("who", "host", "n"), [
    ({"source": "10.0.0.6"}, HOST, 2),              # another client
    ({}, "api.other.example", 2),                   # another destination
    ({}, HOST, 11),                                 # more people than approved (max 10)
])
def test_data_dir_approval_covers_only_what_was_approved(data_dir, policy, who, host, n):
    approved(data_dir)
    live = merged(policy, read_state(data_dir).approvals.values())
    assert decide(live, facts(host=host, **who), ids(n)).action == "block"


def test_user_bound_approval_follows_the_user_not_the_address(data_dir, policy):
    approved(data_dir, user="Alice")
    live = merged(policy, read_state(data_dir).approvals.values())
    assert decide(live, facts(source="10.9.9.9", user="alice"), ids(1)).action == "allow"
    assert decide(live, facts(source="10.0.0.5", user="bob"), ids(1)).action == "block"


def test_revoked_and_expired_approvals_do_not_apply(data_dir, policy):
    store, approval = approved(data_dir, expires=NOW + timedelta(days=2))
    live = merged(policy, read_state(data_dir).approvals.values())
    later = NOW + timedelta(days=3)
    assert decide(live, facts(when=later), ids(1)).action == "block"  # expired
    store.revoke(approval.id, "carol")
    live = merged(policy, read_state(data_dir).approvals.values())
    assert live is policy  # nothing left to merge
    assert decide(live, facts(), ids(1)).action == "block"


@pytest.mark.parametrize("host", ["*", "*.example.org", ".example.org", "bank?.example.org",
                                  "[a-z]*", "a b.example", ""])
def test_filing_refuses_a_host_that_is_no_exact_name(data_dir, host):
    with pytest.raises(ApplicationError, match="no exact destination host"):
        file_one(ApprovalStore(data_dir), incident(data_dir, host=host))
    assert read_state(data_dir).applications == {}


@pytest.mark.parametrize("host", ["*", "*.org", ".example.org", "bank?.example.org"])
def test_a_stored_wildcard_host_never_becomes_a_glob_or_a_domain(data_dir, policy, host):
    """state.json written before filing checked hosts: such an approval is not merged."""
    _, approval = approved(data_dir)
    live = merged(policy, [replace(approval, host=host)])
    assert live is policy
    assert decide(live, facts(host="bank.example.org"), ids(1)).action == "block"


def test_an_ip_literal_host_is_covered_exactly(data_dir, policy):
    store = ApprovalStore(data_dir)
    app = file_one(store, incident(data_dir, host="[2001:DB8::7]"))
    assert app.host == "2001:db8::7"
    store.approve(app.id, "carol")
    live = merged(policy, read_state(data_dir).approvals.values())
    assert decide(live, facts(host="2001:db8::7"), ids(1)).action == "allow"
    assert decide(live, facts(host="2001:db8::8"), ids(1)).action == "block"


def test_policy_approval_ids_win_collisions(data_dir, policy):
    _, approval = approved(data_dir)
    stored = list(read_state(data_dir).approvals.values())
    policy_approval = replace(merged(policy, stored).approvals[-1], source="nobody")
    with_same_id = replace(policy, approvals=(policy_approval,))
    assert collisions(with_same_id, stored) == [approval.id]
    live = merged(with_same_id, stored)
    assert live.approvals == (policy_approval,)
    assert decide(live, facts(), ids(1)).action == "block"


# --- links --------------------------------------------------------------------------------------


def test_link_is_bound_to_incident_and_client(data_dir):
    key = ensure_link_key(data_dir)
    assert ensure_link_key(data_dir) == key  # made once
    meta = {"incident": "BM-1", "source": "10.0.0.5"}
    token = link_token(key, "BM-1", "10.0.0.5")
    check_link(key, meta, token, "::ffff:10.0.0.5")  # the same client, dual-stack
    with pytest.raises(ApplicationError, match="not valid for that incident"):
        check_link(key, {"incident": "BM-2", "source": "10.0.0.5"}, token, "10.0.0.5")
    with pytest.raises(ApplicationError, match="only from the computer that was refused"):
        check_link(key, meta, token, "10.0.0.6")
    with pytest.raises(ApplicationError, match="not valid"):
        check_link(key, meta, "0" * 32, "10.0.0.5")
    url = application_link("http://console.corp:9465/", key, "BM-1", "10.0.0.5")
    assert url == f"http://console.corp:9465/applications/new?incident=BM-1&token={token}"


def test_refusal_carries_the_application_link_only_when_configured(data_dir, policy):
    from proxy.act.application_link import use_application_links
    from proxy.act.refusal import block_body

    record = DecisionRecord(
        time="2026-12-06T00:00:00Z", incident_id="BM-1", source="10.0.0.5", user=None,
        scheme="https", host=HOST, port=443, method="POST", path="/", mode="regular",
        action="block", rule="block-ids-and-cards", enforced=True, would_be=None, reason="ids",
        entity_counts={"CN_RESIDENT_ID": 1}, masked=[], locations=[], policy_hash="x")
    body, _ = block_body(record, "application/json")
    assert "application_url" not in json.loads(body)["error"]
    key = ensure_link_key(data_dir)
    use_application_links("http://console.corp:9465", key, lambda: policy)
    try:
        url = f"http://console.corp:9465/applications/new?incident=BM-1&token=" \
              f"{link_token(key, 'BM-1', '10.0.0.5')}"
        body, _ = block_body(record, "application/json")
        error = json.loads(body)["error"]
        assert error["application_url"] == url
        assert set(error) == {"message", "type", "code", "incident", "application_url"}
        page, _ = block_body(record, "text/html", "zh")
        assert f"href='{url.replace('&', '&amp;')}'" in page.decode()
        assert "为此事件提交数据传输申请" in page.decode()
        # no approval can lift these: a failure to inspect, a rule with approvable: false,
        # the default action
        for rule in ("on_timeout", "block-plain-http", "default"):
            unliftable = replace(record, rule=rule)
            body, _ = block_body(unliftable, "application/json")
            assert "application_url" not in json.loads(body)["error"], rule
            assert "class='apply'" not in block_body(unliftable, "text/html")[0].decode()
    finally:
        use_application_links(None, None)


def test_an_approval_never_skips_an_allow_rule(data_dir, policy):
    """Default block, an allow rule for the partner: the approval lifts the block rule only,
    so the allow rule still decides (it is not skipped into the stricter default)."""
    allow = Rule("allow-partner", "the partner", "allow", None, frozenset({"external"}), None,
                 None, True)
    strict = replace(policy, rules=(*policy.rules, allow), default_action="block")
    _, approval = approved(data_dir)
    live = merged(strict, read_state(data_dir).approvals.values())
    decision = decide(live, facts(), ids(1))
    assert (decision.action, decision.rule, decision.approval) == (
        "allow", "allow-partner", approval.id)
