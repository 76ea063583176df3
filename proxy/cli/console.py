"""``baomi console ...``: the reviewers' web console and its accounts.

    baomi console --data-dir var                                   # http://127.0.0.1:9465/
    baomi console --data-dir var --listen-host 0.0.0.0 --tls-cert c.pem --tls-key k.pem
    printf '%s\\n' "$PW" | baomi console users add alice --role reviewer --password-stdin
    baomi console users list --data-dir var
    baomi console users disable alice --data-dir var
    baomi console --data-dir var --policy corp.yaml --ldap-role secops=reviewer \
        --ldap-role dpo=approver          # directory users get roles from their groups
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from proxy.cli.defaults import _env, env_int
from proxy.errors import UsageError

_RAW = argparse.RawDescriptionHelpFormatter
DESCRIPTION = """The reviewers' web console (incidents, transfer applications, accounts).

  baomi console --data-dir var                           # http://127.0.0.1:9465/
  baomi console --data-dir var --listen-host 0.0.0.0 --tls-cert c.pem --tls-key k.pem
  printf '%s\\n' "$PW" | baomi console users add alice --role reviewer --password-stdin
  baomi console users list --data-dir var
  baomi console --data-dir var --policy corp.yaml --ldap-role secops=reviewer
                                   # LDAP users get the roles of their groups
"""
DEFAULT_PORT = 9465


def _data_dir(p: argparse.ArgumentParser, inherit: bool = False) -> None:
    """``inherit``: a `users` subcommand keeps `baomi console --data-dir X users ...`'s X."""
    p.add_argument("--data-dir", type=Path,
                   default=argparse.SUPPRESS if inherit else Path(_env("DATA_DIR", "var")),
                   help="baomi data directory (default ./var): the incident log and "
                   "console/users.json")


def register(subparsers: argparse._SubParsersAction) -> None:
    from proxy.console.users import ROLES

    c = subparsers.add_parser("console", help="the reviewers' web console",
                              description=DESCRIPTION, formatter_class=_RAW)
    _data_dir(c)
    c.add_argument("--listen-host", default=_env("CONSOLE_HOST", "127.0.0.1"))
    c.add_argument("--listen-port", type=int, default=env_int("CONSOLE_PORT", DEFAULT_PORT))
    c.add_argument("--tls-cert", type=Path, help="PEM certificate (chain); needed off loopback")
    c.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    c.add_argument("--idle-minutes", type=float, default=20.0,
                   help="log a session out after this long without a request (default 20)")
    c.add_argument("--policy", type=Path, help="the proxy's policy file: its approvals are "
                   "shown beside the data dir's; with --ldap-role, its identity.proxyauth.ldap "
                   "authenticates directory users")
    c.add_argument("--ldap-role", action="append", default=[], metavar="GROUP=ROLE",
                   help="members of LDAP group GROUP get ROLE (repeatable); needs --policy")
    c.set_defaults(handler=cmd_console)

    sub = c.add_subparsers(dest="console_command", metavar="COMMAND")
    users = sub.add_parser("users", help="console accounts")
    usub = users.add_subparsers(dest="users_command", required=True, metavar="COMMAND")
    add = usub.add_parser("add", help="create an account", formatter_class=_RAW,
                          description="  printf '%s\\n' \"$PW\" | baomi console users add alice "
                          "--role reviewer --password-stdin\n"
                          "Roles do not nest; repeat --role for several.")
    _data_dir(add, inherit=True)
    add.add_argument("name")
    add.add_argument("--role", action="append", required=True, choices=ROLES)
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of stdin")
    add.set_defaults(handler=cmd_users_add)
    ls = usub.add_parser("list", help="accounts and their roles (no hashes)")
    _data_dir(ls, inherit=True)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=cmd_users_list)
    dis = usub.add_parser("disable", help="disable an account (kept, for the history)")
    _data_dir(dis, inherit=True)
    dis.add_argument("name")
    dis.set_defaults(handler=cmd_users_disable)


def cmd_console(args: argparse.Namespace) -> int:
    from proxy.console.app import ConsoleSettings, create_app
    from proxy.console.serve import check_listen, serve

    if (args.tls_cert is None) != (args.tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    tls = (args.tls_cert, args.tls_key) if args.tls_cert else None
    check_listen(args.listen_host, tls)  # before anything else: refuse early and clearly
    if not 1 <= args.idle_minutes <= 24 * 60:
        raise UsageError("--idle-minutes must be between 1 and 1440")
    extra = {}
    if args.policy is not None:
        from policies.load import load_policy

        load_policy(args.policy)  # a bad file stops start-up here, not on a page later
        extra["BAOMI_POLICY"] = str(args.policy)
    app = create_app(ConsoleSettings(data_dir=args.data_dir, tls=tls is not None,
                                     idle_minutes=args.idle_minutes,
                                     accounts=_ldap_accounts(args), extra=extra))
    return serve(app, args.listen_host, args.listen_port, tls)


def _ldap_accounts(args: argparse.Namespace):
    """LdapAccounts when --ldap-role is given (with --policy), else None (the users file)."""
    if not args.ldap_role:
        return None
    if args.policy is None:
        raise UsageError("--ldap-role needs --policy (its identity.proxyauth.ldap)")
    from proxy.console.ldap_roles import LdapAccounts, directory_from_policy, parse_mapping
    from proxy.console.users import Users

    mapping = parse_mapping(args.ldap_role)
    return LdapAccounts(directory_from_policy(args.policy), mapping, Users(args.data_dir))


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    if not sys.stdin.isatty():
        raise UsageError("no terminal to ask for the password: use --password-stdin")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise UsageError("the two passwords differ")
    return first


def cmd_users_add(args: argparse.Namespace) -> int:
    from proxy.console.users import Users

    account = Users(args.data_dir).add(args.name, args.role, _read_password(args.password_stdin))
    print(f"added {account.name} ({', '.join(account.roles)})")
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    from proxy.console.users import Users

    for a in Users(args.data_dir).accounts():
        if args.json:
            print(json.dumps({"name": a.name, "roles": list(a.roles), "disabled": a.disabled,
                              "created": a.created}))
        else:
            state = "disabled" if a.disabled else "active"
            print(f"{a.name}\t{','.join(a.roles)}\t{state}\t{a.created}")
    return 0


def cmd_users_disable(args: argparse.Namespace) -> int:
    from proxy.console.users import Users

    Users(args.data_dir).disable(args.name)
    print(f"disabled {args.name} (a running console ends their session at its next request)")
    return 0
