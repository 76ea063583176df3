"""`baomi doctor` (proxy/tools/doctor.py): each check on the mistakes it exists to catch.

Pure checks are table-driven over made-up CAs, policies, /proc trees and rule sets; the
firewall checks also run for real inside a namespace lab (tests/netns.py) before and after
the shipped rules are loaded.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import netns
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from harness import BAOMI, REPO, free_port

from proxy.app.ca import secure_ca_dir
from proxy.tools import doctor
from proxy.tools.doctor import FAIL, OK, WARN, Ruleset, Setup

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
POLICY = REPO / "policies" / "default.yaml"


def setup(mode: str = "transparent", **changes) -> Setup:
    return Setup(policy=POLICY, data_dir=Path("/nonexistent"), mode=mode, **changes)


# -- CA ---------------------------------------------------------------------------------------------

def write_ca(data_dir: Path, days_left: float, other_key: bool = False) -> Path:
    """A CA laid out as mitmproxy does: key + cert in mitmproxy-ca.pem, cert alone beside it."""
    confdir = data_dir / "ca"
    confdir.mkdir(parents=True, mode=0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "doctor test CA")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key((ec.generate_private_key(ec.SECP256R1()) if other_key else key).public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=400))
            .not_valid_after(NOW + dt.timedelta(days=days_left))
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    (confdir / "mitmproxy-ca.pem").write_bytes(key_pem + cert_pem)
    os.chmod(confdir / "mitmproxy-ca.pem", 0o600)
    (confdir / "mitmproxy-ca-cert.pem").write_bytes(cert_pem)
    return confdir


@pytest.mark.parametrize("days_left,status,words", [
    (-1, FAIL, "expired"),
    (0.5, WARN, "expires in 0 days"),
    (29, WARN, "expires in 29 days"),
    (31, OK, "valid until"),
    (3650, OK, "valid until"),
])
def test_ca_expiry(tmp_path, days_left, status, words):
    write_ca(tmp_path, days_left)
    checks = {c.name: c for c in doctor.check_ca(tmp_path, now=NOW)}
    assert checks["ca-certificate"].status == status
    assert words in checks["ca-certificate"].message
    assert checks["ca-permissions"].status == OK


@pytest.mark.parametrize("damage,words", [
    ("other-key", "does not belong"),
    ("garbage", "cannot load"),
])
def test_ca_that_cannot_work_fails(tmp_path, damage, words):
    confdir = write_ca(tmp_path, 365, other_key=damage == "other-key")
    if damage == "garbage":
        (confdir / "mitmproxy-ca-cert.pem").write_text("not a certificate")
    [_, validity] = doctor.check_ca(tmp_path, now=NOW)
    assert (validity.status, words in validity.message) == (FAIL, True)


@pytest.mark.parametrize("dir_mode,key_mode,status", [
    (0o700, 0o600, OK),
    (0o755, 0o600, FAIL),
    (0o700, 0o644, FAIL),
    (0o700, 0o640, FAIL),
    (0o750, 0o604, FAIL),
])
def test_ca_permissions_made_by_mitmproxy(tmp_path, dir_mode, key_mode, status):
    confdir = secure_ca_dir(tmp_path)  # the real thing: mitmproxy's CertStore files
    os.chmod(confdir / "mitmproxy-ca.pem", key_mode)
    os.chmod(confdir, dir_mode)
    checks = {c.name: c for c in doctor.check_ca(tmp_path)}
    assert checks["ca-permissions"].status == status
    assert checks["ca-certificate"].status == OK  # mitmproxy's CA is valid for years
    if status == FAIL:
        assert "chmod" in checks["ca-permissions"].fix


def test_missing_ca_is_a_warning_with_the_way_to_make_one(tmp_path):
    [check] = doctor.check_ca(tmp_path)
    assert (check.status, "baomi run" in check.fix) == (WARN, True)


# -- private keys -----------------------------------------------------------------------------------

def keyed_data_dir(data_dir: Path) -> Path:
    """What `baomi run` leaves after its first start (CA aside): keys/, reviewer key in DIR."""
    from proxy.record.incidents.keys import ensure_keys, ensure_mask_key

    ensure_keys(data_dir)
    ensure_mask_key(data_dir)
    return data_dir


def key_checks(data_dir: Path, now: dt.datetime | None = None) -> dict[str, doctor.Check]:
    return {c.name: c for c in doctor.check_keys(data_dir, now=now)}


def written_at(path: Path) -> dt.datetime:
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)


@pytest.mark.parametrize("hours,status", [(0, WARN), (23.9, WARN), (24, FAIL), (24 * 30, FAIL)])
def test_reviewer_private_key_left_on_the_host(tmp_path, hours, status):
    data = keyed_data_dir(tmp_path)
    key = data / "reviewer-private-key.pem"
    check = key_checks(data, now=written_at(key) + dt.timedelta(hours=hours))["reviewer-private-key"]
    assert check.status == status
    assert f"for {int(hours)} h" in check.message
    assert check.fix.endswith(f"then shred -u {key}")


def test_keys_made_by_first_start_are_ok_and_missing_ones_are_not_failures(tmp_path):
    data = keyed_data_dir(tmp_path)
    (data / "reviewer-private-key.pem").unlink()  # moved off the host, as it should be
    checks = key_checks(data)
    assert {n: c.status for n, c in checks.items()} == {
        "signing-key": OK, "mask-key": OK, "reviewer-private-key": OK}
    assert checks["reviewer-private-key"].message == "not on this host"
    empty = key_checks(tmp_path / "fresh")
    assert {c.status for c in empty.values()} == {OK}
    assert "none yet" in empty["signing-key"].message


@pytest.mark.parametrize("target,new_mode,name,fix", [
    ("keys/checkpoint-signing.pem", 0o644, "signing-key",
     "chmod 600 {data}/keys/checkpoint-signing.pem"),
    ("keys/mask-fingerprint.key", 0o640, "mask-key", "chmod 600 {data}/keys/mask-fingerprint.key"),
    ("keys", 0o755, "signing-key", "chmod 700 {data}/keys"),
    ("reviewer-private-key.pem", 0o644, "reviewer-private-key",
     "chmod 600 {data}/reviewer-private-key.pem"),
    (".", 0o711, "reviewer-private-key", "chmod 700 {data}"),
])
def test_key_others_can_open_fails_with_the_chmod(tmp_path, target, new_mode, name, fix):
    data = keyed_data_dir(tmp_path / "data")
    os.chmod(data / target, new_mode)
    check = key_checks(data)[name]
    assert check.status == FAIL
    assert f"{new_mode:04o}" in check.message
    assert check.fix.startswith(fix.format(data=data))


def test_other_private_key_in_the_data_dir_is_checked(tmp_path):
    data = keyed_data_dir(tmp_path)
    extra = data / "keys" / "edm.key"
    extra.write_text("00" * 32)
    os.chmod(extra, 0o644)
    [check] = [c for c in doctor.check_keys(data) if c.name == "private-key"]
    assert (check.status, check.fix.split(";")[0]) == (FAIL, f"chmod 600 {extra}")


def test_cli_json_reports_each_key(tmp_path):
    data = keyed_data_dir(tmp_path)
    os.chmod(data / "keys" / "checkpoint-signing.pem", 0o644)
    code, checks = doctor_cli("--data-dir", str(data), "--skip", "detector", "--skip", "policy",
                              "--listen-port", str(free_port()), "--metrics-port", "0")
    assert code == 1
    by_name = {c["check"]: c for c in checks}
    assert by_name["signing-key"]["status"] == FAIL
    assert by_name["signing-key"]["fix"].startswith(
        f"chmod 600 {data}/keys/checkpoint-signing.pem")
    assert (by_name["mask-key"]["status"], by_name["reviewer-private-key"]["status"]) == (OK, WARN)
    assert set(by_name["signing-key"]) == {"check", "status", "message", "fix"}


# -- policy -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,status,words", [
    (None, OK, "valid"),
    ("version: 2\n", FAIL, "policy.yaml:1:"),
    ("", FAIL, "empty"),
    ("version: 1\nrules: [\n", FAIL, "policy.yaml:"),
    ("missing", FAIL, "cannot read"),
])
def test_policy(tmp_path, text, status, words):
    path = tmp_path / "policy.yaml"
    if text is None:
        path.write_bytes(POLICY.read_bytes())
    elif text != "missing":
        path.write_text(text)
    check, policy = doctor.check_policy(path)
    assert (check.status, words in check.message) == (status, True), check.message
    assert (policy is None) == (status == FAIL)


# -- ports ------------------------------------------------------------------------------------------

def listener(argv0: str) -> tuple[subprocess.Popen, int]:
    """A process named ``argv0`` listening on a free port."""
    port = free_port()
    code = (f"import socket,sys,time; s=socket.socket(); s.bind(('127.0.0.1',{port})); "
            "s.listen(); print('up', flush=True); time.sleep(60)")
    proc = subprocess.Popen(["bash", "-c", f'exec -a {argv0} "$0" -c "$1"', sys.executable, code],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "up"
    return proc, port


@pytest.mark.parametrize("holder,status", [
    (None, OK),
    ("nginx", FAIL),
    ("/opt/baomi/.venv/bin/baomi", OK),  # baomi already running there is fine
])
def test_listen_port(holder, status):
    proc, port = listener(holder) if holder else (None, free_port())
    try:
        check = doctor.check_port("listen-port", "127.0.0.1", port)
    finally:
        if proc:
            proc.kill()
            proc.wait()
            proc.stdout.close()
    assert check.status == status, check.message
    if holder == "nginx" and os.geteuid() == 0:  # ss shows other users' processes to root only
        assert "nginx" in check.message


def test_port_zero_means_off():
    assert doctor.check_port("metrics-port", "127.0.0.1", 0).status == OK


# -- forwarding and rules (pure) --------------------------------------------------------------------

def fake_proc(tmp: Path, v4: str | None, v6: str | None) -> Path:
    for rel, value in (("sys/net/ipv4/ip_forward", v4), ("sys/net/ipv6/conf/all/forwarding", v6)):
        if value is not None:
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_text(value + "\n")
    return tmp


@pytest.mark.parametrize("mode,v4,v6,status", [
    ("transparent", "1", "1", OK),
    ("transparent", "1", None, OK),  # kernel without IPv6
    ("transparent", "1", "0", WARN),
    ("transparent", "0", "1", FAIL),
    ("transparent", None, None, FAIL),
    ("regular", "0", "0", OK),
    ("upstream:http://squid:3128", "0", "0", OK),
])
def test_ip_forwarding(tmp_path, mode, v4, v6, status):
    check = doctor.check_ip_forwarding(setup(mode), proc=fake_proc(tmp_path, v4, v6))
    assert check.status == status


NFT = """table inet baomi {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "lan0" ip saddr 198.18.1.0/24 tcp dport { 80, 443 } counter packets 0 bytes 0 redirect to :8080 comment "LAN web traffic -> baomi"
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		iifname "lan0" udp dport 443 counter packets 0 bytes 0 drop comment "no QUIC: clients fall back to inspected TCP"
	}
}
"""  # `nft list ruleset` after loading deploy/transparent/baomi.nft (trimmed)
IPT_NAT = ('-A BAOMI_PREROUTING -i lan0 -s 198.18.1.0/24 -p tcp -m multiport --dports 80,443 '
           '-m comment --comment "LAN web traffic to baomi" -j REDIRECT --to-ports 8080\n')
IPT_UDP = ('-A BAOMI_FORWARD -i lan0 -p udp -m udp --dport 443 -m comment --comment "no QUIC" '
           '-j DROP\n')


@pytest.mark.parametrize("nft,ipt,port,redirect,quic", [
    ("", "", 8080, FAIL, FAIL),
    (NFT, "", 8080, OK, OK),
    (NFT, "", 9090, FAIL, OK),  # redirected, but to another port than baomi's
    ("", IPT_NAT + IPT_UDP, 8080, OK, OK),
    ("", IPT_NAT, 8080, OK, FAIL),
    ("", IPT_UDP.replace("-j DROP", "-j ACCEPT"), 8080, FAIL, FAIL),
    ("udp dport 443 counter accept\n", "", 8080, FAIL, FAIL),
    ('udp dport 443 accept comment "drop later"\n', "", 8080, FAIL, FAIL),  # words in comments
    ('tcp dport 80 accept comment "redirect to :8080"\n', "", 8080, FAIL, FAIL),
])
def test_rules(nft, ipt, port, redirect, quic):
    rules = Ruleset(nft, ipt, ())
    s = setup(listen_port=port)
    assert doctor.check_redirect_rules(s, rules).status == redirect
    assert doctor.check_quic_dropped(s, rules).status == quic


@pytest.mark.parametrize("mode,host,status", [
    ("transparent", "127.0.0.1", FAIL),
    ("transparent", "0.0.0.0", OK),
    ("regular", "127.0.0.1", OK),
])
def test_listen_address(mode, host, status):
    assert doctor.check_listen_address(setup(mode, listen_host=host)).status == status


# -- detector ---------------------------------------------------------------------------------------

def test_detector_that_cannot_load_fails(tmp_path):
    policy_text = POLICY.read_text().replace("extra_recognizers: []",
                                             'extra_recognizers: ["no_such_module:Thing"]')
    path = tmp_path / "policy.yaml"
    path.write_text(policy_text)
    check, policy = doctor.check_policy(path)
    assert check.status == OK, check.message
    result = doctor.check_detector(policy)
    assert result.status == FAIL and "no_such_module" in result.message


def test_detector_that_hangs_fails():
    _, policy = doctor.check_policy(POLICY)
    assert doctor.check_detector(policy, timeout=0.01).status == FAIL


# -- the command ------------------------------------------------------------------------------------

def doctor_cli(*args: str, prefix: tuple[str, ...] = ()) -> tuple[int, list[dict]]:
    done = subprocess.run([*prefix, BAOMI, "doctor", "--json", *args], capture_output=True,
                          text=True, timeout=300, cwd=REPO, check=False)
    return done.returncode, json.loads(done.stdout)


def test_cli_full_run_passes_on_a_good_setup(tmp_path):
    secure_ca_dir(tmp_path)
    code, checks = doctor_cli("--data-dir", str(tmp_path), "--policy", str(POLICY),
                              "--listen-port", str(free_port()), "--metrics-port", "0")
    assert code == 0, checks
    assert {c["check"]: c["status"] for c in checks}["detector"] == OK
    assert all(c["status"] == OK for c in checks), checks


def test_cli_exits_non_zero_on_any_failure_and_skips_detector_on_bad_policy(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nmode: sometimes\n")
    code, checks = doctor_cli("--data-dir", str(tmp_path), "--policy", str(bad),
                              "--metrics-port", "0")
    statuses = {c["check"]: c["status"] for c in checks}
    assert code == 1
    assert (statuses["policy"], statuses["detector"]) == (FAIL, WARN)


def test_cli_human_output_names_the_fix(tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    with taken:
        done = subprocess.run(
            [BAOMI, "doctor", "--skip", "detector", "--data-dir", str(tmp_path),
             "--listen-port", str(taken.getsockname()[1]), "--metrics-port", "0"],
            capture_output=True, text=True, timeout=120, cwd=REPO, check=False)
    assert done.returncode == 1
    assert "FAIL listen-port:" in done.stdout
    assert "     fix: stop that process or choose another port" in done.stdout


# -- firewall checks inside a real gateway namespace ------------------------------------------------

needs_netns = pytest.mark.skipif(netns.skip_reason() is not None,
                                 reason=str(netns.skip_reason()))
FIREWALL = ("--skip", "detector", "--skip", "ca", "--skip", "keys", "--skip", "policy",
            "--skip", "metrics-port",
            "--mode", "transparent", "--listen-host", "0.0.0.0", "--listen-port", "8080")


@needs_netns
@pytest.mark.parametrize("backend", ["none", "nft", "iptables"])
def test_firewall_checks_in_a_gateway_namespace(backend):
    with netns.egress_gateway() as lab:
        if backend == "nft":
            lab.load_nft(8080)
        elif backend == "iptables":
            lab.load_iptables(8080)
        code, checks = doctor_cli(*FIREWALL, prefix=tuple(lab.command("gateway")))
        statuses = {c["check"]: c["status"] for c in checks}
        expected = FAIL if backend == "none" else OK
        assert statuses == {"ip-forwarding": OK, "redirect-rules": expected,
                            "quic-dropped": expected, "listen-address": OK, "listen-port": OK}
        assert code == (1 if backend == "none" else 0)


@needs_netns
def test_forwarding_off_in_a_fresh_namespace():
    with netns.egress_gateway() as lab:
        lab.run("gateway", "sysctl", "-qw", "net.ipv4.ip_forward=0", check=True)
        _, checks = doctor_cli(*FIREWALL, prefix=tuple(lab.command("gateway")))
        assert {c["check"]: c["status"] for c in checks}["ip-forwarding"] == FAIL
