"""End to end: proxy authentication against a real OpenLDAP (tests/ldap_server.py) through the
real `baomi run`.

407 without credentials, with a wrong or empty password, for unknown and disabled accounts; 200
with the right password and the user's LDAP groups in the record; a group rule (payroll may send
resident IDs to the payroll partner, bob is blocked); alice removed from payroll is blocked and
bob disabled gets 407 at their next authentication, and inside an HTTPS tunnel opened before the
change once cache_seconds (1 s here) have passed; LDAP hanging or stopped means the policy's
on_error (block), never allow; and no LDAP password ends up in the data dir, the output or
/metrics. `baomi doctor` passes against this LDAP and fails when TLS to it is not verified.

Tests run in file order and leave the directory as they found it; the outage tests come last.
"""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from harness import BAOMI, REPO, BaomiProcess, UpstreamCA, free_port
from identity_support import payroll_policy
from ldap_server import PEOPLE, SERVICE_DN, SLAPD, Slapd

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(SLAPD is None, reason="slapd is not installed (Debian slapd)"),
]

RESIDENT_ID = "11010519491231002X"
CACHE_SECONDS = 1.0

IDENTITY = """  methods: [proxyauth]
  proxyauth:
    realm: baomi-ldap-test
    ldap:
      url: {url}
      ca_file: {ca}
      bind_dn: "{bind_dn}"
      bind_password_file: {password_file}
      user_base: "{user_base}"
      disabled_filter: "(employeeType=disabled)"
      timeout_seconds: 1
      cache_seconds: {cache}
"""


@pytest.fixture(scope="module")
def ldap(tmp_path_factory):
    with Slapd(tmp_path_factory.mktemp("slapd")) as server:
        yield server


def policy_text(ldap: Slapd, ca: Path) -> str:
    return payroll_policy() + IDENTITY.format(url=ldap.ldaps_url, ca=ca, bind_dn=SERVICE_DN,
                         password_file=ldap.service_password_file, user_base=PEOPLE,
                         cache=CACHE_SECONDS)


@pytest.fixture(scope="module")
def px(tmp_path_factory, ldap, upstream_ca):
    directory = tmp_path_factory.mktemp("ldap-proxy")
    (directory / "policy.yaml").write_text(policy_text(ldap, ca=ldap.ca.pem))
    proxy = BaomiProcess(directory / "policy.yaml", directory / "var",
                         upstream_ca=upstream_ca.pem, metrics_port=free_port()).start()
    yield proxy
    proxy.stop()


def client(px: BaomiProcess, user: str | None = None, password: str | None = None
           ) -> httpx.Client:
    proxy = px.url if user is None else str(
        httpx.URL(px.url).copy_with(username=user, password=password))
    return httpx.Client(proxy=proxy, verify=ssl.create_default_context(cafile=px.ca_pem),
                        timeout=30)


def record_for(px: BaomiProcess, path: str) -> dict:
    lines = (px.data_dir / "decisions.jsonl").read_text().splitlines()
    found = [r for r in map(json.loads, lines) if r["path"] == path]
    assert len(found) == 1, found
    return found[0]


def forwarded(upstream, path: str) -> list:
    return [r for r in upstream.received if r.path == path]


def wait_out_the_cache() -> None:
    """What the test checks is that a change shows after cache_seconds: there is no event to
    await, only the time the proxy may keep its cached answer."""
    time.sleep(CACHE_SECONDS + 0.2)


# -- who may pass --------------------------------------------------------------------------------

@pytest.mark.parametrize("user, password", [
    (None, None),
    ("alice", "wrong-password"),
    ("alice", ""),
    ("alice", "bob's"),   # a real password, of someone else
    ("mallory", "x"),
    ("carol", "carol's"),  # her real password: the account is disabled
])
def test_without_valid_credentials_407(px, ldap, http_up, user, password):
    if password in ("bob's", "carol's"):
        password = ldap.password(password[:-2])
    path = f"/407-{user}-{len(password or '')}"
    with client(px, user, password) as c:
        response = c.post(http_up.url(path), json={"note": "hello"})
    assert response.status_code == 407
    assert response.headers["proxy-authenticate"] == 'Basic realm="baomi-ldap-test"'
    assert forwarded(http_up, path) == []


@pytest.mark.parametrize("user, groups", [("alice", ["payroll", "staff"]), ("bob", ["staff"])])
def test_right_password_passes_with_ldap_groups(px, ldap, http_up, user, groups):
    path = f"/ok-{user}"
    with client(px, user, ldap.password(user)) as c:
        assert c.post(http_up.url(path), json={"note": "hello"}).status_code == 200
    [got] = forwarded(http_up, path)
    assert "proxy-authorization" not in got.headers
    record = record_for(px, path)
    assert (record["user"], record["identity"], sorted(record["user_groups"])) == (
        user, "ldap", groups)


@pytest.mark.parametrize("user, status, rule", [
    ("alice", 200, "allow-payroll-ids"),
    ("bob", 403, "block-ids"),
])
def test_payroll_group_may_send_resident_ids(px, ldap, https_up, user, status, rule):
    path = f"/ids-{user}"
    with client(px, user, ldap.password(user)) as c:
        response = c.post(https_up.url(path, host="localhost"), json={"id": RESIDENT_ID})
    assert response.status_code == status
    assert len(forwarded(https_up, path)) == (status == 200)
    record = record_for(px, path)
    assert (record["rule"], record["user"], record["identity"]) == (rule, user, "ldap")


# -- changes in LDAP while the proxy runs ---------------------------------------------------------

def test_removed_from_payroll_is_blocked_at_the_next_authentication(px, ldap, https_up):
    password = ldap.password("alice")
    with client(px, "alice", password) as c:
        assert c.post(https_up.url("/rm-before", host="localhost"),
                      json={"id": RESIDENT_ID}).status_code == 200
    ldap.remove_from_group("alice", "payroll")
    try:
        with client(px, "alice", password) as c:  # a new tunnel: a new authentication
            response = c.post(https_up.url("/rm-new", host="localhost"), json={"id": RESIDENT_ID})
    finally:
        ldap.add_to_group("alice", "payroll")
    assert response.status_code == 403
    assert forwarded(https_up, "/rm-new") == []
    record = record_for(px, "/rm-new")
    assert (record["rule"], record["user"], record["user_groups"]) == (
        "block-ids", "alice", ["staff"])


def test_removed_from_payroll_is_blocked_in_a_tunnel_opened_before(px, ldap, https_up):
    """A long-lived HTTPS tunnel (one CONNECT, one authentication) loses the group too."""
    with client(px, "alice", ldap.password("alice")) as tunnel:
        first = tunnel.post(https_up.url("/tun-before", host="localhost"),
                            json={"id": RESIDENT_ID})
        assert first.status_code == 200
        ldap.remove_from_group("alice", "payroll")
        try:
            wait_out_the_cache()
            response = tunnel.post(https_up.url("/tun-after", host="localhost"),
                                   json={"id": RESIDENT_ID})
        finally:
            ldap.add_to_group("alice", "payroll")
    assert response.status_code == 403
    assert forwarded(https_up, "/tun-after") == []
    assert record_for(px, "/tun-after")["user_groups"] == ["staff"]


def test_disabled_while_running_gets_407_at_once(px, ldap, http_up):
    password = ldap.password("bob")
    with client(px, "bob", password) as c:
        assert c.post(http_up.url("/dis-before"), json={"note": "hello"}).status_code == 200
    ldap.disable("bob")
    try:
        with client(px, "bob", password) as c:
            response = c.post(http_up.url("/dis-after"), json={"note": "hello"})
    finally:
        ldap.enable("bob")
    assert response.status_code == 407
    assert forwarded(http_up, "/dis-after") == []


# -- baomi doctor ----------------------------------------------------------------------------------

def doctor_ldap(policy: Path) -> list[dict]:
    """`baomi doctor --json`'s identity-ldap results for this policy."""
    done = subprocess.run(
        [BAOMI, "doctor", "--json", "--policy", str(policy), "--data-dir", str(policy.parent),
         "--skip", "detector", "--skip", "ca", "--skip", "keys", "--metrics-port", "0",
         "--listen-port", str(free_port())],
        capture_output=True, text=True, timeout=120, cwd=REPO, check=False)
    return [c for c in json.loads(done.stdout) if c["check"] == "identity-ldap"]


def test_doctor_passes_against_the_real_ldap(px, ldap):
    [check] = doctor_ldap(px.data_dir.parent / "policy.yaml")
    assert (check["status"], check["message"]) == (
        "OK", f"{ldap.ldaps_url}: service account binds, TLS verified, bases found")


def test_doctor_fails_when_tls_to_ldap_is_not_verified(ldap, tmp_path):
    other = UpstreamCA(tmp_path / "other-ca")
    (tmp_path / "policy.yaml").write_text(policy_text(ldap, ca=other.pem))
    [check] = doctor_ldap(tmp_path / "policy.yaml")
    assert check["status"] == "FAIL"
    assert check["message"].startswith(f"cannot reach LDAP at {ldap.ldaps_url}: TLS not verified")
    assert not [p for p in ldap.all_passwords() if p in json.dumps(check)]


# -- LDAP that cannot answer: on_error (block), never allow ----------------------------------------

def assert_on_error_block(px, upstream, response, path: str) -> None:
    assert response.status_code == 403
    assert response.json()["rule"] == "on_error"
    assert forwarded(upstream, path) == []
    record = record_for(px, path)
    assert (record["rule"], record["action"], record["user"]) == ("on_error", "block", None)


def test_hanging_ldap_blocks(px, ldap, http_up):
    ldap.pause()
    try:
        with client(px, "alice", ldap.password("alice")) as c:
            response = c.post(http_up.url("/ldap-hangs"), json={"note": "hello"})
    finally:
        ldap.resume()
    assert_on_error_block(px, http_up, response, "/ldap-hangs")


def test_stopped_ldap_blocks_then_recovers(px, ldap, http_up):
    ldap.stop()
    try:
        with client(px, "alice", ldap.password("alice")) as c:
            response = c.post(http_up.url("/ldap-down"), json={"note": "hello"})
    finally:
        ldap.start()
    assert_on_error_block(px, http_up, response, "/ldap-down")
    with client(px, "alice", ldap.password("alice")) as c:
        assert c.post(http_up.url("/ldap-back"), json={"note": "hello"}).status_code == 200


def test_no_ldap_password_at_rest(px, ldap):
    """Runs last: the proxy has seen every password above, right and wrong."""
    secrets = set()
    for user in ("alice", "bob", "carol", "dave"):
        for text in (ldap.password(user), f"{user}:{ldap.password(user)}"):
            secrets |= {text, base64.b64encode(text.encode()).decode(), quote(text)}
    secrets |= set(ldap.all_passwords())
    places = {"/metrics": httpx.get(f"http://127.0.0.1:{px.metrics_port}/metrics").text,
              "output": px.log_text()}
    for path in px.data_dir.rglob("*"):
        if path.is_file():
            places[str(path)] = path.read_bytes().decode("latin-1")
    assert "decisions.jsonl" in "".join(places)
    leaks = [(where, s) for where, text in places.items() for s in secrets if s in text]
    assert leaks == []
