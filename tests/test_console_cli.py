"""``baomi console users ...`` and ``baomi console``'s refusals; the real server under TLS."""

from __future__ import annotations

import io
import json
import ssl
import stat
from pathlib import Path

import httpx
import pytest
from console_support import PASSWORD, ConsoleServer, seeded_dir
from harness import UpstreamCA

from proxy.cli import main
from proxy.console.users import DEFAULT_HASHER, Users

REPO = Path(__file__).resolve().parent.parent


def baomi(capsys, monkeypatch, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_users_add_list_disable(tmp_path, capsys, monkeypatch):
    d = str(tmp_path / "var")
    code, out, _ = baomi(capsys, monkeypatch, "console", "users", "add", "rita", "--role",
                         "reviewer", "--role", "approver", "--password-stdin", "--data-dir", d,
                         stdin=PASSWORD + "\n")
    assert (code, out) == (0, "added rita (reviewer, approver)\n")
    users_file = tmp_path / "var" / "console" / "users.json"
    assert stat.S_IMODE(users_file.stat().st_mode) == 0o600
    text = users_file.read_text()
    assert PASSWORD not in text
    assert json.loads(text)["users"]["rita"]["hash"].startswith("$argon2id$v=19$")
    code, out, _ = baomi(capsys, monkeypatch, "console", "users", "list", "--json",
                         "--data-dir", d)
    listed = json.loads(out)
    assert (listed["name"], listed["roles"], listed["disabled"]) == (
        "rita", ["reviewer", "approver"], False)
    assert "hash" not in listed
    assert Users(tmp_path / "var").check("rita", PASSWORD) is not None
    code, _, _ = baomi(capsys, monkeypatch, "console", "users", "disable", "rita",
                       "--data-dir", d)
    assert code == 0
    code, out, _ = baomi(capsys, monkeypatch, "console", "--data-dir", d, "users", "list")
    assert out.startswith("rita\treviewer,approver\tdisabled\t")  # the console's --data-dir
    assert Users(tmp_path / "var").check("rita", PASSWORD) is None


def test_default_hash_is_memory_hard():
    # console_support hashes cheaply for speed; the shipped parameters are RFC 9106's
    # low-memory profile
    from argon2 import Type

    p = DEFAULT_HASHER
    assert (p.type, p.memory_cost, p.time_cost) == (Type.ID, 64 * 1024, 3)


@pytest.mark.parametrize(("argv", "stdin", "message"), [
    (("add", "x", "--role", "reviewer", "--password-stdin"), "short\n",
     "Error: password: at least 12 characters"),
    (("add", "a b", "--role", "reviewer", "--password-stdin"), PASSWORD,
     "Error: user name 'a b': use 1-64 letters"),
    (("disable", "nobody"), "", "Error: no user 'nobody'"),
    (("add", "x", "--role", "reviewer"), "", "Error: no terminal to ask for the password"),
])
def test_users_bad_input(tmp_path, capsys, monkeypatch, argv, stdin, message):
    code, _, err = baomi(capsys, monkeypatch, "console", "users", *argv,
                         "--data-dir", str(tmp_path), stdin=stdin)
    assert code == 2
    assert err.startswith(message)


def test_users_add_twice_is_refused(tmp_path, capsys, monkeypatch):
    args = ("console", "users", "add", "rita", "--role", "reviewer", "--password-stdin",
            "--data-dir", str(tmp_path))
    assert baomi(capsys, monkeypatch, *args, stdin=PASSWORD)[0] == 0
    code, _, err = baomi(capsys, monkeypatch, *args, stdin=PASSWORD)
    assert (code, err.startswith("Error: user 'rita' exists")) == (2, True)


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "console.corp.example", "::"])
def test_console_refuses_non_loopback_without_tls(tmp_path, capsys, monkeypatch, host):
    code, _, err = baomi(capsys, monkeypatch, "console", "--data-dir", str(tmp_path),
                         "--listen-host", host)
    assert code == 2
    assert err == (f"Error: --listen-host {host}: not a loopback address; the console sends "
                   "passwords and session cookies, so it needs --tls-cert and --tls-key\n")


def test_tls_cert_needs_its_key(tmp_path, capsys, monkeypatch):
    code, _, err = baomi(capsys, monkeypatch, "console", "--data-dir", str(tmp_path),
                         "--tls-cert", str(tmp_path / "c.pem"))
    assert (code, err) == (2, "Error: --tls-cert and --tls-key go together\n")


def test_policy_alone_is_given_to_the_app(tmp_path, capsys, monkeypatch):
    """--policy without --ldap-role: the console shows the policy file's approvals too."""
    served = []
    monkeypatch.setattr("proxy.console.serve.serve", lambda app, *rest: served.append(app) or 0)
    policy = REPO / "policies" / "default.yaml"
    code, _, err = baomi(capsys, monkeypatch, "console", "--data-dir", str(tmp_path),
                         "--policy", str(policy))
    assert (code, err) == (0, "")
    assert served[0].config["BAOMI_POLICY"] == str(policy)
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nnope: 2\n")
    code, _, err = baomi(capsys, monkeypatch, "console", "--data-dir", str(tmp_path),
                         "--policy", str(bad))
    assert (code, err.startswith(f"Error: {bad}:")) == (2, True)
    assert len(served) == 1


def test_real_console_under_tls(tmp_path):
    data_dir, _, _ = seeded_dir(tmp_path)
    ca = UpstreamCA(tmp_path / "ca")
    ca.server_context(["127.0.0.1"])  # writes 127.0.0.1.pem / .key next to the CA
    tls = ("--tls-cert", str(ca.dir / "127.0.0.1.pem"), "--tls-key", str(ca.dir / "127.0.0.1.key"))
    with ConsoleServer(data_dir, tls) as console:
        assert console.url().startswith("https://127.0.0.1:")
        with httpx.Client(verify=ssl.create_default_context(cafile=ca.pem)) as client:
            page = client.get(console.url("/login"))
            assert page.status_code == 200
            cookie = page.headers["set-cookie"]
            assert "; Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
            token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            done = client.post(console.url("/login"), data={
                "name": "rita", "password": PASSWORD, "next": "/incidents",
                "csrf_token": token})
            assert (done.status_code, done.headers["location"]) == (302, "/incidents")
            assert client.get(console.url("/incidents")).status_code == 200
    assert console.code == 0
    assert console.lines[-1] == "baomi console: stopped\n"
