"""`baomi edm`: the key and the index for Exact Data Match (see detectors/EDM.md).

    baomi edm keygen --out /etc/baomi/keys/edm.key
    baomi edm build customers.csv --key-file /etc/baomi/keys/edm.key \\
        --out /var/lib/baomi/edm/customers.edm --columns name,phone,id_no,email,card,address
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from proxy.errors import UsageError

_RAW = argparse.RawDescriptionHelpFormatter


def register(subparsers: argparse._SubParsersAction) -> None:
    edm = subparsers.add_parser("edm", help="exact data match against your customer list")
    sub = edm.add_subparsers(dest="edm_command", required=True, metavar="COMMAND")

    keygen = sub.add_parser(
        "keygen",
        help="create a new 32-byte key file (mode 0600)",
        description="  baomi edm keygen --out /etc/baomi/keys/edm.key\n\n"
        "Keep the key apart from the index: see detectors/EDM.md.",
        formatter_class=_RAW,
    )
    keygen.add_argument("--out", type=Path, required=True, help="new key file (never overwritten)")
    keygen.set_defaults(handler=cmd_keygen)

    build = sub.add_parser(
        "build",
        help="index a customer CSV (keyed fingerprints, no cleartext)",
        description="  baomi edm build customers.csv --key-file KEY --out customers.edm\n"
        "  baomi edm build export.csv --key-file KEY --out c.edm --columns name,phone,-,email\n\n"
        "Column kinds: name, phone, id_no, email, card, address; '-' skips a column. Without\n"
        "--columns the kinds come from the header row (姓名/name, 手机/phone, 身份证/id_no, ...).",
        formatter_class=_RAW,
    )
    build.add_argument("csv", type=Path, metavar="CSV", help="customer table, UTF-8 CSV")
    build.add_argument("--key-file", type=Path, required=True)
    build.add_argument("--out", type=Path, required=True, help="index file to write")
    build.add_argument("--columns", default=None, help="kind of each CSV column, in order")
    build.add_argument("--no-header", action="store_true", help="the first row is a customer")
    build.add_argument("--encoding", default="utf-8-sig", help="CSV encoding (e.g. gb18030)")
    build.add_argument("--json", action="store_true", help="print the summary as JSON")
    build.set_defaults(handler=cmd_build)


def cmd_keygen(args: argparse.Namespace) -> int:
    from detectors.edm import new_key

    new_key(args.out)
    print(
        f"wrote {args.out} (32 bytes, mode 0600); keep it out of the index's directory",
        file=sys.stderr,
    )
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from detectors.edm import read_key
    from detectors.edm_build import build_index, parse_columns

    if args.csv.resolve() == args.out.resolve():
        raise UsageError("--out is the CSV itself; expected a new index file")
    key = read_key(args.key_file, args.out)
    columns = parse_columns(args.columns) if args.columns else None
    started = time.monotonic()
    report = build_index(
        args.csv, key, args.out, columns, header=not args.no_header, encoding=args.encoding
    )
    shown = [c or "-" for c in report.columns]
    summary = {
        "index": str(args.out),
        "rows": report.rows,
        "entries": report.entries,
        "columns": shown,
        "skipped_cells": report.skipped_cells,
        "seconds": round(time.monotonic() - started, 2),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"indexed {report.rows} rows, {report.entries} fingerprints "
            f"({', '.join(shown)}) in {summary['seconds']} s -> {args.out}"
        )
    return 0
