"""`baomi approvals list|show|revoke` and `baomi policy check --data-dir`: outputs, exit codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_approvals import HOST, file_one, incident

from proxy.cli import main
from proxy.record.approvals import ApprovalStore
from proxy.record.incidents import ensure_keys

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("USER", "dpo-dave")
    ensure_keys(tmp_path)
    return tmp_path


@pytest.fixture
def two(data_dir):
    """One active approval (alice's) and one revoked (a client's)."""
    store = ApprovalStore(data_dir)
    active = store.approve(file_one(store, incident(data_dir, user="alice")).id, "carol",
                           max_records=4)
    gone = store.approve(file_one(store, incident(data_dir, source="10.0.0.7")).id, "carol")
    store.revoke(gone.id, "carol", "no longer needed")
    return active, gone


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list_table_and_json(data_dir, two, capsys):
    active, gone = two
    code, out, err = run(capsys, "approvals", "list", "--data-dir", str(data_dir))
    assert (code, err) == (0, "")
    header, *rows = out.splitlines()
    assert header.split() == ["ID", "STATUS", "REQUESTER", "HOST", "DATA", "MAX_RECORDS",
                              "EXPIRES", "APPROVER"]
    assert [r.split()[:5] for r in rows] == [
        [active.id, "active", "alice", HOST, "CN_RESIDENT_ID"],
        [gone.id, "revoked", "client", "10.0.0.7", HOST],
    ]
    code, out, _ = run(capsys, "approvals", "list", "--data-dir", str(data_dir), "--json",
                       "--status", "active")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(lines) == 1
    assert {k: lines[0][k] for k in ("id", "status", "requester", "host", "entities",
                                      "max_records", "approver", "agreement")} == {
        "id": active.id, "status": "active", "requester": "alice", "host": HOST,
        "entities": ["CN_RESIDENT_ID"], "max_records": 4, "approver": "carol",
        "agreement": "NDA-2026-7"}
    # the policy file's approval fields too (issue 15 §5), plus who requested and approved
    assert {k: lines[0][k] for k in ("source", "destination", "data", "purpose", "starts",
                                      "expires", "requested_by", "approved_by")} == {
        "source": "alice", "destination": HOST, "data": ["CN_RESIDENT_ID"],
        "purpose": "quarterly payroll", "starts": active.starts, "expires": active.expires,
        "requested_by": "alice", "approved_by": "carol"}
    code, out, _ = run(capsys, "approvals", "show", gone.id, "--data-dir", str(data_dir),
                       "--json")
    shown = json.loads(out)
    assert (shown["source"], shown["destination"], shown["requested_by"]) == (
        "10.0.0.7", HOST, "client 10.0.0.7")


def test_list_of_an_empty_data_dir_is_a_header(data_dir, capsys):
    assert run(capsys, "approvals", "list", "--data-dir", str(data_dir)) == (
        0, "ID  STATUS  REQUESTER  HOST  DATA  MAX_RECORDS  EXPIRES  APPROVER\n", "")


def test_show(data_dir, two, capsys):
    active, _ = two
    code, out, _ = run(capsys, "approvals", "show", active.id, "--data-dir", str(data_dir))
    assert code == 0
    fields = dict(line.split(None, 1) for line in out.splitlines())
    assert fields["status"] == "active" and fields["requester"] == "alice"
    assert fields["entities"] == "CN_RESIDENT_ID" and fields["max_records"] == "4"
    assert fields["applied"].endswith(f"CN_RESIDENT_ID, up to 10 records until "
                                      f"{active.expires}")
    code, out, _ = run(capsys, "approvals", "show", active.id, "--data-dir", str(data_dir),
                       "--json")
    shown = json.loads(out)
    assert (code, shown["status"], shown["application_record"]["status"]) == (
        0, "active", "approved")


def test_unknown_id_is_an_error_with_exit_2(data_dir, capsys):
    assert run(capsys, "approvals", "show", "app-nope", "--data-dir", str(data_dir)) == (
        2, "", f"Error: no approval 'app-nope' in {data_dir} (see 'baomi approvals list')\n")
    code, out, err = run(capsys, "approvals", "revoke", "app-nope", "--data-dir", str(data_dir))
    assert (code, out) == (2, "")
    assert err.startswith("Error: no approval 'app-nope' in the data dir")


def test_revoke_is_recorded_once_and_the_log_verifies(data_dir, two, capsys):
    active, _ = two
    code, out, err = run(capsys, "approvals", "revoke", active.id, "--data-dir", str(data_dir),
                         "--reason", "contract ended")
    assert code == 0 and out.startswith(f"approval {active.id}: revoked by dpo-dave at ")
    assert "within a few seconds" in err
    shown = ApprovalStore(data_dir).state().approvals[active.id]
    assert (shown.revoked_by, shown.revoke_reason) == ("dpo-dave", "contract ended")
    code, _, err = run(capsys, "approvals", "revoke", active.id, "--data-dir", str(data_dir))
    assert code == 2 and err.startswith(f"Error: approval {active.id} was already revoked")
    code, out, _ = run(capsys, "incidents", "verify", "--data-dir", str(data_dir))
    assert code == 0 and out.startswith("verify: OK")


def test_policy_check_shows_data_dir_approvals_by_status(data_dir, two, capsys):
    active, gone = two
    policy = REPO / "policies" / "default.yaml"
    code, out, _ = run(capsys, "policy", "check", str(policy), "--data-dir", str(data_dir))
    assert code == 0
    lines = out.splitlines()
    assert "approvals: none" in lines  # the policy's own
    at = lines.index(f"approvals in {data_dir}: 1 active, 0 expired, 1 revoked")
    assert lines[at + 1].split()[:2] == [active.id, "active"]
    assert lines[at + 2].split()[:2] == [gone.id, "revoked"]
    code, out, _ = run(capsys, "policy", "check", str(policy))
    assert code == 0 and "approvals in" not in out


def test_policy_check_reads_the_data_dir_from_the_environment(data_dir, two, capsys,
                                                             monkeypatch):
    active, _ = two
    policy = str(REPO / "policies" / "default.yaml")
    monkeypatch.setenv("BAOMI_DATA_DIR", str(data_dir))
    code, out, _ = run(capsys, "policy", "check", policy)
    assert code == 0 and f"approvals in {data_dir}: 1 active, 0 expired, 1 revoked" in out
    assert any(line.startswith(f"  {active.id}  active  alice -> ") for line in out.splitlines())
    monkeypatch.delenv("BAOMI_DATA_DIR")
    code, out, _ = run(capsys, "policy", "check", policy)
    assert code == 0 and "approvals in" not in out


def test_policy_check_lists_the_policy_approvals_with_status(tmp_path, capsys):
    now = datetime.now(UTC)
    text = (REPO / "policies" / "default.yaml").read_text().replace("approvals: []", f"""\
destinations:
  partner:
    hosts: [api.partner.example]
approvals:
  - id: APR-OLD
    source: any
    destination: partner
    data: [CN_RESIDENT_ID]
    purpose: old
    approver: carol
    agreement: NDA-1
    expires: {(now - timedelta(days=1)).isoformat()}
  - id: APR-NOW
    source: any
    destination: partner
    data: [CN_RESIDENT_ID]
    purpose: now
    approver: carol
    agreement: NDA-2
    expires: {(now + timedelta(days=1)).isoformat()}""").replace("destinations: {}\n", "")
    policy = tmp_path / "p.yaml"
    policy.write_text(text)
    code, out, err = run(capsys, "policy", "check", str(policy))
    assert code == 0, err
    lines = out.splitlines()
    at = lines.index("approvals: 1 active, 1 expired, 0 not yet started")
    assert [line.split()[:2] for line in lines[at + 1: at + 3]] == [
        ["APR-OLD", "expired"], ["APR-NOW", "active"]]


def test_console_url_flag_environment_and_default(monkeypatch):
    from proxy.cli import build_parser

    monkeypatch.delenv("BAOMI_CONSOLE_URL", raising=False)
    assert build_parser().parse_args(["run"]).console_url == "http://127.0.0.1:9465"
    monkeypatch.setenv("BAOMI_CONSOLE_URL", "https://console.corp.example")
    assert build_parser().parse_args(["run"]).console_url == "https://console.corp.example"
    flag = build_parser().parse_args(["run", "--console-url", "https://c.example:8443"])
    assert flag.console_url == "https://c.example:8443"  # flags beat the environment


@pytest.mark.parametrize(("argv", "warned"), [
    (["--listen-host", "0.0.0.0"], True),
    (["--listen-host", "10.1.2.3"], True),
    (["--listen-host", "127.0.0.1"], False),
    (["--listen-host", "0.0.0.0", "--console-url", "https://console.corp.example"], False),
])
def test_run_warns_when_links_would_point_at_the_users_own_machine(tmp_path, capsys,
                                                                   monkeypatch, argv, warned):
    monkeypatch.delenv("BAOMI_CONSOLE_URL", raising=False)
    started = []
    monkeypatch.setattr("proxy.app.run.run", lambda settings: started.append(settings) or 0)
    code, _, err = run(capsys, "run", "--data-dir", str(tmp_path), *argv)
    assert (code, len(started)) == (0, 1)
    assert ("warning: --console-url is the default http://127.0.0.1:9465 but the proxy "
            "listens on" in err) is warned
