"""``baomi incidents ...`` and ``baomi keys ...``: registered into the main parser by ``register``.

    baomi keys init --data-dir var --private-key-out /media/usb/reviewer.pem
    baomi incidents list --status new
    baomi incidents reveal 0b6f... --key /media/usb/reviewer.pem --reason "ticket SEC-42"
    baomi incidents verify --key /media/usb/reviewer.pem

Handlers return the exit code and raise ``BaomiError`` subclasses on bad input.
Data goes to stdout, diagnostics to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

from proxy.errors import UsageError
from proxy.record.incidents import keys as keymod
from proxy.record.incidents import review
from proxy.record.incidents.export import FORMATS, export_lines
from proxy.record.incidents.index import SEVERITIES, STATUSES, ReviewIndex
from proxy.record.incidents.verify import verify

_RAW = argparse.RawDescriptionHelpFormatter


def register(subparsers: argparse._SubParsersAction) -> None:
    _register_incidents(subparsers)
    _register_keys(subparsers)


def _data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("BAOMI_DATA_DIR", "var")),
        help="baomi data directory (default ./var); the log is DIR/incidents/",
    )


def _add(
    sub: argparse._SubParsersAction, name: str, help_: str, example: str, handler
) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_, description=example, formatter_class=_RAW)
    _data_dir(p)
    p.set_defaults(handler=handler)
    return p


def _register_incidents(subparsers: argparse._SubParsersAction) -> None:
    inc = subparsers.add_parser("incidents", help="review blocked and masked transfers")
    sub = inc.add_subparsers(dest="incidents_command", required=True, metavar="COMMAND")

    p = _add(
        sub,
        "list",
        "list incidents (metadata only)",
        "  baomi incidents list --since 2025-03-01 --status new\n"
        "  baomi incidents list --user alice\n"
        "  baomi incidents list --group payroll --json\n"
        "  baomi incidents list --access-log",
        cmd_list,
    )
    p.add_argument("--since", help="YYYY-MM-DD or RFC 3339 time (UTC)")
    p.add_argument("--rule")
    p.add_argument("--action", choices=("block", "mask", "monitor", "allow"))
    p.add_argument("--status", choices=STATUSES)
    p.add_argument("--user", help="only incidents of this sender (any case)")
    p.add_argument("--group", help="only incidents of senders in this directory group")
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    p.add_argument("--access-log", action="store_true", help="list evidence reveals instead")

    p = _add(
        sub,
        "show",
        "metadata, masked snippets and history of one incident (no evidence)",
        "  baomi incidents show 0b6f...",
        cmd_show,
    )
    p.add_argument("id")
    p.add_argument("--json", action="store_true")

    p = _add(
        sub,
        "reveal",
        "decrypt an incident's evidence (logged with who/when/why first)",
        '  baomi incidents reveal 0b6f... --key reviewer.pem --reason "ticket SEC-42"',
        cmd_reveal,
    )
    p.add_argument("id")
    p.add_argument(
        "--key",
        type=Path,
        action="append",
        required=True,
        help="reviewer private key (PEM); repeat for rotated keys",
    )
    p.add_argument("--reason", required=True, help="why the evidence is needed (recorded)")

    p = _add(
        sub,
        "triage",
        "set status, assignee or a note (appended to the log)",
        "  baomi incidents triage 0b6f... --status confirmed --assignee bob\n"
        "  baomi incidents triage 0b6f... --status false_positive --key r.pem --allow-list",
        cmd_triage,
    )
    p.add_argument("id")
    p.add_argument("--status", required=True, choices=STATUSES)
    p.add_argument("--severity", choices=SEVERITIES, help="default: derived from the action")
    p.add_argument("--assignee")
    p.add_argument("--note", help="free text; do not paste personal data here")
    p.add_argument("--key", type=Path, action="append", help="reviewer key, for --allow-list")
    p.add_argument(
        "--allow-list",
        action="store_true",
        help="with false_positive and --key: suggest detection.allow_values entries "
        "(reveals the values; logged as an access)",
    )

    p = _add(
        sub,
        "verify",
        "check the log for damage, tampering and truncation",
        "  baomi incidents verify\n  baomi incidents verify --key reviewer.pem",
        cmd_verify,
    )
    p.add_argument("--key", type=Path, action="append", help="also check forward-secure MACs")

    p = _add(
        sub,
        "export",
        "incident metadata as ECS / OCSF JSON lines or RFC 5424 syslog",
        "  baomi incidents export --format ocsf --since 2025-03-01 > findings.jsonl",
        cmd_export,
    )
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--since", help="YYYY-MM-DD or RFC 3339 time (UTC)")

    p = _add(
        sub,
        "purge",
        "destroy the evidence keys of periods before DATE (metadata stays)",
        "  baomi incidents purge --before 2025-01-01",
        cmd_purge,
    )
    p.add_argument("--before", required=True, help="YYYY-MM-DD (UTC day)")

    _add(
        sub,
        "reindex",
        "rebuild the review queue (index.sqlite) from the log",
        "  baomi incidents reindex",
        cmd_reindex,
    )


def _register_keys(subparsers: argparse._SubParsersAction) -> None:
    k = subparsers.add_parser("keys", help="reviewer keys for the incident store")
    sub = k.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")
    p = _add(
        sub,
        "init",
        "create the reviewer key pair (private half only in FILE)",
        "  baomi keys init --data-dir var --private-key-out /media/usb/reviewer.pem\n"
        "  (set BAOMI_KEY_PASSPHRASE to encrypt the private key)",
        cmd_keys_init,
    )
    p.add_argument("--private-key-out", type=Path, required=True)
    p = _add(
        sub,
        "rotate",
        "add a reviewer key for new periods; old records stay readable",
        "  baomi keys rotate --private-key-out /media/usb/reviewer-2.pem\n"
        "  baomi keys rotate --public-key reviewer-2.pub.pem   (key made off the host)",
        cmd_keys_rotate,
    )
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--private-key-out", type=Path)
    group.add_argument("--public-key", type=Path)


# --- handlers ------------------------------------------------------------------------------------


def _index(args: argparse.Namespace) -> ReviewIndex:
    return ReviewIndex.open(args.data_dir)


def _since(text: str | None) -> str | None:
    if text is None:
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return review.parse_day(text).isoformat()
    from proxy.record.incidents.export import parse_time

    t = parse_time(text)
    if t is None:
        raise UsageError(f"--since {text!r}: expected YYYY-MM-DD or an RFC 3339 time")
    return t.isoformat().replace("+00:00", "Z")


def cmd_list(args: argparse.Namespace) -> int:
    index = _index(args)
    try:
        if args.access_log:
            rows = index.accesses()
            _print_rows(rows, ("time", "who", "incident", "reason"), args.json)
            return 0
        rows = index.incidents(_since(args.since), args.rule, args.action, args.status,
                               user=args.user, group=args.group)
    finally:
        index.close()
    if args.json:
        for r in rows:
            print(json.dumps(_public(r), ensure_ascii=False, sort_keys=True))
        return 0
    table = [
        {
            "time": r["time"],
            "id": r["id"],
            "action": r["action"],
            "rule": r["rule"],
            "host": r["host"],
            "user": r["meta"].get("user") or "-",
            "request": f"{r['meta'].get('method')} {r['meta'].get('path')}",
            "status": r["status"],
            "assignee": r["assignee"] or "-",
            "entities": _entities(r["meta"]),
        }
        for r in rows
    ]
    _print_rows(
        table,
        ("time", "id", "action", "rule", "host", "user", "request", "status", "assignee",
         "entities"),
        False,
    )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    index = _index(args)
    try:
        incident = review.find_incident(index, args.id)
        history, notes = index.history(args.id), index.notes(args.id)
    finally:
        index.close()
    if args.json:
        print(
            json.dumps(
                {**_public(incident), "history": history, "notes": notes},
                ensure_ascii=False,
                sort_keys=True,
            )
        )
        return 0
    m = incident["meta"]
    for key in (
        "incident",
        "time",
        "action",
        "rule",
        "reason",
        "source",
        "user",
        "identity",
        "method",
        "scheme",
        "host",
        "port",
        "path",
        "mode",
        "enforced",
        "would_be",
        "uninspected",
        "policy_hash",
        "record_count",
    ):
        if m.get(key) is not None:
            print(f"{key:13} {m[key]}")
    if m.get("user_groups"):
        print(f"{'user_groups':13} {', '.join(m['user_groups'])}")
    print(f"{'status':13} {incident['status']}  severity: {incident['severity']}  "
          f"assignee: {incident['assignee'] or '-'}")
    print(f"{'entities':13} {_entities(m)}")
    for snippet in m.get("masked", []):
        print(f"{'masked':13} {snippet}")
    for location in m.get("locations", []):
        print(f"{'location':13} {location}")
    print(
        f"{'evidence':13} {m.get('evidence_items', 0)} item(s), encrypted (baomi incidents reveal)"
    )
    for h in history:
        print(f"{'history':13} {h['time']}  {h['who']}: {h['what']}")
    for n in notes:
        print(f"{'note':13} {n['time']}  {n['who']}: {n['note']}")
    return 0


def cmd_reveal(args: argparse.Namespace) -> int:
    private_keys = keymod.load_private_keys(args.key)
    revealed = review.reveal(args.data_dir, args.id, private_keys, args.reason)
    print(f"access recorded for {review.who()}: {args.reason}", file=sys.stderr)
    print(
        json.dumps(
            {"incident": revealed.meta, "evidence": revealed.evidence},
            ensure_ascii=False,
            indent=2,
            sort_keys=True,
        )
    )
    return 0


def cmd_triage(args: argparse.Namespace) -> int:
    if args.allow_list and (args.status != "false_positive" or not args.key):
        raise UsageError("--allow-list needs --status false_positive and --key")
    incident = review.triage(args.data_dir, args.id, args.status, args.assignee, args.note,
                             severity=args.severity)
    print(
        f"incident {args.id}: status {incident['status']}, assignee {incident['assignee'] or '-'}"
    )
    if args.status == "false_positive":
        if args.allow_list:
            revealed = review.reveal(
                args.data_dir,
                args.id,
                keymod.load_private_keys(args.key),
                "false positive: allow-list suggestion",
            )
            print(allow_list_suggestion(revealed.evidence))
        else:
            print(destination_suggestion(incident))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    private_keys = keymod.load_private_keys(args.key) if args.key else None
    report = verify(args.data_dir, private_keys)
    for problem in report.problems:
        print(f"PROBLEM {problem}")
    for note in report.notes:
        print(f"note    {note}")
    macs = f", {report.macs_checked} MACs checked" if private_keys else ""
    summary = (
        f"{report.records} records in {report.files} files, last seq {report.last_seq}, "
        f"last checkpoint seq {report.checkpoint_seq}{macs}"
    )
    if report.ok:
        print(f"verify: OK: {summary}")
        return 0
    print(f"verify: FAILED: {len(report.problems)} problem(s); {summary}")
    return 1


def cmd_export(args: argparse.Namespace) -> int:
    index = _index(args)
    try:
        rows = index.incidents(since=_since(args.since))
    finally:
        index.close()
    for line in export_lines(rows, args.format):
        print(line)
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    purged = review.purge(args.data_dir, args.before)
    if not purged.periods:
        print(f"nothing to purge before {args.before}")
        return 0
    print(
        f"purged {len(purged.periods)} period(s) before {args.before} "
        f"({purged.shredded} data key file(s) destroyed); metadata kept:"
    )
    for period_id in purged.periods:
        print(f"  {period_id}")
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    index = ReviewIndex.open(args.data_dir, sync=False)
    try:
        count = index.rebuild()
    finally:
        index.close()
    print(f"reindexed {count} log records")
    return 0


def cmd_keys_init(args: argparse.Namespace) -> int:
    new = keymod.init_keys(args.data_dir, args.private_key_out)
    _print_key_homes(new, args.data_dir)
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    new = keymod.rotate_keys(args.data_dir, args.private_key_out, args.public_key)
    review.record_rotation(args.data_dir, new.key_id)
    _print_key_homes(new, args.data_dir)
    print("new periods are sealed to this key; keep the old private keys to read older records")
    return 0


# --- output helpers ------------------------------------------------------------------------------


def _print_key_homes(new: keymod.NewKey, data_dir: Path) -> None:
    signer = keymod.checkpoint_public_key(data_dir)
    print(f"reviewer key {new.key_id}")
    print(f"  public half:  {new.public_path}  (stays on the proxy host)")
    if new.private_path is not None:
        print(
            f"  private half: {new.private_path}  (0600) -> move it OFF this host, to the "
            "reviewers; anyone holding it can read all evidence sealed to it"
        )
    print(f"checkpoint signing key fingerprint {keymod.fingerprint(signer)} (note it down)")


def _public(row: dict) -> dict:
    return {"id": row["id"], "status": row["status"], "severity": row["severity"],
            "assignee": row["assignee"], **row["meta"]}


def _entities(meta: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((meta.get("entity_counts") or {}).items())) or "-"


def _print_rows(rows: list[dict], columns: tuple[str, ...], as_json: bool) -> None:
    if as_json:
        for r in rows:
            print(json.dumps({c: r.get(c) for c in columns}, ensure_ascii=False))
        return
    cells = [[str(r.get(c) if r.get(c) is not None else "-") for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def allow_list_suggestion(evidence: list) -> str:
    values = sorted({str(e["value"]) for e in evidence if isinstance(e, dict) and e.get("value")})
    if not values:
        return "# no matched values in this incident's evidence: nothing to allow-list"
    lines = [
        (
            "# suggested policy entry (review before adding; these values are then never "
            "treated as customer data):"
        ),
        "detection:",
        "  allow_values:",
    ]
    lines += [f"    - {json.dumps(v, ensure_ascii=False)}" for v in values]
    return "\n".join(lines)


def destination_suggestion(incident: dict) -> str:
    m = incident["meta"]
    host = m.get("host") or "unknown"
    slug = re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-")[:40] or "destination"
    entities = sorted((m.get("entity_counts") or {}).keys())
    lines = [
        f"# false positive: rule {m.get('rule')!r} on {host} ({', '.join(entities) or '-'}).",
        f"# suggested policy change (review it; put the rule above {m.get('rule')!r}):",
        "destinations:",
        f"  reviewed-{slug}:",
        f"    description: false positive reviewed in incident {incident['id']}",
        f"    hosts: [{host}]",
        "rules:",
        f"  - name: allow-reviewed-{slug}",
        f"    description: reviewed false positive ({incident['id']})",
        "    action: allow",
        f"    destination: [reviewed-{slug}]",
    ]
    if entities:
        lines += ["    data:", f"      entities: [{', '.join(entities)}]"]
    lines.append(
        "# or, for exact values: --key FILE --allow-list suggests detection: allow_values:"
    )
    return "\n".join(lines)
