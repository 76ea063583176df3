"""Console roles from LDAP groups, against a real slapd (tests/ldap_server.py): directory users
log in with their LDAP password and get the roles their groups map to; a local account still
works; leaving the group ends the session; the CLI reads the policy's identity.proxyauth.ldap."""

from __future__ import annotations

import io

import pytest
from console_support import PASSWORD, console_app, csrf, login, seeded_dir
from identity_support import payroll_policy
from ldap_server import PEOPLE, SERVICE_DN, SLAPD, Slapd

from policies.model import LdapSettings
from proxy.cli import main
from proxy.console.ldap_roles import LdapAccounts, directory_from_policy, parse_mapping
from proxy.console.users import Users
from proxy.errors import UsageError
from proxy.identity.ldap import LdapDirectory

pytestmark = pytest.mark.skipif(SLAPD is None, reason="slapd is not installed (Debian slapd)")


@pytest.fixture(scope="module")
def ldap(tmp_path_factory):
    with Slapd(tmp_path_factory.mktemp("console-slapd")) as server:
        yield server


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return seeded_dir(tmp_path_factory.mktemp("console-ldap"))


@pytest.fixture
def app(ldap, data):
    directory = LdapDirectory(LdapSettings(**ldap.settings(cache_seconds=0)))
    accounts = LdapAccounts(directory, parse_mapping(["Payroll=reviewer", "payroll=approver"]),
                            Users(data[0]))
    made, _ = console_app(data[0], accounts=accounts)
    yield made
    directory.close()


def test_mapping_parses_and_refuses_bad_items():
    assert parse_mapping(["SecOps=reviewer", "dpo=approver", "dpo=reviewer"]) == {
        "secops": ("reviewer",), "dpo": ("reviewer", "approver")}
    for bad in ("secops", "=reviewer", "secops=root"):
        with pytest.raises(UsageError, match="expected GROUP=ROLE"):
            parse_mapping([bad])


def test_directory_user_gets_the_roles_of_their_groups(app, ldap):
    client = app.test_client()
    response = login(client, "alice", ldap.password("alice"))
    assert response.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert "Signed in as alice (reviewer, approver)" in page
    assert client.get("/incidents").status_code == 200


def test_directory_user_in_no_mapped_group_cannot_log_in(app, ldap):
    assert login(app.test_client(), "bob", ldap.password("bob")).status_code == 401


def test_wrong_ldap_password_and_disabled_user_are_refused(app, ldap):
    assert login(app.test_client(), "dave", "not dave's password").status_code == 401
    assert login(app.test_client(), "carol", ldap.password("carol")).status_code == 401


def test_local_account_still_logs_in(app):
    client = app.test_client()
    assert login(client, "rita", PASSWORD).status_code == 302
    assert client.get("/incidents").status_code == 200


def test_leaving_the_group_ends_the_session(app, ldap):
    client = app.test_client()
    assert login(client, "dave", ldap.password("dave")).status_code == 302
    assert client.get("/incidents").status_code == 200
    ldap.remove_from_group("dave", "payroll")
    try:
        assert client.get("/incidents").status_code == 302  # to the login page
        refused = client.post("/logout", data={"csrf_token": csrf(client, "/login")})
        assert refused.status_code == 302
    finally:
        ldap.add_to_group("dave", "payroll")


def test_cli_reads_the_policys_ldap(ldap, tmp_path, capsys, monkeypatch):
    policy = tmp_path / "policy.yaml"
    policy.write_text(payroll_policy() + f"""  methods: [proxyauth]
  proxyauth:
    realm: console-test
    ldap:
      url: {ldap.ldaps_url}
      ca_file: {ldap.ca.pem}
      bind_dn: "{SERVICE_DN}"
      bind_password_file: {ldap.service_password_file}
      user_base: "{PEOPLE}"
""")
    directory = directory_from_policy(policy)
    try:
        assert directory.authenticate("alice", ldap.password("alice")) is not None
    finally:
        directory.close()
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["console", "--data-dir", str(tmp_path), "--ldap-role", "payroll=reviewer"]) == 2
    assert capsys.readouterr().err == ("Error: --ldap-role needs --policy (its "
                                       "identity.proxyauth.ldap)\n")
    no_ldap = tmp_path / "plain.yaml"
    no_ldap.write_text(payroll_policy() + "  methods: [header]\n  header: {name: X-User, "
                       "trusted_cidrs: [127.0.0.1/32]}\n")
    with pytest.raises(UsageError, match=r"identity\.proxyauth\.ldap is not set"):
        directory_from_policy(no_ldap)
