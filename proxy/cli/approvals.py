"""``baomi approvals list|show|revoke``: transfer approvals kept in the data dir.

    baomi approvals list                       # every approval: active, expired, revoked
    baomi approvals list --status active --json
    baomi approvals show app-20261206-9f3a1c2b
    baomi approvals revoke app-20261206-9f3a1c2b --reason "contract ended"

Approvals come from transfer applications approved in the console (``baomi console``). A
revocation is a frame of the incident log, in force in the running proxy within ~1 s (it
polls DIR/approvals/state.json). Approvals written in the policy file are changed there.
Data goes to stdout, diagnostics to stderr; errors print ``Error: ...`` and exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from proxy.errors import ApplicationError
from proxy.record.approvals.model import APPROVAL_STATUSES, StoredApproval
from proxy.record.approvals.store import ApprovalStore
from proxy.record.incidents.review import who

_RAW = argparse.RawDescriptionHelpFormatter
COLUMNS = ("id", "status", "requester", "host", "data", "max_records", "expires", "approver")


def register(subparsers: argparse._SubParsersAction) -> None:
    top = subparsers.add_parser("approvals", help="transfer approvals kept in the data dir",
                                description=__doc__, formatter_class=_RAW)
    sub = top.add_subparsers(dest="approvals_command", required=True, metavar="COMMAND")

    p = _add(sub, "list", "list approvals (active, expired, revoked)",
             "  baomi approvals list\n  baomi approvals list --status active --json", cmd_list)
    p.add_argument("--status", choices=APPROVAL_STATUSES)
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")

    p = _add(sub, "show", "one approval with its application",
             "  baomi approvals show app-20261206-9f3a1c2b", cmd_show)
    p.add_argument("id")
    p.add_argument("--json", action="store_true")

    p = _add(sub, "revoke", "revoke an approval (in force within seconds)",
             '  baomi approvals revoke app-20261206-9f3a1c2b --reason "contract ended"',
             cmd_revoke)
    p.add_argument("id")
    p.add_argument("--reason", help="why (recorded in the incident log)")


def _add(sub: argparse._SubParsersAction, name: str, help_: str, example: str,
         handler) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_, description=example, formatter_class=_RAW)
    p.add_argument("--data-dir", type=Path, default=Path(os.environ.get("BAOMI_DATA_DIR", "var")),
                   help="baomi data directory (default ./var)")
    p.set_defaults(handler=handler)
    return p


def public(approval: StoredApproval, now: datetime) -> dict:
    """An approval as --json prints it: every stored field, the same under the policy file's
    names (source, destination, data, ...) with requested_by / approved_by, and its status."""
    return {**approval.policy_fields(), **approval.as_dict(), "status": approval.status(now)}


def cmd_list(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    rows = [public(a, now) for a in ApprovalStore(args.data_dir).state().approvals.values()]
    rows = [r for r in rows if args.status is None or r["status"] == args.status]
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False, sort_keys=True))
        return 0
    table = [{**r, "requester": r["requester"] or f"client {r['client']}",
              "data": ",".join(r["entities"])} for r in rows]
    _print_table(table, COLUMNS)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    state = ApprovalStore(args.data_dir).state()
    approval = state.approvals.get(args.id)
    if approval is None:
        raise ApplicationError(f"no approval {args.id!r} in {args.data_dir} "
                               "(see 'baomi approvals list')")
    row = public(approval, datetime.now(UTC))
    application = state.applications.get(approval.application)
    if args.json:
        print(json.dumps({**row, "application_record": application.as_dict() if application
                          else None}, ensure_ascii=False, sort_keys=True))
        return 0
    for key in ("id", "status", "incident", "requester", "client", "host", "entities",
                "purpose", "recipient", "method", "agreement", "approver", "starts", "expires",
                "max_records", "revoked_at", "revoked_by", "revoke_reason"):
        value = row[key]
        if value is not None:
            print(f"{key:14} {', '.join(value) if isinstance(value, list) else value}")
    if application is not None:
        print(f"{'applied':14} {application.filed}: {', '.join(application.entities)}, up to "
              f"{application.max_records} records until {application.wanted_until}")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    approval = ApprovalStore(args.data_dir).revoke(args.id, who(), args.reason)
    print(f"approval {approval.id}: revoked by {approval.revoked_by} at {approval.revoked_at}")
    print("the running proxy stops applying it within a few seconds", file=sys.stderr)
    return 0


def summary_lines(data_dir: Path, now: datetime) -> list[str]:
    """For ``baomi policy check --data-dir``: the data dir's approvals by status, one a line."""
    approvals = list(ApprovalStore(data_dir).state().approvals.values())
    if not approvals:
        return [f"approvals in {data_dir}: none"]
    counts = {s: sum(a.status(now) == s for a in approvals) for s in APPROVAL_STATUSES}
    lines = [f"approvals in {data_dir}: " + ", ".join(f"{n} {s}" for s, n in counts.items())]
    lines += [f"  {a.id}  {a.status(now)}  {a.requester_label} -> {a.host}  "
              f"data {','.join(a.entities)}  max {a.max_records} records  until {a.expires}"
              for a in approvals]
    return lines


def _print_table(rows: list[dict], columns: tuple[str, ...]) -> None:
    cells = [[str(r.get(c) if r.get(c) is not None else "-") for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
