"""`baomi doctor`: the command; the checks are ``proxy.tools.doctor``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from proxy.cli.defaults import _env, default_policy, env_int
from proxy.tools import doctor as checks_module
from proxy.tools.doctor import CHECKS, FAIL, Setup, print_human, run_checks


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "doctor", help="check the deployment (firewall, CA, keys, policy, ports, detector)",
        description=checks_module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--policy", default=None, help="policy file (default: as `baomi run`)")
    p.add_argument("--data-dir", type=Path, default=Path(_env("DATA_DIR", "var")))
    p.add_argument("--mode", default=_env("MODE", "regular"))
    p.add_argument("--listen-host", default=_env("LISTEN_HOST", "127.0.0.1"))
    p.add_argument("--listen-port", type=int, default=env_int("LISTEN_PORT", 8080))
    p.add_argument("--metrics-host", default=_env("METRICS_HOST", "127.0.0.1"))
    p.add_argument("--metrics-port", type=int, default=env_int("METRICS_PORT", 9464))
    p.add_argument("--skip", action="append", default=[], choices=CHECKS, metavar="CHECK",
                   help=f"leave a check out, repeatable ({', '.join(CHECKS)})")
    p.add_argument("--json", action="store_true", help="a JSON list of {check, status, ...}")
    p.set_defaults(handler=lambda args: cmd_doctor(args, default_policy))


def cmd_doctor(args, default_policy: Callable[[], str]) -> int:
    setup = Setup(policy=Path(args.policy or default_policy()), data_dir=args.data_dir,
                  mode=args.mode, listen_host=args.listen_host, listen_port=args.listen_port,
                  metrics_host=args.metrics_host, metrics_port=args.metrics_port)
    checks = list(run_checks(setup, frozenset(args.skip)))
    if args.json:
        print(json.dumps([{"check": c.name, **{k: v for k, v in asdict(c).items() if k != "name"}}
                          for c in checks], ensure_ascii=False, indent=1))
    else:
        print_human(checks)
    return 1 if any(c.status == FAIL for c in checks) else 0
