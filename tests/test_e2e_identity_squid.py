"""End to end: a Squid in front of baomi authenticates users (basic_ncsa_auth) and passes the
user on in X-Authenticated-User; baomi believes it from Squid's address and decides by the
user's group.

    client --Proxy-Authorization--> Squid --X-Authenticated-User: alice--> baomi -> upstream

Squid is the shipped deploy/squid/squid-in-front-of-baomi.conf with authentication added, as
tests/test_e2e_squid.py runs it.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import tempfile
from pathlib import Path

import httpx
import pytest
from harness import BaomiProcess
from identity_support import payroll_policy
from test_e2e_identity import RESIDENT_ID, record_for
from test_e2e_squid import CONFIGS, SQUID, Squid, ssl_ports

NCSA = Path("/usr/lib/squid/basic_ncsa_auth")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(SQUID is None or not NCSA.exists(),
                       reason="squid with basic_ncsa_auth is not installed (tests/deps/squid.txt)"),
]
PASSWORDS = {"alice": "Sq-alice-7731", "bob": "Sq-bob-1188"}

POLICY = payroll_policy() + """  methods: [header]
  header: {name: X-Authenticated-User, trusted_cidrs: [127.0.0.1/32]}
  groups: {file: groups.yaml}
"""


@pytest.fixture(scope="module")
def upstreams(upstream_ca):
    from harness import Upstream

    with Upstream() as http_up, Upstream(tls=upstream_ca) as https_up:
        yield {"http": http_up, "https": https_up}


def ncsa_passwords(directory: Path) -> Path:
    """An htpasswd file as basic_ncsa_auth reads it (MD5-crypt, made by openssl)."""
    lines = []
    for user, password in PASSWORDS.items():
        digest = subprocess.run(["openssl", "passwd", "-apr1", "-stdin"], input=password,
                                capture_output=True, text=True, check=True).stdout.strip()
        lines.append(f"{user}:{digest}")
    path = directory / "squid.passwd"
    path.write_text("\n".join(lines) + "\n")
    directory.chmod(0o755)  # the helper runs as Squid's user
    path.chmod(0o644)
    return path


@pytest.fixture(scope="module")
def chain(tmp_path_factory, upstream_ca, upstreams):
    directory = tmp_path_factory.mktemp("identity-squid")
    (directory / "policy.yaml").write_text(POLICY)
    (directory / "groups.yaml").write_text("groups:\n  payroll: [alice]\n")
    # Not under pytest's 0700 base directory: the helper runs as Squid's user.
    auth_dir = Path(tempfile.mkdtemp(prefix="baomi-squid-auth-"))
    passwd = ncsa_passwords(auth_dir)
    with BaomiProcess(directory / "policy.yaml", directory / "var",
                      upstream_ca=upstream_ca.pem) as px:
        settings = {
            "acl SSL_ports": ssl_ports(upstreams),
            "cache_peer": f"cache_peer 127.0.0.1 parent {px.port} 0 no-query no-digest "
                          "default name=baomi",
            "http_access allow localhost": (
                f"auth_param basic program {NCSA} {passwd}\n"
                "auth_param basic realm corp\n"
                "acl authenticated proxy_auth REQUIRED\n"
                "http_access deny !authenticated\n"
                "http_access allow localhost\n"
                'request_header_add X-Authenticated-User "%ul" all'),
        }
        try:
            with Squid(CONFIGS / "squid-in-front-of-baomi.conf", settings) as squid:
                yield squid, px
        finally:
            shutil.rmtree(auth_dir, ignore_errors=True)


def client(squid: Squid, px: BaomiProcess, user: str | None) -> httpx.Client:
    url = httpx.URL(squid.url)
    if user is not None:
        url = url.copy_with(username=user, password=PASSWORDS[user])
    return httpx.Client(proxy=str(url), verify=ssl.create_default_context(cafile=px.ca_pem),
                        timeout=30)


def test_squid_refuses_a_client_without_credentials(chain, upstreams):
    squid, px = chain
    with client(squid, px, None) as c:
        response = c.post(upstreams["http"].url("/squid-anon"), json={"note": "hi"})
    assert response.status_code == 407
    assert 'Basic realm="corp"' in response.headers["proxy-authenticate"]
    assert not [r for r in upstreams["http"].received if r.path == "/squid-anon"]


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("user, status, rule", [
    ("alice", 200, "allow-payroll-ids"),
    ("bob", 403, "block-ids"),
])
def test_the_user_squid_authenticated_decides(chain, upstreams, scheme, user, status, rule):
    squid, px = chain
    up, path = upstreams[scheme], f"/squid-{scheme}-{user}"
    with client(squid, px, user) as c:
        response = c.post(up.url(path, host="localhost"), json={"id": RESIDENT_ID})
    assert response.status_code == status, response.text[:300]
    record = record_for(px, path)
    assert (record["user"], record["identity"], record["rule"]) == (user, "header", rule)
    arrived = [r for r in up.received if r.path == path]
    assert len(arrived) == (status == 200)
    for request in arrived:
        assert "x-authenticated-user" not in request.headers
        assert "proxy-authorization" not in request.headers
    if status == 403:
        assert json.loads(response.content)["error"]["message"].startswith(
            f"You, {user}, tried to send this request.")
