"""End to end: who sent it, through the real `baomi run` process.

Proxy authentication against an htpasswd file (407 without or with wrong credentials, 200 with
right ones over plain HTTP and inside HTTPS CONNECT tunnels; the upstream never sees
Proxy-Authorization), a group rule (the payroll group may send resident IDs to the payroll
partner, everyone else is blocked, the block page names the sender), the trusted user header
(believed from a listed CIDR, ignored, stripped and counted from anyone else), `baomi incidents
list --user/--group`, and no credentials at rest: after the traffic, no password (plain or
base64) is in the data dirs, the proxies' output or /metrics.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import ssl
import subprocess
from pathlib import Path

import bcrypt
import httpx
import pytest
from harness import BAOMI, REPO, BaomiProcess, free_port
from identity_support import payroll_policy

pytestmark = pytest.mark.e2e

RESIDENT_ID = "11010519491231002X"
PASSWORDS = {"alice": "Alice-pw-4711-xyzzy", "bob": "Bob:pw-0815-plugh"}  # ':' inside: legal

POLICY = payroll_policy()
PROXYAUTH = POLICY + """  methods: [proxyauth]
  proxyauth: {htpasswd: users.htpasswd, realm: baomi-test}
  groups: {file: groups.yaml}
"""
HEADER = POLICY + """  methods: [header]
  header: {name: X-Authenticated-User, trusted_cidrs: [%s]}
  groups: {file: groups.yaml}
"""


def write_identity_files(directory: Path) -> None:
    alice = bcrypt.hashpw(PASSWORDS["alice"].encode(), bcrypt.gensalt(rounds=5)).decode()
    bob = base64.b64encode(hashlib.sha1(PASSWORDS["bob"].encode()).digest()).decode()
    htpasswd = directory / "users.htpasswd"
    htpasswd.write_text(f"alice:$2y${alice[4:]}\nbob:{{SHA}}{bob}\n")
    htpasswd.chmod(0o640)
    (directory / "groups.yaml").write_text("groups:\n  payroll: [alice]\n")


def start(tmp_path_factory, name: str, policy: str, upstream_ca) -> BaomiProcess:
    directory = tmp_path_factory.mktemp(name)
    write_identity_files(directory)
    (directory / "policy.yaml").write_text(policy)
    return BaomiProcess(directory / "policy.yaml", directory / "var", upstream_ca=upstream_ca.pem,
                        metrics_port=free_port()).start()


@pytest.fixture(scope="module")
def auth_px(tmp_path_factory, upstream_ca):
    px = start(tmp_path_factory, "auth", PROXYAUTH, upstream_ca)
    yield px
    px.stop()


@pytest.fixture(scope="module")
def trusted_px(tmp_path_factory, upstream_ca):
    px = start(tmp_path_factory, "trusted", HEADER % "127.0.0.1/32", upstream_ca)
    yield px
    px.stop()


@pytest.fixture(scope="module")
def untrusted_px(tmp_path_factory, upstream_ca):
    px = start(tmp_path_factory, "untrusted", HEADER % "10.0.0.0/8", upstream_ca)
    yield px
    px.stop()


def proxy_url(px: BaomiProcess, user: str | None = None, password: str | None = None) -> str:
    if user is None:
        return px.url
    return httpx.URL(px.url).copy_with(username=user, password=password).__str__()


def trusting(px: BaomiProcess) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=px.ca_pem)


def records(px: BaomiProcess) -> list[dict]:
    lines = (px.data_dir / "decisions.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def record_for(px: BaomiProcess, path: str) -> dict:
    found = [r for r in records(px) if r["path"] == path]
    assert len(found) == 1, found
    return found[0]


def metrics(px: BaomiProcess) -> str:
    return httpx.get(f"http://127.0.0.1:{px.metrics_port}/metrics").text


def metric(px: BaomiProcess, series: str) -> float:
    for line in metrics(px).splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{series} not exported")


# -- proxy authentication ------------------------------------------------------------------------

@pytest.mark.parametrize("user, password, reason", [
    (None, None, "missing_credentials"),
    ("alice", "wrong-password", "invalid_credentials"),
    ("bob", PASSWORDS["alice"], "invalid_credentials"),
    ("mallory", "x", "invalid_credentials"),
])
def test_plain_http_without_valid_credentials_gets_407(auth_px, http_up, user, password, reason):
    series = f'baomi_identity_rejections_total{{reason="{reason}"}}'
    before, seen = metric(auth_px, series), len(http_up.received)
    with httpx.Client(proxy=proxy_url(auth_px, user, password)) as client:
        response = client.post(http_up.url("/plain-407"), json={"note": "hello"})
    assert response.status_code == 407
    assert response.headers["proxy-authenticate"] == 'Basic realm="baomi-test"'
    assert len(http_up.received) == seen  # nothing forwarded
    assert metric(auth_px, series) == before + 1


@pytest.mark.parametrize("user", ["alice", "bob"])
def test_plain_http_with_right_credentials(auth_px, http_up, user):
    path = f"/plain-ok-{user}"
    with httpx.Client(proxy=proxy_url(auth_px, user, PASSWORDS[user])) as client:
        response = client.post(http_up.url(path), json={"note": "hello"})
    assert response.status_code == 200
    got = [r for r in http_up.received if r.path == path]
    assert len(got) == 1 and "proxy-authorization" not in got[0].headers
    record = record_for(auth_px, path)
    assert (record["user"], record["identity"]) == (user, "proxyauth")
    assert record["user_groups"] == (["payroll"] if user == "alice" else [])


def test_https_connect_needs_credentials(auth_px, https_up):
    with (
        httpx.Client(proxy=proxy_url(auth_px), verify=trusting(auth_px)) as client,
        pytest.raises(httpx.ProxyError, match="407"),
    ):
        client.post(https_up.url("/tls-407"), json={"note": "hello"})
    with (
        httpx.Client(proxy=proxy_url(auth_px, "alice", "nope"), verify=trusting(auth_px)) as c,
        pytest.raises(httpx.ProxyError, match="407"),
    ):
        c.post(https_up.url("/tls-407"), json={"note": "hello"})
    assert not [r for r in https_up.received if r.path == "/tls-407"]


def test_https_tunnel_keeps_the_identity_of_its_connect(auth_px, https_up):
    with httpx.Client(proxy=proxy_url(auth_px, "alice", PASSWORDS["alice"]),
                      verify=trusting(auth_px)) as client:
        for n in range(3):  # three requests in one tunnel, one CONNECT
            assert client.post(https_up.url(f"/tls-ok-{n}"), json={"n": n}).status_code == 200
    for n in range(3):
        got = [r for r in https_up.received if r.path == f"/tls-ok-{n}"]
        assert len(got) == 1 and "proxy-authorization" not in got[0].headers
        record = record_for(auth_px, f"/tls-ok-{n}")
        assert (record["user"], record["identity"], record["user_groups"]) == (
            "alice", "proxyauth", ["payroll"])


@pytest.mark.parametrize("user, host, status, rule", [
    ("alice", "localhost", 200, "allow-payroll-ids"),  # payroll group, payroll partner
    ("alice", "127.0.0.1", 403, "block-ids"),          # payroll group, someone else
    ("bob", "localhost", 403, "block-ids"),            # not in the group
])
def test_group_rule(auth_px, https_up, user, host, status, rule):
    path = f"/ids-{user}-{'partner' if host == 'localhost' else 'other'}"  # an IP in a path is masked
    with httpx.Client(proxy=proxy_url(auth_px, user, PASSWORDS[user]),
                      verify=trusting(auth_px)) as client:
        response = client.post(https_up.url(path, host=host), json={"id": RESIDENT_ID},
                               headers={"accept": "text/html"})
    assert response.status_code == status
    record = record_for(auth_px, path)
    assert (record["rule"], record["user"]) == (rule, user)
    assert len([r for r in https_up.received if r.path == path]) == (status == 200)
    if status == 403:
        assert f"You, {user}, tried to send this request." in response.text


def test_json_refusal_names_the_sender_in_chinese(auth_px, https_up):
    with httpx.Client(proxy=proxy_url(auth_px, "bob", PASSWORDS["bob"]),
                      verify=trusting(auth_px)) as client:
        response = client.post(https_up.url("/ids-zh"), json={"id": RESIDENT_ID},
                               headers={"accept-language": "zh-CN"})
    assert response.status_code == 403
    assert response.json()["error"]["message"].startswith("您（bob）试图发送此请求。")


def test_incidents_list_by_user_and_group(auth_px, https_up):
    with httpx.Client(proxy=proxy_url(auth_px, "bob", PASSWORDS["bob"]),
                      verify=trusting(auth_px)) as client:
        blocked = client.post(https_up.url("/ids-for-list"), json={"id": RESIDENT_ID})
    with httpx.Client(proxy=proxy_url(auth_px, "alice", PASSWORDS["alice"]),
                      verify=trusting(auth_px)) as client:
        alices = client.post(https_up.url("/ids-for-list-alice"), json={"id": RESIDENT_ID})
    incident, alice_incident = (r.headers["x-baomi-incident"] for r in (blocked, alices))

    def listed(*filters: str) -> list[dict]:
        out = subprocess.run([BAOMI, "incidents", "list", "--json", "--data-dir",
                              str(auth_px.data_dir), *filters],
                             cwd=REPO, capture_output=True, text=True, check=True).stdout
        return [json.loads(line) for line in out.splitlines()]

    by_bob = listed("--user", "bob")
    assert incident in [row["id"] for row in by_bob]
    assert {row["user"] for row in by_bob} == {"bob"}
    assert incident not in [row["id"] for row in listed("--user", "alice")]
    by_payroll = listed("--group", "PAYROLL")  # any case, like the policy
    assert by_payroll and {row["user"] for row in by_payroll} == {"alice"}
    assert incident not in [row["id"] for row in by_payroll]
    assert alice_incident in [row["id"] for row in by_payroll]
    assert [row["user_groups"] for row in by_payroll if row["id"] == alice_incident] == [
        ["payroll"]]


def test_raw_tunnel_is_recorded_with_its_connects_user(auth_px, http_up):
    """A CONNECT to something that is neither HTTP nor TLS: refused (on_uninspectable) and
    recorded under the user the CONNECT authenticated."""
    credentials = base64.b64encode(f"bob:{PASSWORDS['bob']}".encode()).decode()
    seen = len(records(auth_px))
    with socket.create_connection(("127.0.0.1", auth_px.port), timeout=20) as conn:
        conn.sendall(f"CONNECT 127.0.0.1:{http_up.port} HTTP/1.1\r\n"
                     f"Host: 127.0.0.1:{http_up.port}\r\n"
                     f"Proxy-Authorization: Basic {credentials}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += conn.recv(4096)
        assert head.startswith(b"HTTP/1.1 200")
        conn.sendall(b"SSH-2.0-OpenSSH_9.2p1\r\n")
        while conn.recv(4096):  # until baomi closes the tunnel
            pass
    [record] = [r for r in records(auth_px)[seen:] if r["method"] == "TCP"]
    assert (record["rule"], record["action"]) == ("on_uninspectable", "block")
    assert (record["user"], record["identity"], record["user_groups"]) == ("bob", "proxyauth", [])


# -- the trusted header --------------------------------------------------------------------------

def test_trusted_header_from_a_listed_cidr(trusted_px, https_up):
    series = 'baomi_identified_requests_total{method="header"}'
    before = metric(trusted_px, series) if f"\n{series} " in metrics(trusted_px) else 0.0
    with httpx.Client(proxy=trusted_px.url, verify=trusting(trusted_px)) as client:
        ok = client.post(https_up.url("/hdr-alice", host="localhost"), json={"id": RESIDENT_ID},
                         headers={"x-authenticated-user": "alice"})
        no = client.post(https_up.url("/hdr-nobody", host="localhost"), json={"id": RESIDENT_ID})
    assert (ok.status_code, no.status_code) == (200, 403)
    got = [r for r in https_up.received if r.path == "/hdr-alice"]
    assert len(got) == 1 and "x-authenticated-user" not in got[0].headers  # stripped
    assert record_for(trusted_px, "/hdr-alice")["identity"] == "header"
    assert record_for(trusted_px, "/hdr-alice")["user_groups"] == ["payroll"]
    nobody = record_for(trusted_px, "/hdr-nobody")
    assert (nobody["user"], nobody["identity"], nobody["rule"]) == (
        None, "none", "block-unknown-users")
    assert metric(trusted_px, series) == before + 1  # alice's; nobody's was not identified


def test_header_from_an_unlisted_address_is_ignored_stripped_and_counted(untrusted_px, https_up):
    series = 'baomi_identity_rejections_total{reason="untrusted_header"}'
    before = metric(untrusted_px, series)
    with httpx.Client(proxy=untrusted_px.url, verify=trusting(untrusted_px)) as client:
        forged = client.post(https_up.url("/hdr-forged", host="localhost"),
                             json={"note": "hello"}, headers={"x-authenticated-user": "alice"})
    assert forged.status_code == 200
    got = [r for r in https_up.received if r.path == "/hdr-forged"]
    assert len(got) == 1 and "x-authenticated-user" not in got[0].headers
    record = record_for(untrusted_px, "/hdr-forged")
    assert (record["user"], record["identity"]) == (None, "none")
    assert metric(untrusted_px, series) == before + 1


# -- no credentials at rest ----------------------------------------------------------------------

def test_no_credentials_at_rest(auth_px, trusted_px, untrusted_px):
    """Runs last in this module (file order): every proxy has seen the traffic above."""
    secrets = set()
    for user, password in PASSWORDS.items():
        for text in (password, f"{user}:{password}"):
            secrets |= {text, base64.b64encode(text.encode()).decode()}
    for px in (auth_px, trusted_px, untrusted_px):
        places = {"/metrics": metrics(px), "output": px.log_text()}
        for path in px.data_dir.rglob("*"):
            if path.is_file():
                places[str(path)] = path.read_bytes().decode("latin-1")
        assert len(places) > 5
        leaks = [(where, s) for where, text in places.items() for s in secrets if s in text]
        assert leaks == []
