"""What is recorded, what stays secret, what reviewers do (reveal, triage, rotate, purge)."""

from __future__ import annotations

import base64
import json
import stat
from datetime import date
from pathlib import Path

import pytest
from incidents_cli import RAW_ID, RAW_PHONE, keyed_dir, record, run

from proxy.errors import IncidentLogError, KeyStoreError
from proxy.record.incidents import IncidentStore, ensure_keys, review
from proxy.record.incidents.index import ReviewIndex
from proxy.record.incidents.keys import init_keys, load_private_keys
from proxy.record.incidents.log import entries
from proxy.record.incidents.store import should_record
from proxy.record.incidents.verify import verify

DAY1, DAY2 = date(2024, 5, 1), date(2024, 5, 2)


def log_kinds(data_dir: Path) -> list[str]:
    return [e.kind for e in entries(data_dir / "incidents")]


def incident_ids(data_dir: Path) -> list[str]:
    index = ReviewIndex.open(data_dir)
    try:
        return [r["id"] for r in index.incidents()]
    finally:
        index.close()


@pytest.mark.parametrize(
    "changes, recorded",
    [
        ({"action": "block"}, True),
        ({"action": "mask"}, True),
        ({"action": "monitor", "would_be": "block"}, True),
        ({"action": "monitor", "would_be": "allow", "entity_counts": {"PHONE_NUMBER": 1}}, True),
        ({"action": "monitor", "would_be": "allow", "entity_counts": {}}, False),
        ({"action": "allow", "enforced": False, "would_be": "mask", "entity_counts": {}}, True),
        ({"action": "allow", "uninspected": "passthrough", "entity_counts": {}}, True),
        ({"action": "allow", "uninspected": "oversize", "entity_counts": {}}, True),
        ({"action": "allow", "entity_counts": {}}, False),
        ({"action": "allow", "entity_counts": {"PHONE_NUMBER": 1}}, False),  # allowed by a rule
    ],
)
def test_which_records_become_incidents(tmp_path, changes, recorded):
    assert should_record(record(**changes)) is recorded
    data_dir, _ = keyed_dir(tmp_path)
    store = IncidentStore(data_dir)
    store.write(record(**changes))
    store.close()
    assert len(incident_ids(data_dir)) == int(recorded)


def test_evidence_never_appears_in_clear_in_the_data_dir(tmp_path):
    data_dir, key = keyed_dir(tmp_path)
    store = IncidentStore(data_dir, checkpoint_every=3)
    ids = [record().incident_id for _ in range(4)]
    for incident_id in ids:
        store.write(record(incident_id=incident_id))
    store.close()
    assert (
        run(
            "incidents",
            "reveal",
            ids[0],
            "--data-dir",
            str(data_dir),
            "--key",
            str(key),
            "--reason",
            "audit",
        ).code
        == 0
    )
    run("incidents", "triage", ids[1], "--data-dir", str(data_dir), "--status", "confirmed")
    for fmt in ("ecs", "ocsf", "syslog"):
        assert (
            RAW_ID
            not in run("incidents", "export", "--format", fmt, "--data-dir", str(data_dir)).out
        )
    raw_values = [v.encode() for v in (RAW_ID, RAW_PHONE, "19491231002X")]
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert any(p.name == "index.sqlite" for p in files) and len(files) > 6
    for path in files:
        content = path.read_bytes()
        for raw in raw_values:
            assert raw not in content, f"{raw!r} in clear in {path}"
            assert raw.decode().encode("utf-16-le") not in content


def test_reveal_decrypts_and_logs_who_when_why_first(tmp_path, monkeypatch):
    data_dir, key = keyed_dir(tmp_path)
    store = IncidentStore(data_dir)
    rec = record()
    store.write(rec)
    store.close()
    monkeypatch.setenv("SUDO_USER", "carol")
    result = run(
        "incidents",
        "reveal",
        rec.incident_id,
        "--data-dir",
        str(data_dir),
        "--key",
        str(key),
        "--reason",
        "ticket SEC-42",
    )
    assert result.code == 0, result.err
    shown = json.loads(result.out)
    assert [e["value"] for e in shown["evidence"]] == [RAW_ID, RAW_PHONE]
    access = [e for e in entries(data_dir / "incidents") if e.kind == "access"]
    assert [(a.data["who"], a.data["why"], a.data["incident"]) for a in access] == [
        ("carol", "ticket SEC-42", rec.incident_id)
    ]
    listed = run("incidents", "list", "--access-log", "--json", "--data-dir", str(data_dir))
    assert json.loads(listed.out)["who"] == "carol"
    assert verify(data_dir, load_private_keys([key])).ok


def test_no_reveal_without_an_access_record(tmp_path, monkeypatch):
    data_dir, key = keyed_dir(tmp_path)
    store = IncidentStore(data_dir)
    rec = record()
    store.write(rec)
    store.close()

    def refuse(self, kind, data):
        raise IncidentLogError("disk full")

    monkeypatch.setattr("proxy.record.incidents.log.IncidentLog.append", refuse)
    with pytest.raises(IncidentLogError):
        review.reveal(data_dir, rec.incident_id, load_private_keys([key]), "curious")


def test_show_lists_metadata_and_masked_snippets_but_not_evidence(tmp_path):
    data_dir, _ = keyed_dir(tmp_path)
    store = IncidentStore(data_dir)
    rec = record()
    store.write(rec)
    store.close()
    result = run("incidents", "show", rec.incident_id, "--data-dir", str(data_dir))
    assert result.code == 0
    assert "138********" in result.out and "block-ids-and-cards" in result.out
    assert RAW_PHONE not in result.out and RAW_ID not in result.out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["incidents", "show", "nope"], "no incident 'nope'"),
        (["incidents", "reveal", "nope", "--key", "KEY", "--reason", "x"], "no incident 'nope'"),
        (
            ["incidents", "reveal", "ID", "--key", "/nonexistent.pem", "--reason", "x"],
            "cannot read private key",
        ),
        (["incidents", "reveal", "ID", "--key", "KEY", "--reason", " "], "--reason must say why"),
        (["incidents", "triage", "nope", "--status", "resolved"], "no incident 'nope'"),
        (
            ["incidents", "triage", "ID", "--status", "resolved", "--allow-list"],
            "--allow-list needs",
        ),
        (["incidents", "purge", "--before", "yesterday"], "expected YYYY-MM-DD"),
        (["incidents", "purge", "--before", "2999-01-01"], "after today"),
        (["incidents", "list", "--since", "last week"], "expected YYYY-MM-DD"),
    ],
)
def test_bad_input_is_an_error_message_not_a_traceback(tmp_path, argv, message):
    data_dir, key = keyed_dir(tmp_path)
    store = IncidentStore(data_dir)
    rec = record()
    store.write(rec)
    store.close()
    argv = [str(key) if a == "KEY" else rec.incident_id if a == "ID" else a for a in argv]
    result = run(*argv, "--data-dir", str(data_dir))
    assert result.code == 2 and result.err.startswith("Error: ") and message in result.err, result


def test_triage_is_logged_indexed_and_survives_reindex(tmp_path, monkeypatch):
    data_dir, _ = keyed_dir(tmp_path)
    store = IncidentStore(data_dir)
    recs = [record(), record(rule="mask-contacts-external", action="mask")]
    for r in recs:
        store.write(r)
    store.close()
    monkeypatch.setenv("USER", "dave")
    monkeypatch.delenv("SUDO_USER", raising=False)
    d = ["--data-dir", str(data_dir)]
    assert (
        run(
            "incidents",
            "triage",
            recs[0].incident_id,
            "--status",
            "in_progress",
            "--assignee",
            "bob",
            *d,
        ).code
        == 0
    )
    assert (
        run(
            "incidents",
            "triage",
            recs[0].incident_id,
            "--status",
            "confirmed",
            "--note",
            "reported to HR",
            *d,
        ).code
        == 0
    )
    assert log_kinds(data_dir).count("triage") == 2

    def listing(*filters: str) -> list[str]:
        out = run("incidents", "list", "--json", *filters, *d).out
        return [json.loads(line)["id"] for line in out.splitlines()]

    assert listing("--status", "confirmed") == [recs[0].incident_id]
    assert listing("--action", "mask") == [recs[1].incident_id]
    assert listing("--rule", "block-ids-and-cards") == [recs[0].incident_id]
    (data_dir / "incidents" / "index.sqlite").unlink()
    assert run("incidents", "reindex", *d).code == 0
    shown = json.loads(run("incidents", "show", recs[0].incident_id, "--json", *d).out)
    assert (shown["status"], shown["assignee"]) == ("confirmed", "bob")
    assert [h["who"] for h in shown["history"]] == ["baomi", "dave", "dave"]
    assert "status in_progress -> confirmed" in shown["history"][2]["what"]
    assert shown["notes"][0]["note"] == "reported to HR"


def test_false_positive_suggestions(tmp_path):
    data_dir, key = keyed_dir(tmp_path)
    store = IncidentStore(data_dir)
    rec = record()
    store.write(rec)
    store.close()
    d = ["--data-dir", str(data_dir)]
    by_destination = run("incidents", "triage", rec.incident_id, "--status", "false_positive", *d)
    assert "hosts: [api.example.com]" in by_destination.out and RAW_ID not in by_destination.out
    with_values = run(
        "incidents",
        "triage",
        rec.incident_id,
        "--status",
        "false_positive",
        "--key",
        str(key),
        "--allow-list",
        *d,
    )
    assert "allow_values:" in with_values.out and f'"{RAW_ID}"' in with_values.out
    assert log_kinds(data_dir).count("access") == 1  # seeing the values is an access


# --- keys: init, ensure, passphrase, rotation, purge ---------------------------------------------


def test_keys_init_places_halves_and_refuses_to_overwrite(tmp_path):
    data_dir, out = tmp_path / "var", tmp_path / "usb" / "rk.pem"
    result = run("keys", "init", "--data-dir", str(data_dir), "--private-key-out", str(out))
    assert result.code == 0 and "OFF this host" in result.out
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert not list(data_dir.rglob("*PRIVATE KEY*")) and b"PRIVATE" in out.read_bytes()
    for f in (data_dir / "keys").iterdir():
        if f.name != "checkpoint-signing.pem":
            assert b"PRIVATE KEY" not in f.read_bytes()  # reviewer private half is not on the host
    again = run(
        "keys", "init", "--data-dir", str(data_dir), "--private-key-out", str(tmp_path / "x.pem")
    )
    assert again.code == 2 and "already holds reviewer keys" in again.err
    other = run("keys", "init", "--data-dir", str(tmp_path / "v2"), "--private-key-out", str(out))
    assert other.code == 2 and "refusing to overwrite" in other.err


def test_ensure_keys_writes_the_private_half_once(tmp_path):
    data_dir = tmp_path / "var"
    path = ensure_keys(data_dir)
    assert path == data_dir / "reviewer-private-key.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_keys(data_dir) is None
    store = IncidentStore(data_dir)
    store.write(record())
    store.close()
    assert verify(data_dir, load_private_keys([path])).ok


def test_passphrase_protected_private_key(tmp_path, monkeypatch):
    monkeypatch.setenv("BAOMI_KEY_PASSPHRASE", "correct horse")
    data_dir, key = keyed_dir(tmp_path)
    assert b"ENCRYPTED" in key.read_bytes()
    store = IncidentStore(data_dir)
    rec = record()
    store.write(rec)
    store.close()
    reveal = [
        "incidents",
        "reveal",
        rec.incident_id,
        "--data-dir",
        str(data_dir),
        "--key",
        str(key),
        "--reason",
        "x",
    ]
    assert run(*reveal).code == 0
    monkeypatch.setenv("BAOMI_KEY_PASSPHRASE", "wrong")
    assert "wrong passphrase" in run(*reveal).err
    monkeypatch.delenv("BAOMI_KEY_PASSPHRASE")
    assert "passphrase needed" in run(*reveal).err


def test_rotation_uses_the_new_key_for_new_periods_only(tmp_path):
    data_dir, old_key = keyed_dir(tmp_path)
    new_key = tmp_path / "reviewer" / "rk2.pem"
    today = [DAY1]
    store = IncidentStore(data_dir, today=lambda: today[0])
    old, new = record(), record()
    store.write(old)
    before = {p.name: p.read_bytes() for p in (data_dir / "incidents").glob("log-*.bin")}
    assert (
        run("keys", "rotate", "--data-dir", str(data_dir), "--private-key-out", str(new_key)).code
        == 0
    )
    today[0] = DAY2  # the running proxy picks the new key at the next period
    store.write(new)
    store.close()
    for name, content in before.items():  # nothing re-written
        assert (data_dir / "incidents" / name).read_bytes()[: len(content)] == content
    olds, news = load_private_keys([old_key]), load_private_keys([new_key])
    assert review.reveal(data_dir, old.incident_id, olds, "x").evidence[0]["value"] == RAW_ID
    assert review.reveal(data_dir, new.incident_id, news, "x").evidence[0]["value"] == RAW_ID
    with pytest.raises(KeyStoreError, match="sealed to reviewer key"):
        review.reveal(data_dir, new.incident_id, olds, "x")
    with pytest.raises(KeyStoreError, match="sealed to reviewer key"):
        review.reveal(data_dir, old.incident_id, news, "x")
    assert "rotation" in log_kinds(data_dir)
    assert verify(data_dir, {**olds, **news}).ok


def test_rotation_to_a_public_key_made_off_the_host(tmp_path):
    data_dir, _ = keyed_dir(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    init_keys(elsewhere, elsewhere / "rk.pem")
    public = next((elsewhere / "keys").glob("reviewer-*.pub.pem"))
    result = run("keys", "rotate", "--data-dir", str(data_dir), "--public-key", str(public))
    assert result.code == 0 and "private half" not in result.out
    store = IncidentStore(data_dir)
    rec = record()
    store.write(rec)
    store.close()
    keys = load_private_keys([elsewhere / "rk.pem"])
    assert review.reveal(data_dir, rec.incident_id, keys, "x").evidence


def test_purge_destroys_old_evidence_keeps_metadata_and_is_logged(tmp_path):
    data_dir, key = keyed_dir(tmp_path)
    today = [DAY1]
    store = IncidentStore(data_dir, today=lambda: today[0])
    old, new = record(), record()
    store.write(old)
    today[0] = DAY2
    store.write(new)
    store.close()
    result = run("incidents", "purge", "--before", DAY2.isoformat(), "--data-dir", str(data_dir))
    assert result.code == 0 and "purged 1 period(s)" in result.out
    assert [p.name[:10] for p in (data_dir / "incidents" / "datakeys").iterdir()] == [
        DAY2.isoformat()
    ]
    keys = load_private_keys([key])
    with pytest.raises(KeyStoreError, match="evidence purged"):
        review.reveal(data_dir, old.incident_id, keys, "x")
    assert review.reveal(data_dir, new.incident_id, keys, "x").evidence
    assert run("incidents", "show", old.incident_id, "--data-dir", str(data_dir)).code == 0
    assert "purge" in log_kinds(data_dir)
    assert verify(data_dir, keys).ok
    again = run("incidents", "purge", "--before", DAY2.isoformat(), "--data-dir", str(data_dir))
    assert "nothing to purge" in again.out


def test_an_altered_metadata_field_makes_evidence_undecryptable(tmp_path):
    """Metadata is the AES-GCM associated data: a quietly edited record cannot be revealed."""
    from proxy.record.incidents import envelope, framing
    from proxy.record.incidents.periods import open_period_key

    data_dir, key = keyed_dir(tmp_path)
    store = IncidentStore(data_dir)
    rec = record()
    store.write(rec)
    store.close()
    entry = next(e for e in entries(data_dir / "incidents") if e.kind == "incident")
    period = next(e for e in entries(data_dir / "incidents") if e.kind == "period").data
    data_key = open_period_key(
        data_dir, period["period"], period["key_id"], load_private_keys([key])
    )
    meta = dict(entry.data["meta"], host="innocent.example.com")
    with pytest.raises(envelope.CannotDecrypt):
        envelope.decrypt_evidence(
            data_key, base64.b64decode(entry.data["evidence"]), framing.canonical(meta)
        )


def test_an_unexpected_failure_is_an_incident_log_error_without_the_value(tmp_path):
    data_dir, _ = keyed_dir(tmp_path)
    store = IncidentStore(data_dir)
    bad = record(entity_counts={RAW_PHONE: object()})  # not JSON: the frame cannot be built
    with pytest.raises(IncidentLogError) as caught:
        store.write(bad)
    store.close()
    assert RAW_PHONE not in str(caught.value) and caught.value.__cause__ is None
