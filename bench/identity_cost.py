"""What each identification method costs per request, through the real resolver.

    .venv/bin/python bench/identity_cost.py [--n 2000]

Each method is configured by a real policy (``identity:`` section, loaded by policies.load)
and asked ``IdentityResolver.resolve`` the way the addon asks it for every request:
  proxyauth (htpasswd, bcrypt cost 10): the first request of a user, then the cached ones;
  proxyauth (LDAP over LDAPS, a real slapd from tests/ldap_server.py): first and cached;
  header (a trusted upstream proxy's user header) with a groups file;
  ipmap (10,000 address -> user lines).
Without an ``identity:`` section nothing is resolved at all (zero cost).
Prints microseconds per request (median over --n calls, the first call separately).
Needs Debian's slapd for the LDAP rows (skipped with a note otherwise). Not a test.
"""

from __future__ import annotations

import argparse
import base64
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import bcrypt

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from policies.load import load_policy  # noqa: E402
from proxy.identity.resolve import Claims, IdentityResolver  # noqa: E402

BASE = "version: 1\nmode: enforce\ndefault_action: allow\nrules: []\n"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def timed(resolver: IdentityResolver, claims: Claims, n: int) -> tuple[float, float, str]:
    start = time.perf_counter()
    first = resolver.resolve(claims)
    first_us = (time.perf_counter() - start) * 1e6
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        resolver.resolve(claims)
        samples.append((time.perf_counter() - start) * 1e6)
    return first_us, statistics.median(samples), first.identity.method


def resolver_for(tmp: Path, identity_yaml: str) -> IdentityResolver:
    path = tmp / f"policy-{abs(hash(identity_yaml))}.yaml"
    path.write_text(BASE + identity_yaml)
    return IdentityResolver(load_policy(path).identity)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    n = ap.parse_args().n
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        digest = bcrypt.hashpw(b"alice-pw", bcrypt.gensalt(10)).decode()
        (tmp / "users.htpasswd").write_text(f"alice:{digest}\n")
        (tmp / "users.htpasswd").chmod(0o600)
        (tmp / "groups.yaml").write_text("groups:\n  payroll: [alice]\n  staff: [alice, bob]\n")
        (tmp / "ipmap.txt").write_text("".join(
            f"10.{i // 250}.{i % 250}.1 user{i}\n" for i in range(10_000)) + "10.99.0.7 alice\n")

        htpasswd = resolver_for(tmp, f"identity:\n  methods: [proxyauth]\n  proxyauth:\n"
                                     f"    htpasswd: {tmp / 'users.htpasswd'}\n")
        rows.append(("proxyauth htpasswd",) + timed(
            htpasswd, Claims("10.0.0.7", True, proxy_authorization=basic("alice", "alice-pw")), n))
        header = resolver_for(tmp, f"identity:\n  methods: [header]\n  header:\n"
                                   f"    name: X-Authenticated-User\n"
                                   f"    trusted_cidrs: [10.0.0.0/8]\n"
                                   f"  groups: {{file: {tmp / 'groups.yaml'}}}\n")
        rows.append(("header + groups file",) + timed(
            header, Claims("10.0.0.7", True, header_user="alice"), n))
        ipmap = resolver_for(tmp, f"identity:\n  methods: [ipmap]\n  ipmap:\n"
                                  f"    file: {tmp / 'ipmap.txt'}\n")
        rows.append(("ipmap (10,001 lines)",) + timed(ipmap, Claims("10.99.0.7", False), n))

        if shutil.which("slapd") or Path("/usr/sbin/slapd").exists():
            from ldap_server import Slapd

            with Slapd(tmp / "slapd") as ldap:
                s = ldap.settings()
                text = (f"identity:\n  methods: [proxyauth]\n  proxyauth:\n    ldap:\n"
                        f"      url: {s['url']}\n      ca_file: {s['ca_file']}\n"
                        f"      bind_dn: \"{s['bind_dn']}\"\n"
                        f"      bind_password_file: {s['bind_password_file']}\n"
                        f"      user_base: \"{s['user_base']}\"\n")
                resolver = resolver_for(tmp, text)
                claims = Claims("10.0.0.7", True,
                                proxy_authorization=basic("alice", ldap.password("alice")))
                rows.append(("proxyauth LDAP (LDAPS)",) + timed(resolver, claims, min(n, 500)))
                resolver.close()
        else:
            print("(no slapd: the LDAP row is left out)")

    print(f"{'method':26}{'first request µs':>18}{'then, median µs':>17}  found by")
    for name, first, median, method in rows:
        print(f"{name:26}{first:>18.0f}{median:>17.1f}  {method}")


if __name__ == "__main__":
    main()
