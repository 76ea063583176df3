"""`baomi doctor` on the identity configuration: htpasswd readable and not world-readable,
unsupported hashes, the IP map fresh, the groups file valid, the trusted header not trusted
from everywhere, LDAP unreachable reported (never a password)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from harness import BAOMI, REPO, free_port
from test_identity import bcrypt_entry, bump, sha_entry

from proxy.tools.doctor import FAIL, OK, WARN

POLICY = """version: 1
mode: enforce
rules: []
default_action: allow
identity:
  methods: [proxyauth, header, ipmap]
  proxyauth: {htpasswd: users.htpasswd}
  header: {trusted_cidrs: [%(cidr)s]}
  ipmap: {file: ipmap.txt, max_age_seconds: 3600}
  groups: {file: groups.yaml}
"""
LDAP_POLICY = """version: 1
mode: enforce
rules: []
default_action: allow
identity:
  methods: [proxyauth]
  proxyauth:
    ldap:
      url: ldaps://127.0.0.1:%(port)d
      bind_dn: cn=baomi,dc=example,dc=com
      bind_password_file: service.pw
      user_base: ou=people,dc=example,dc=com
      timeout_seconds: 2
"""
SERVICE_PASSWORD = "svc-Secret-991"


def setup_dir(tmp_path: Path, cidr: str = "10.0.0.5/32") -> Path:
    (tmp_path / "policy.yaml").write_text(POLICY % {"cidr": cidr})
    htpasswd = tmp_path / "users.htpasswd"
    htpasswd.write_text(f"alice:{bcrypt_entry('pw')}\nbob:{sha_entry('pw')}\n")
    htpasswd.chmod(0o640)
    (tmp_path / "ipmap.txt").write_text("10.1.2.3 alice\n")
    (tmp_path / "groups.yaml").write_text("groups:\n  payroll: [alice]\n")
    return tmp_path / "policy.yaml"


def doctor(policy: Path) -> tuple[int, dict[str, list[dict]]]:
    done = subprocess.run(
        [BAOMI, "doctor", "--json", "--policy", str(policy), "--data-dir", str(policy.parent),
         "--skip", "detector", "--skip", "ca", "--skip", "keys", "--metrics-port", "0",
         "--listen-port", str(free_port())],
        capture_output=True, text=True, timeout=120, cwd=REPO, check=False)
    checks: dict[str, list[dict]] = {}
    for check in json.loads(done.stdout):
        checks.setdefault(check["check"], []).append(check)
    return done.returncode, checks


def statuses(checks: dict[str, list[dict]]) -> dict[str, str]:
    return {name: found[0]["status"] for name, found in checks.items()
            if name.startswith("identity-")}


def test_good_identity_setup_passes(tmp_path):
    code, checks = doctor(setup_dir(tmp_path))
    assert code == 0, checks
    assert statuses(checks) == {"identity-htpasswd": OK, "identity-header": OK,
                                "identity-ipmap": OK, "identity-groups": OK}
    assert checks["identity-htpasswd"][0]["message"].endswith("2 user(s), mode 0640")
    assert checks["identity-ipmap"][0]["message"].startswith(f"{tmp_path}/ipmap.txt: 1 mapping(s)")


def test_world_readable_htpasswd_fails(tmp_path):
    policy = setup_dir(tmp_path)
    (tmp_path / "users.htpasswd").chmod(0o644)
    code, checks = doctor(policy)
    [check] = checks["identity-htpasswd"]
    assert (code, check["status"]) == (1, FAIL)
    assert "mode 0644: anyone on the host can read the hashes" in check["message"]
    assert check["fix"].startswith(f"chmod 0640 {tmp_path}/users.htpasswd")


def test_missing_htpasswd_and_unsupported_hashes(tmp_path):
    policy = setup_dir(tmp_path)
    htpasswd = tmp_path / "users.htpasswd"
    htpasswd.write_text("alice:$apr1$xyz$abcdefghijklmnopqrstuv\n")
    assert statuses(doctor(policy)[1])["identity-htpasswd"] == WARN
    htpasswd.unlink()
    [check] = doctor(policy)[1]["identity-htpasswd"]
    assert (check["status"], check["message"]) == (FAIL, f"{htpasswd}: No such file or directory")


def test_stale_ip_map_fails(tmp_path):
    policy = setup_dir(tmp_path)
    bump(tmp_path / "ipmap.txt", seconds_ago=2 * 3600)
    code, checks = doctor(policy)
    [check] = checks["identity-ipmap"]
    assert (code, check["status"]) == (1, FAIL)
    assert "is 2.0 h old (max_age_seconds 3600): every mapping has expired" in check["message"]


def test_broken_groups_file_and_header_trusted_from_everywhere(tmp_path):
    policy = setup_dir(tmp_path, cidr="0.0.0.0/0")
    (tmp_path / "groups.yaml").write_text("payroll: [alice]\n")
    code, checks = doctor(policy)
    assert code == 1
    assert statuses(checks)["identity-groups"] == FAIL
    [header] = checks["identity-header"]
    assert header["status"] == FAIL
    assert header["message"] == ("X-Authenticated-User is trusted from 0.0.0.0/0: any client "
                                 "can name any user")


def test_unreachable_ldap_fails_without_showing_the_password(tmp_path):
    (tmp_path / "policy.yaml").write_text(LDAP_POLICY % {"port": free_port()})
    password = tmp_path / "service.pw"
    password.write_text(SERVICE_PASSWORD + "\n")
    password.chmod(0o600)
    code, checks = doctor(tmp_path / "policy.yaml")
    assert code == 1
    assert checks["identity-ldap"] and all(c["status"] == FAIL for c in checks["identity-ldap"])
    assert SERVICE_PASSWORD not in json.dumps(checks)


def test_no_identity_section_adds_no_check(tmp_path):
    (tmp_path / "policy.yaml").write_text("version: 1\nmode: enforce\nrules: []\n"
                                          "default_action: allow\n")
    code, checks = doctor(tmp_path / "policy.yaml")
    assert code == 0 and statuses(checks) == {}
