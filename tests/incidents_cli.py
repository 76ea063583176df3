"""Helpers for the incident store tests: a CLI runner on a fresh parser, records, a keyed data dir.

code, out, err = run("incidents", "list", "--data-dir", str(data_dir))
"""

from __future__ import annotations

import argparse
import contextlib
import io
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

from proxy.cli.incidents import register
from proxy.errors import BaomiError
from proxy.record.decisions import DecisionRecord
from proxy.record.incidents.keys import init_keys

RAW_ID = "11010519491231002X"  # a valid-format resident ID: must never appear in clear on disk
RAW_PHONE = "13800138000"


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="baomi")
    register(p.add_subparsers(dest="command", required=True))
    return p


def run(*argv: str) -> Result:
    """Like the main CLI: BaomiError -> 'Error: ...' on stderr, exit its exit_code (2 or 1)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        args = parser().parse_args(list(argv))
        try:
            code = args.handler(args)
        except BaomiError as e:
            print(f"Error: {e}", file=err)
            code = e.exit_code
    return Result(code, out.getvalue(), err.getvalue())


def keyed_dir(tmp_path: Path) -> tuple[Path, Path]:
    data_dir, key = tmp_path / "var", tmp_path / "reviewer" / "rk.pem"
    init_keys(data_dir, key)
    return data_dir, key


_BASE = DecisionRecord(
    time="2024-05-01T08:00:00Z",
    incident_id="",
    source="10.0.0.5",
    user="alice",
    scheme="https",
    host="api.example.com",
    port=443,
    method="POST",
    path="/upload",
    mode="regular",
    action="block",
    rule="block-ids-and-cards",
    enforced=True,
    would_be=None,
    reason="resident ID number",
    entity_counts={"CN_RESIDENT_ID": 1, "PHONE_NUMBER": 1},
    masked=["11****************", "138********"],
    locations=["json:$.id", "json:$.phone"],
    policy_hash="sha256:abc",
    evidence=(
        {"entity": "CN_RESIDENT_ID", "value": RAW_ID, "context": f"id={RAW_ID}"},
        {"entity": "PHONE_NUMBER", "value": RAW_PHONE, "context": f"tel {RAW_PHONE}"},
    ),
)


def record(**changes: object) -> DecisionRecord:
    changes.setdefault("incident_id", uuid.uuid4().hex)
    return replace(_BASE, **changes)  # type: ignore[arg-type]
