"""The `baomi` command.

Examples:
  baomi run                                   # 127.0.0.1:8080, policies/default.yaml, data in ./var
  baomi run --mode transparent --listen-host 0.0.0.0
  baomi run --mode upstream:http://squid.corp:3128 --set ssl_verify_upstream_trusted_ca=/etc/ssl/corp.pem
  baomi ca export --data-dir var --out baomi-ca.pem
  baomi scan --json capture.har
  baomi policy check policies/default.yaml

Precedence: command-line flags > BAOMI_* environment > defaults.
Data goes to stdout, diagnostics to stderr; errors print `Error: ...` and exit non-zero.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from proxy.cli.defaults import _env, default_policy, env_int
from proxy.errors import BaomiError, PolicyError, UsageError
from proxy.hook.connections import (
    BODY_MIN_RATE,
    BODY_TIMEOUT,
    HEAD_TIMEOUT,
    IDLE_TIMEOUT,
    MAX_CONNECTIONS,
)
from proxy.record.approvals.links import DEFAULT_CONSOLE_URL
from proxy.record.decisions import DEFAULT_KEEP, DEFAULT_MAX_BYTES


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="baomi", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="start the inspecting proxy",
                         description="Start mitmproxy with baomi's addon.\n\n"
                         "  baomi run --policy policies/default.yaml --listen-port 8080",
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--policy", default=None, help="policy file (default: policies/default.yaml)")
    run.add_argument("--mode", default=_env("MODE", "regular"),
                     help="mitmproxy mode: regular, transparent, upstream:URL, wireguard, ...")
    run.add_argument("--listen-host", default=_env("LISTEN_HOST", "127.0.0.1"))
    run.add_argument("--listen-port", type=int, default=env_int("LISTEN_PORT", 8080))
    run.add_argument("--data-dir", type=Path, default=Path(_env("DATA_DIR", "var")),
                     help="CA, decision and incident logs (default ./var)")
    run.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE",
                     help="any mitmproxy option, repeatable (e.g. ssl_verify_upstream_trusted_ca=FILE)")
    run.add_argument("--workers", type=int, default=None,
                     help="detector processes in all (default: cores), split between --processes")
    run.add_argument("--processes", default=_env("PROCESSES", None), metavar="N",
                     help="proxy processes sharing the listening port, under one supervisor "
                     "(default: cores; 1: a single process, no supervisor)")
    run.add_argument("--metrics-host", default=_env("METRICS_HOST", "127.0.0.1"))
    run.add_argument("--metrics-port", type=int, default=env_int("METRICS_PORT", 9464),
                     help="Prometheus metrics, /healthz and /readyz (0 disables)")
    run.add_argument("--pac-proxy", default=_env("PAC_PROXY", None), metavar="HOST:PORT",
                     help="proxy address the PAC file at /proxy.pac (metrics port) hands "
                     "browsers (default: --listen-host:--listen-port)")
    run.add_argument("--decision-log-max-bytes", default=_env("DECISION_LOG_MAX_BYTES", None),
                     metavar="N", help="rotate decisions.jsonl before it grows past N bytes "
                     f"(default {DEFAULT_MAX_BYTES} = 100 MiB)")
    run.add_argument("--decision-log-keep", default=_env("DECISION_LOG_KEEP", None), metavar="K",
                     help=f"rotated copies kept, decisions.jsonl.1 (newest) .. .K (default "
                     f"{DEFAULT_KEEP}; 0 keeps none)")
    run.add_argument("--head-timeout", default=_env("HEAD_TIMEOUT", None), metavar="SECONDS",
                     help="close a client connection that has not sent a whole request head "
                     f"this long after connecting or opening a tunnel (default {HEAD_TIMEOUT})")
    run.add_argument("--body-timeout", default=_env("BODY_TIMEOUT", None), metavar="SECONDS",
                     help="answer 408 and close when a request body has not arrived this long "
                     f"after its head, plus 1 s per --body-min-rate bytes received (default "
                     f"{BODY_TIMEOUT})")
    run.add_argument("--body-min-rate", default=_env("BODY_MIN_RATE", None), metavar="BYTES",
                     help="bytes of request body that earn it 1 s more; 0: --body-timeout is "
                     f"the whole body's time (default {BODY_MIN_RATE}, as Apache's MinRate)")
    run.add_argument("--idle-timeout", default=_env("IDLE_TIMEOUT", None), metavar="SECONDS",
                     help="close a keep-alive client connection idle this long after its last "
                     f"response (default {IDLE_TIMEOUT})")
    run.add_argument("--max-connections", default=_env("MAX_CONNECTIONS", None), metavar="N",
                     help="open client connections per proxy process; more are refused at once "
                     f"(default {MAX_CONNECTIONS}, lowered to what the open-files limit allows)")
    run.add_argument("--console-url", default=_env("CONSOLE_URL", DEFAULT_CONSOLE_URL),
                     metavar="URL", help="the console's address as users' browsers reach it; "
                     f"block pages link to its transfer application form (default {DEFAULT_CONSOLE_URL})")
    run.set_defaults(handler=cmd_run)

    scan = sub.add_parser("scan", help="scan bodies, HAR or flow files offline",
                          description="  baomi scan --json capture.har\n  cat body.txt | baomi scan -",
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    scan.add_argument("inputs", nargs="+", metavar="INPUT", help="body file, '-', HAR or flow file")
    scan.add_argument("--policy", default=None)
    scan.add_argument("--json", action="store_true", help="one JSON object per request")
    scan.add_argument("--show-values", action="store_true", help="print raw values (careful)")
    scan.add_argument("--content-type", default=None, help="content type of raw body inputs")
    scan.add_argument("--url", default="https://scan.invalid/", help="URL assumed for raw bodies")
    scan.set_defaults(handler=cmd_scan)

    policy = sub.add_parser("policy", help="policy tools")
    psub = policy.add_subparsers(dest="policy_command", required=True, metavar="COMMAND")
    check = psub.add_parser("check", help="validate a policy file",
                            description="  baomi policy check policies/default.yaml\n"
                            "  baomi policy check policies/default.yaml --data-dir var",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("file")
    check.add_argument("--data-dir", type=Path, default=_env("DATA_DIR", None),
                       help="also show the approvals kept in this data dir (baomi approvals; "
                       "default $BAOMI_DATA_DIR when set)")
    check.set_defaults(handler=cmd_policy_check)

    ca = sub.add_parser("ca", help="the interception CA")
    csub = ca.add_subparsers(dest="ca_command", required=True, metavar="COMMAND")
    export = csub.add_parser("export", help="write the CA certificate for clients",
                             description="  baomi ca export --data-dir var --out baomi-ca.pem")
    export.add_argument("--data-dir", type=Path, default=Path(_env("DATA_DIR", "var")))
    export.add_argument("--out", required=True, help="output file ('-' for stdout)")
    export.add_argument("--format", choices=("pem", "der"), default="pem")
    export.set_defaults(handler=cmd_ca_export)

    _register_optional(sub)
    return parser


# Commands that live with their own feature package: module -> its register(subparsers).
FEATURE_COMMANDS = ("proxy.cli.incidents", "proxy.cli.doctor", "proxy.cli.edm", "proxy.cli.console",
                    "proxy.cli.approvals")


def _register_optional(sub) -> None:
    import importlib

    for name in FEATURE_COMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:  # the feature exists but a dependency of it is missing
                raise
            continue
        module.register(sub)


def refuse_mitmproxy_proxyauth(sets: list[str]) -> None:
    """mitmproxy's own proxyauth keeps the client's password in flow.metadata (saved with
    flows): baomi authenticates through the policy's identity section instead."""
    for item in sets:
        if item.partition("=")[0].strip().lower() == "proxyauth":
            raise UsageError("--set proxyauth: mitmproxy's proxy authentication keeps "
                             "passwords with the flows; use the policy's identity.proxyauth "
                             "(policies/REFERENCE.md)")


def cmd_run(args) -> int:
    from proxy.act.application_link import console_url_warning
    from proxy.app.run import run
    from proxy.app.settings import RunSettings

    refuse_mitmproxy_proxyauth(args.sets)
    if warning := console_url_warning(args.console_url, args.listen_host):
        print(warning, file=sys.stderr)
    settings = RunSettings(
        policy=Path(args.policy or default_policy()), mode=args.mode,
        listen_host=args.listen_host, listen_port=args.listen_port, data_dir=args.data_dir,
        sets=tuple(args.sets), workers=args.workers, metrics_host=args.metrics_host,
        processes=_whole_number("--processes", args.processes, 0, 1) or None,
        metrics_port=args.metrics_port or None, pac_proxy=args.pac_proxy,
        decision_log_max_bytes=_whole_number("--decision-log-max-bytes",
                                             args.decision_log_max_bytes, DEFAULT_MAX_BYTES, 1),
        decision_log_keep=_whole_number("--decision-log-keep", args.decision_log_keep,
                                        DEFAULT_KEEP, 0),
        console_url=args.console_url,
        head_timeout=_whole_number("--head-timeout", args.head_timeout, HEAD_TIMEOUT, 1),
        idle_timeout=_whole_number("--idle-timeout", args.idle_timeout, IDLE_TIMEOUT, 1),
        body_timeout=_whole_number("--body-timeout", args.body_timeout, BODY_TIMEOUT, 1),
        body_min_rate=_whole_number("--body-min-rate", args.body_min_rate, BODY_MIN_RATE, 0),
        max_connections=_whole_number("--max-connections", args.max_connections,
                                      MAX_CONNECTIONS, 1),
    )
    return run(settings)


def _whole_number(flag: str, text: str | None, default: int, minimum: int) -> int:
    """A flag's (or its BAOMI_* variable's) whole number: '1048576' -> 1048576; raises UsageError."""
    if text is None:
        return default
    value = int(text) if text.strip().isdecimal() else None
    if value is None or value < minimum:
        raise UsageError(f"{flag} must be a whole number >= {minimum}, got {text!r}")
    return value


def cmd_scan(args) -> int:
    from detectors.engine import Detector
    from policies.load import load_policy
    from proxy.tools.scan import print_human, scan

    policy = load_policy(args.policy or default_policy())
    detector = Detector(policy.detection)
    for result in scan(policy, detector, args.inputs, args.content_type, args.url):
        if args.json:
            print(json.dumps(result.as_json(args.show_values), ensure_ascii=False), flush=True)
        else:
            print_human(result, args.show_values)
    return 0


def cmd_policy_check(args) -> int:
    from policies.load import load_policy, summarize

    policy = load_policy(args.file)
    print(f"{args.file}: valid ({policy.hash})")
    print(summarize(policy))
    if args.data_dir is not None:
        from datetime import UTC, datetime

        from proxy.cli.approvals import summary_lines

        print("\n".join(summary_lines(args.data_dir, datetime.now(UTC))))
    return 0


def cmd_ca_export(args) -> int:
    from proxy.app.ca import export

    source = export(args.data_dir, args.out, args.format)
    if args.out != "-":
        print(f"wrote {args.format.upper()} CA certificate to {args.out} (from {source})", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        # Building the parser reads BAOMI_* defaults: a bad one is an `Error:`, not a traceback.
        args = build_parser().parse_args(argv)
        return args.handler(args)
    except PolicyError as e:
        for line in e.errors:
            print(f"Error: {line}", file=sys.stderr)
        return 2
    except BaomiError as e:  # 2: input the admin must fix (UsageError, KeyStoreError), else 1
        print(f"Error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `baomi ... | head`: the reader left; no traceback, no more output
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
