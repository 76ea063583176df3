"""`baomi doctor`: check what admins get wrong before baomi meets real traffic.

    baomi doctor --policy /etc/baomi/policy.yaml --data-dir /var/lib/baomi --mode transparent
    baomi doctor --json --skip detector          # machines; skip the slow detector load

Each check prints ``OK``, ``WARN`` or ``FAIL`` with what it saw and, unless OK, the fix.
Exit status 1 when anything FAILs. Checks: ip-forwarding, redirect-rules, quic-dropped
(transparent mode), ca, keys (every private key in the data dir: 0600 in a 0700 directory;
the reviewer private key must leave the host: WARN on the first day, FAIL after), policy,
listen-port, metrics-port, detector.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from proxy.app.settings import RunSettings
from proxy.errors import PolicyError

OK, WARN, FAIL = "OK", "WARN", "FAIL"
CA_WARN_DAYS = 30
REVIEWER_KEY_GRACE = dt.timedelta(hours=24)  # first start writes it; then it must be gone
DETECTOR_TIMEOUT = 180.0  # a cold detector load takes ~15 s on 2 cores; a network hang never ends
PROBE_TEXT = "客户手机 13800138000"  # must yield PHONE_NUMBER with any sane policy


@dataclass(frozen=True)
class Check:
    """One result line: ``FAIL ca: key file is 0644`` plus how to fix it."""

    name: str
    status: str  # OK | WARN | FAIL
    message: str
    fix: str = ""


# What the admin runs (or will run) ``baomi run`` with: the same settings object as `run`.
Setup = RunSettings


# -- network (transparent mode) -------------------------------------------------------------------

def check_ip_forwarding(setup: Setup, proc: Path = Path("/proc")) -> Check:
    if not setup.transparent:
        return Check("ip-forwarding", OK, f"not needed in {setup.mode} mode")
    fix = ("sysctl -w net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 "
           "(and persist it in /etc/sysctl.d/)")
    v4 = _read_flag(proc / "sys/net/ipv4/ip_forward")
    v6 = _read_flag(proc / "sys/net/ipv6/conf/all/forwarding")
    if v4 is not True:
        return Check("ip-forwarding", FAIL, "IPv4 forwarding is off: the gateway routes nothing",
                     fix)
    if v6 is False:
        return Check("ip-forwarding", WARN, "IPv4 forwarding on, IPv6 off (IPv6 clients cut off)",
                     fix)
    return Check("ip-forwarding", OK, "IPv4 and IPv6 forwarding on" if v6 else "IPv4 forwarding on")


def _read_flag(path: Path) -> bool | None:
    try:
        return path.read_text().strip() == "1"
    except OSError:
        return None


@dataclass(frozen=True)
class Ruleset:
    """The firewall as text: ``nft list ruleset`` and ``iptables-save`` (both families)."""

    nft: str
    iptables: str
    unreadable: tuple[str, ...]  # tools that exist but could not be read (not root?)


_COMMENT = re.compile(r'(?:--)?comment "[^"]*"')


def read_ruleset() -> Ruleset:
    texts, unreadable = {"nft": "", "iptables": ""}, []
    commands = {"nft": [["nft", "list", "ruleset"]],
                "iptables": [["iptables-save"], ["ip6tables-save"]]}
    for kind, argvs in commands.items():
        for argv in argvs:
            if not shutil.which(argv[0]):
                continue
            done = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
            if done.returncode != 0:
                unreadable.append(argv[0])
            texts[kind] += done.stdout
    return Ruleset(texts["nft"], texts["iptables"], tuple(unreadable))


def _without_comments(text: str) -> str:
    # A comment such as "drop later" on an accept rule must not count as a drop.
    return _COMMENT.sub("", text)


def check_redirect_rules(setup: Setup, rules: Ruleset) -> Check:
    if not setup.transparent:
        return Check("redirect-rules", OK, f"not needed in {setup.mode} mode")
    port = setup.listen_port
    nft = re.search(rf"\bredirect to :{port}\b", _without_comments(rules.nft))
    ipt = re.search(rf"-j REDIRECT --to-ports {port}\b", _without_comments(rules.iptables))
    if nft or ipt:
        return Check("redirect-rules", OK,
                     f"TCP is redirected to :{port} ({'nft' if nft else 'iptables'})")
    seen = "; cannot read: " + ", ".join(rules.unreadable) if rules.unreadable else ""
    return Check("redirect-rules", FAIL,
                 f"no NAT REDIRECT to port {port}: clients are not inspected{seen}",
                 "load deploy/transparent/baomi.nft (nft -f) or run deploy/transparent/iptables.sh "
                 f"start, with BAOMI_PORT={port}")


_NFT_UDP443 = re.compile(r"udp dport (?:443|\{[^}]*\b443\b[^}]*\})\b.*\bdrop\b")
_IPT_UDP443 = re.compile(r"-p udp\b.*--dports? (?:[\d,]*\b)?443\b.*-j DROP")


def check_quic_dropped(setup: Setup, rules: Ruleset) -> Check:
    if not setup.transparent:
        return Check("quic-dropped", OK, f"not checked in {setup.mode} mode (firewall's job)")
    nft, ipt = _without_comments(rules.nft), _without_comments(rules.iptables)
    if _NFT_UDP443.search(nft) or _IPT_UDP443.search(ipt):
        return Check("quic-dropped", OK, "UDP 443 (QUIC) is dropped: clients fall back to TCP")
    return Check("quic-dropped", FAIL,
                 "UDP 443 is not dropped: HTTP/3 (QUIC) goes out uninspected",
                 "load deploy/transparent/baomi.nft or iptables.sh (they drop LAN UDP 443)")


def check_listen_address(setup: Setup) -> Check:
    loopback = setup.listen_host in ("127.0.0.1", "::1", "localhost")
    if setup.transparent and loopback:
        return Check("listen-address", FAIL,
                     f"transparent mode on {setup.listen_host}: REDIRECTed LAN connections "
                     "arrive on the LAN address and never reach a loopback listener",
                     "baomi run --listen-host 0.0.0.0 (the rules still decide who gets in)")
    return Check("listen-address", OK, f"{setup.listen_host}:{setup.listen_port}")


# -- CA -------------------------------------------------------------------------------------------

def check_ca(data_dir: Path, now: dt.datetime | None = None) -> list[Check]:
    confdir = data_dir / "ca"
    key_file, cert_file = confdir / "mitmproxy-ca.pem", confdir / "mitmproxy-ca-cert.pem"
    if not key_file.exists():
        return [Check("ca", WARN, f"no CA in {confdir} yet",
                      f"baomi run --data-dir {data_dir} creates one; then `baomi ca export`")]
    return [_ca_permissions(confdir), _ca_validity(key_file, cert_file, now)]


def _ca_permissions(confdir: Path) -> Check:
    from proxy.app.ca import ca_keys
    from proxy.app.keys_at_rest import exposures

    found = exposures(ca_keys(confdir.parent), {confdir: "CA private key"})
    if found:
        return Check("ca-permissions", FAIL,
                     "; ".join(e.message for e in found) + ": other users can read the CA "
                     "private key", " && ".join(e.fix for e in found)
                     + "; if anyone else could have copied the key, make a new CA")
    return Check("ca-permissions", OK, "directory 0700, private key 0600")


def _ca_validity(key_file: Path, cert_file: Path, now: dt.datetime | None) -> Check:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        PublicFormat,
        load_pem_private_key,
    )

    try:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        key = load_pem_private_key(key_file.read_bytes(), password=None)
    except (OSError, ValueError) as e:
        return Check("ca-certificate", FAIL, f"cannot load the CA: {type(e).__name__}",
                     "restore the CA files from backup, or make a new CA and redistribute it")
    spki = (Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    if key.public_key().public_bytes(*spki) != cert.public_key().public_bytes(*spki):
        return Check("ca-certificate", FAIL, f"{cert_file.name} does not belong to the CA key",
                     "export the certificate again: baomi ca export")
    now = now or dt.datetime.now(dt.UTC)
    left = cert.not_valid_after_utc - now
    expires = cert.not_valid_after_utc.date().isoformat()
    renew = ("make a new CA (move DIR/ca aside, start baomi) and distribute its certificate "
             "before the old one expires")
    if left <= dt.timedelta(0):
        return Check("ca-certificate", FAIL, f"CA certificate expired on {expires}", renew)
    if left < dt.timedelta(days=CA_WARN_DAYS):
        return Check("ca-certificate", WARN,
                     f"CA certificate expires in {left.days} days ({expires})", renew)
    return Check("ca-certificate", OK, f"valid until {expires}")


# -- private keys ---------------------------------------------------------------------------------

_KEY_CHECKS = {"checkpoint-signing key": "signing-key", "mask fingerprint key": "mask-key",
               "reviewer private key": "reviewer-private-key"}


def check_keys(data_dir: Path, now: dt.datetime | None = None) -> list[Check]:
    """One line per private key baomi keeps outside ``ca/`` (that is check_ca's), present or
    not, then one per other private key found in the data dir."""
    from proxy.app.keys_at_rest import KNOWN, exposures, private_keys

    present = {k.path: k for k in private_keys(data_dir)}
    checks = []
    for rel, what in KNOWN:
        if what not in _KEY_CHECKS:
            continue
        key = present.pop(data_dir / rel, None)
        name = _KEY_CHECKS[what]
        if key is None:
            checks.append(Check(name, OK, "not on this host" if name == "reviewer-private-key"
                                else f"none yet: baomi run creates {data_dir / rel} (0600)"))
            continue
        checks.append(_key_check(name, key, exposures([key]), now))
    for key in present.values():
        if not key.path.is_relative_to(data_dir / "ca"):
            checks.append(_key_check("private-key", key, exposures([key]), now))
    return checks


def _key_check(name: str, key, exposed: list, now: dt.datetime | None) -> Check:
    if exposed:
        return Check(name, FAIL, "; ".join(e.message for e in exposed),
                     " && ".join(e.fix for e in exposed)
                     + "; if anyone else could have copied the key, replace it")
    if name != "reviewer-private-key":
        return Check(name, OK, f"{key.path} 0600 in a 0700 directory")
    now = now or dt.datetime.now(dt.UTC)
    age = now - dt.datetime.fromtimestamp(key.path.stat().st_mtime, dt.UTC)
    status = FAIL if age >= REVIEWER_KEY_GRACE else WARN
    hours = max(0, int(age.total_seconds() // 3600))
    return Check(name, status,
                 f"{key.path} has been on this host for {hours} h: whoever holds it can decrypt "
                 "every incident's evidence",
                 f"give it to the security reviewers (password manager, HSM, offline media), then "
                 f"shred -u {key.path}")


# -- policy, ports, detector ----------------------------------------------------------------------

def check_policy(path: Path):  # -> tuple[Check, Policy | None]
    from policies.load import load_policy

    try:
        policy = load_policy(path)
    except PolicyError as e:
        shown = e.errors[:5] + ([f"... {len(e.errors) - 5} more"] if len(e.errors) > 5 else [])
        return Check("policy", FAIL, "; ".join(shown),
                     f"fix the lines named above; check with: baomi policy check {path}"), None
    return Check("policy", OK, f"{path} valid ({policy.hash[:19]})"), policy


def check_port(
    name: str, host: str, port: int, owner: Callable[[int], str | None] | None = None
) -> Check:
    """Free, or held by a baomi process (already running: fine), else FAIL."""
    if port == 0:
        return Check(name, OK, "off")
    if _can_bind(host, port):
        return Check(name, OK, f"{host}:{port} is free")
    command = (owner or port_owner)(port)
    if command and "baomi" in command:
        return Check(name, OK, f"{host}:{port} is in use by baomi ({command[:60]})")
    who = f"by {command[:60]}" if command else "by another process"
    return Check(name, FAIL, f"{host}:{port} is in use {who}",
                 f"stop that process or choose another port (--{name} / BAOMI_"
                 f"{name.upper().replace('-', '_')})")


def _can_bind(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As the asyncio server mitmproxy uses: TIME_WAIT leftovers do not count as taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def port_owner(port: int) -> str | None:
    """The command line of the process listening on TCP ``port`` (``ss -ltnp``), if visible."""
    if not shutil.which("ss"):
        return None
    done = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True,
                          timeout=10, check=False)
    match = re.search(r"pid=(\d+)", done.stdout)
    if not match:
        return None
    try:
        raw = Path(f"/proc/{match.group(1)}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def check_detector(policy, timeout: float = DETECTOR_TIMEOUT) -> Check:
    """Build the policy's detector in a child process with no network (when we may make one)."""
    isolated = _can_isolate()
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    worker = context.Process(target=_probe_detector, args=(str(policy.path), isolated, child),
                             daemon=True)
    worker.start()
    child.close()
    try:
        if not parent.poll(timeout):
            return Check("detector", FAIL, f"detector did not load within {timeout:.0f} s "
                         "(a model or list being fetched over the network?)",
                         "run `baomi scan -` once to see where it hangs; install models locally")
        status, detail = parent.recv()
    except EOFError:
        return Check("detector", FAIL, "detector process died while loading",
                     "run `baomi scan -` to see the error")
    finally:
        if worker.is_alive():
            worker.kill()
        worker.join(5)
    where = "with no network" if isolated else "(network not isolated: run as root to test that)"
    if status != "ok":
        return Check("detector", FAIL, f"detector failed {where}: {detail}",
                     "fix detection settings (extra_recognizers, EDM files) in the policy")
    return Check("detector", OK, f"loaded {where}; probe found {detail}")


def _can_isolate() -> bool:
    return hasattr(os, "unshare") and os.geteuid() == 0


def _probe_detector(policy_path: str, isolate: bool, conn) -> None:
    """Child process: leave the network (new empty namespace), build, analyse a probe."""
    try:
        if isolate:
            os.unshare(os.CLONE_NEWNET)  # only a down loopback: any fetch fails at once
        from detectors.engine import Detector
        from detectors.model import Segment
        from policies.load import load_policy

        detector = Detector(load_policy(policy_path).detection)
        found = sorted({f.entity for f in detector.analyze([Segment(PROBE_TEXT, "doctor")])})
        if "PHONE_NUMBER" not in found:
            conn.send(("error", f"probe found {found or 'nothing'}, expected PHONE_NUMBER"))
        else:
            conn.send(("ok", ", ".join(found)))
    except Exception as e:  # noqa: BLE001 - any load error is reported as a FAIL line
        conn.send(("error", f"{type(e).__name__}: {str(e)[:200]}"))
    finally:
        conn.close()


# -- all together ---------------------------------------------------------------------------------

CHECKS = ("ip-forwarding", "redirect-rules", "quic-dropped", "listen-address", "ca", "keys",
          "policy", "identity", "listen-port", "metrics-port", "detector")


def run_checks(setup: Setup, skip: frozenset[str] = frozenset()) -> Iterator[Check]:
    """Every check not in ``skip``, in a fixed order; the slow detector load last."""
    if setup.transparent and not skip >= {"redirect-rules", "quic-dropped"}:
        rules = read_ruleset()
    else:
        rules = Ruleset("", "", ())
    quick: dict[str, Callable[[], list[Check]]] = {
        "ip-forwarding": lambda: [check_ip_forwarding(setup)],
        "redirect-rules": lambda: [check_redirect_rules(setup, rules)],
        "quic-dropped": lambda: [check_quic_dropped(setup, rules)],
        "listen-address": lambda: [check_listen_address(setup)],
        "ca": lambda: check_ca(setup.data_dir),
        "keys": lambda: check_keys(setup.data_dir),
        "listen-port": lambda: [check_port("listen-port", setup.listen_host, setup.listen_port)],
        "metrics-port": lambda: [check_port("metrics-port", setup.metrics_host,
                                            setup.metrics_port or 0)],
    }
    for name, check in quick.items():
        if name not in skip:
            yield from check()
    policy_check, policy = check_policy(setup.policy)
    if "policy" not in skip:
        yield policy_check
    if "identity" not in skip and policy is not None:
        yield from check_identity(policy)
    if "detector" in skip:
        return
    if policy is None:
        yield Check("detector", WARN, "not checked: the policy is invalid", "fix the policy first")
    else:
        yield check_detector(policy)


def check_identity(policy) -> list[Check]:
    """htpasswd readable and not world-readable, LDAP reachable with the service account over
    verified TLS, the IP map fresh, the groups file valid (proxy.identity.checks); nothing
    when the policy identifies nobody."""
    import time

    from proxy.identity.checks import identity_checks

    return [Check(*result) for result in identity_checks(policy.identity, time.time())]


def print_human(checks: list[Check], out=sys.stdout) -> None:
    for c in checks:
        print(f"{c.status:<4} {c.name}: {c.message}", file=out)
        if c.fix and c.status != OK:
            print(f"     fix: {c.fix}", file=out)
