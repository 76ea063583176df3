"""LdapDirectory against a real slapd (tests/ldap_server.py): passwords, groups, TLS, outages,
caches, doctor checks, and no password anywhere it could leak.

The shared server is never left changed: tests that change it undo it, tests that stop or pause
LDAP start their own (startup ~0.2 s).
"""

from __future__ import annotations

import logging
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from harness import UpstreamCA
from ldap_server import GROUPS, SLAPD, Slapd

from policies.model import LdapSettings
from proxy.errors import IdentityUnavailable
from proxy.identity import Identity
from proxy.identity.ldap import LdapDirectory, Secret

pytestmark = pytest.mark.skipif(SLAPD is None, reason="slapd is not installed (Debian slapd)")


class FakeClock:
    """Monotonic time the test moves by hand: cache expiry without waiting."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def ldap(tmp_path_factory):
    with Slapd(tmp_path_factory.mktemp("slapd")) as server:
        yield server


@pytest.fixture
def own_ldap(tmp_path):
    with Slapd(tmp_path / "slapd") as server:
        yield server


_MADE: list[LdapDirectory] = []


@pytest.fixture(autouse=True)
def _close_directories():
    """Each directory a test made closes its kept service connection (left to the garbage
    collector, the socket is a ResourceWarning, an error here)."""
    yield
    while _MADE:
        _MADE.pop().close()


def directory(server: Slapd, clock=time.monotonic, **overrides) -> LdapDirectory:
    made = LdapDirectory(LdapSettings(**server.settings(**overrides)), clock=clock)
    _MADE.append(made)
    return made


# -- passwords ---------------------------------------------------------------------------------

@pytest.mark.parametrize("starttls", [False, True], ids=["ldaps", "starttls"])
def test_right_password_gives_the_user_and_groups(ldap, starttls):
    found = directory(ldap, starttls=starttls).authenticate("alice", ldap.password("alice"))
    assert found == Identity(user="alice", groups=frozenset({"payroll", "staff"}), method="ldap")


@pytest.mark.parametrize("user, password", [
    ("alice", "wrong"),
    ("alice", ""),            # LDAP would take it as an anonymous bind that "succeeds"
    ("alice", "bob's"),       # someone else's password (filled in below)
    ("nobody", "anything"),
    ("", "anything"),
    ("alice\0", "x"),
])
def test_wrong_credentials_are_refused(ldap, user, password):
    if password == "bob's":
        password = ldap.password("bob")
    assert directory(ldap).authenticate(user, password) is None


def test_disabled_account_is_refused_by_the_filter(ldap):
    """carol's password is right: only disabled_filter refuses her."""
    assert directory(ldap).authenticate("carol", ldap.password("carol")) is None
    enabled = directory(ldap, disabled_filter=None).authenticate("carol", ldap.password("carol"))
    assert enabled == Identity(user="carol", groups=frozenset({"staff"}), method="ldap")


@pytest.mark.parametrize("user", ["al*", "*", "alice)(uid=*", "a*e"])
def test_user_name_is_escaped_in_the_filter(ldap, user):
    """Unescaped, 'al*' would find alice and her password would log the attacker in as her."""
    assert directory(ldap).authenticate(user, ldap.password("alice")) is None


def test_utf8_user_name_and_password(ldap):
    found = directory(ldap).authenticate("李雷", ldap.password("李雷"))
    assert found == Identity(user="李雷", groups=frozenset({"staff"}), method="ldap")
    assert directory(ldap).authenticate("李雷", ldap.password("李雷")[:-1]) is None


def test_a_name_matching_two_entries_is_refused(ldap):
    """A user_filter that finds alice and dave for "alice": which one logs in is not ours to
    guess, even with alice's right password."""
    d = directory(ldap, user_filter="(|(uid={user})(uid=dave))")
    assert d.authenticate("alice", ldap.password("alice")) is None
    assert d.groups("alice") == frozenset()


def test_concurrent_authentications(ldap):
    d = directory(ldap, cache_seconds=0)
    users = ["alice", "bob", "dave"] * 4
    with ThreadPoolExecutor(6) as pool:
        found = list(pool.map(lambda u: d.authenticate(u, ldap.password(u)), users))
    assert [f.user for f in found] == users


# -- groups ------------------------------------------------------------------------------------

def test_groups_from_member_of(ldap):
    d = directory(ldap)
    assert d.groups("alice") == {"payroll", "staff"}
    assert d.groups("bob") == {"staff"}
    assert d.groups("carol") == frozenset()   # disabled: no permissions
    assert d.groups("nobody") == frozenset()


def test_groups_from_a_group_search(ldap):
    d = directory(ldap, group_attribute=None, group_base=GROUPS)
    assert d.groups("alice") == {"payroll", "staff"}
    assert d.groups("bob") == {"staff"}
    found = d.authenticate("dave", ldap.password("dave"))
    assert found.groups == {"payroll", "staff"}


def test_group_search_by_user_name(ldap):
    """group_filter may use {user} (e.g. memberUid); here a filter only payroll matches."""
    d = directory(ldap, group_attribute=None, group_base=GROUPS,
                  group_filter="(&(member={dn})(cn=pay*))")
    assert d.groups("alice") == {"payroll"}
    assert d.groups("bob") == frozenset()


@pytest.mark.parametrize("source", [{}, {"group_attribute": None, "group_base": GROUPS}],
                         ids=["memberOf", "search"])
def test_group_names_from_an_attribute_not_in_the_dn(ldap, source):
    """memberOf gives DNs (cn=payroll,...): a name kept elsewhere is read from the group."""
    d = directory(ldap, group_name_attribute="ou", **source)
    assert d.groups("alice") == {"Payroll team", "All staff"}


def test_no_group_source_means_no_groups(ldap):
    d = directory(ldap, group_attribute=None)
    assert d.authenticate("alice", ldap.password("alice")).groups == frozenset()


# -- what changes in LDAP, and when the directory sees it ---------------------------------------

@pytest.fixture
def alice_back_in_payroll(ldap):
    yield
    ldap.add_to_group("alice", "payroll")


def test_removal_from_group(ldap, alice_back_in_payroll):
    """A new authentication sees it at once; groups() (tunnels, header users) after
    cache_seconds."""
    clock = FakeClock()
    d = directory(ldap, clock=clock, cache_seconds=1)
    password = ldap.password("alice")
    assert d.authenticate("alice", password).groups == {"payroll", "staff"}
    assert d.groups("alice") == {"payroll", "staff"}
    ldap.remove_from_group("alice", "payroll")
    assert d.authenticate("alice", password).groups == {"staff"}
    assert d.groups("alice") == {"staff"}  # the authentication refreshed the cache
    ldap.add_to_group("alice", "payroll")
    clock.now += 0.9   # within cache_seconds: the cached answer
    assert d.groups("alice") == {"staff"}
    clock.now += 0.2   # past cache_seconds: LDAP is asked again
    assert d.groups("alice") == {"payroll", "staff"}


@pytest.fixture
def bob_enabled_again(ldap):
    yield
    ldap.enable("bob")


def test_disabled_user_is_refused_at_once_and_loses_groups_after_cache_seconds(
        ldap, bob_enabled_again):
    clock = FakeClock()
    d = directory(ldap, clock=clock, cache_seconds=1)
    password = ldap.password("bob")
    assert d.authenticate("bob", password).user == "bob"
    assert d.groups("bob") == {"staff"}
    ldap.disable("bob")
    assert d.authenticate("bob", password) is None  # its password proof is cached: no matter
    assert d.groups("bob") == {"staff"}
    clock.now += 1.0
    assert d.groups("bob") == frozenset()


def test_deleted_user_is_refused_at_once(own_ldap):
    clock = FakeClock()
    d = directory(own_ldap, clock=clock, cache_seconds=1)
    assert d.authenticate("dave", own_ldap.password("dave")) is not None
    own_ldap.delete_user("dave")
    assert d.authenticate("dave", own_ldap.password("dave")) is None
    clock.now += 1.0
    assert d.groups("dave") == frozenset()


@pytest.fixture
def bob_password_restored(ldap):
    password = ldap.password("bob")
    yield
    ldap.set_password("bob", password)


def test_a_changed_password_works_here_for_cache_seconds(ldap, bob_password_restored):
    """The proof of a password is kept (as an HMAC), the password is not."""
    clock = FakeClock()
    d = directory(ldap, clock=clock, cache_seconds=1)
    old = ldap.password("bob")
    assert d.authenticate("bob", old) is not None
    ldap.set_password("bob", "pw-new-密码-for-bob")
    assert d.authenticate("bob", "pw-new-密码-for-bob") is not None
    clock.now += 0.9
    assert d.authenticate("bob", old) is not None
    clock.now += 0.1
    assert d.authenticate("bob", old) is None


def test_without_cache_groups_are_always_asked(ldap, alice_back_in_payroll):
    d = directory(ldap, cache_seconds=0)
    assert d.groups("alice") == {"payroll", "staff"}
    ldap.remove_from_group("alice", "payroll")
    assert d.groups("alice") == {"staff"}
    assert d.proven.entries == {} and d.group_cache.entries == {}


def test_a_wrong_password_is_not_answered_from_the_cache(ldap):
    d = directory(ldap, clock=FakeClock())
    assert d.authenticate("alice", ldap.password("alice")) is not None
    assert d.authenticate("alice", ldap.password("alice") + "x") is None


def test_the_service_connection_is_kept_and_replaced_after_a_restart(own_ldap):
    d = directory(own_ldap, cache_seconds=0)
    assert d.groups("alice") == {"payroll", "staff"}
    kept = d.lookups.conn
    assert d.authenticate("alice", own_ldap.password("alice")) is not None
    assert d.lookups.conn is kept  # one handshake for both lookups
    own_ldap.stop()
    own_ldap.start()  # the kept connection is dead now
    assert d.groups("alice") == {"payroll", "staff"}
    assert d.lookups.conn is not kept
    d.close()
    assert d.lookups.conn is None


# -- TLS and outages: IdentityUnavailable, never an answer --------------------------------------

@pytest.mark.parametrize("starttls", [False, True], ids=["ldaps", "starttls"])
def test_certificate_from_another_ca_is_refused(ldap, tmp_path, starttls):
    other = UpstreamCA(tmp_path / "other-ca")
    d = directory(ldap, starttls=starttls, ca_file=other.pem)
    with pytest.raises(IdentityUnavailable, match="TLS not verified"):
        d.authenticate("alice", ldap.password("alice"))
    with pytest.raises(IdentityUnavailable, match="TLS not verified"):
        d.groups("alice")


@pytest.mark.parametrize("starttls", [False, True], ids=["ldaps", "starttls"])
def test_certificate_for_another_name_is_refused(tmp_path, starttls):
    """The CA is right but the certificate names ldap.example.test, not 127.0.0.1."""
    with Slapd(tmp_path / "slapd", cert_names=("ldap.example.test",)) as server:
        d = directory(server, starttls=starttls)
        with pytest.raises(IdentityUnavailable, match="TLS not verified"):
            d.authenticate("alice", server.password("alice"))


def test_plain_ldap_without_starttls_is_refused(ldap):
    with pytest.raises(IdentityUnavailable, match="in clear"):
        LdapDirectory(replace(LdapSettings(**ldap.settings()), url=ldap.ldap_url))


def test_stopped_ldap_is_unavailable_then_recovers(own_ldap):
    d = directory(own_ldap, cache_seconds=0)
    own_ldap.stop()
    with pytest.raises(IdentityUnavailable, match="cannot reach LDAP"):
        d.authenticate("alice", own_ldap.password("alice"))
    with pytest.raises(IdentityUnavailable, match="cannot reach LDAP"):
        d.groups("alice")
    own_ldap.start()
    assert d.authenticate("alice", own_ldap.password("alice")).user == "alice"


@pytest.mark.parametrize("starttls", [False, True], ids=["ldaps", "starttls"])
def test_hanging_ldap_times_out(own_ldap, starttls):
    """A stopped (SIGSTOP) slapd accepts connections in the kernel and never answers."""
    d = directory(own_ldap, starttls=starttls, timeout_seconds=1)
    own_ldap.pause()
    try:
        started = time.monotonic()
        with pytest.raises(IdentityUnavailable, match="timed out"):
            d.authenticate("alice", own_ldap.password("alice"))
        assert time.monotonic() - started < 10  # bounded by the timeout, not hanging
    finally:
        own_ldap.resume()


def test_lookups_queued_behind_a_hanging_one_give_up(own_ldap):
    """Threads waiting for the kept connection fail after their wait instead of piling up."""
    d = directory(own_ldap, timeout_seconds=1)
    assert d.groups("alice") == {"payroll", "staff"}  # the service connection is open
    d.group_cache.entries.clear()
    own_ldap.pause()
    try:
        with ThreadPoolExecutor(6) as pool:
            failures = list(pool.map(lambda _: _unavailable(lambda: d.groups("alice")), range(6)))
    finally:
        own_ldap.resume()
    assert all(failures)
    assert any("waited over 3 s for the one before" in f for f in failures)


def _unavailable(call) -> str:
    try:
        call()
    except IdentityUnavailable as exc:
        return str(exc)
    return ""


def test_refused_service_account_is_unavailable_not_a_refusal(ldap, tmp_path):
    wrong = tmp_path / "svc.password"
    wrong.write_text("not-the-service-password\n")
    wrong.chmod(0o600)
    d = directory(ldap, bind_password_file=wrong)
    with pytest.raises(IdentityUnavailable, match=r"service account's bind was refused "
                                                  r"\(invalidCredentials\)") as raised:
        d.authenticate("alice", ldap.password("alice"))
    assert "not-the-service-password" not in str(raised.value)
    assert ldap.password("alice") not in str(raised.value)


def test_missing_password_file_is_unavailable(ldap, tmp_path):
    d = directory(ldap, bind_password_file=tmp_path / "absent")
    with pytest.raises(IdentityUnavailable, match="cannot read bind_password_file"):
        d.groups("alice")


def test_unreadable_ca_file_is_unavailable(ldap, tmp_path):
    d = directory(ldap, ca_file=tmp_path / "absent-ca.pem")
    with pytest.raises(IdentityUnavailable, match=r"absent-ca\.pem is not a readable PEM"):
        d.authenticate("alice", ldap.password("alice"))


def test_missing_user_base_is_unavailable(ldap):
    d = directory(ldap, user_base="ou=nowhere,dc=example,dc=com")
    with pytest.raises(IdentityUnavailable, match="noSuchObject"):
        d.authenticate("alice", ldap.password("alice"))


# -- doctor ------------------------------------------------------------------------------------

def test_check_passes_on_a_good_configuration(ldap):
    assert directory(ldap).check() == []
    assert directory(ldap, starttls=True, group_base=GROUPS).check() == []


def test_check_names_each_problem(ldap, tmp_path):
    other = UpstreamCA(tmp_path / "other-ca")
    [tls] = directory(ldap, ca_file=other.pem).check()
    assert tls.startswith(f"cannot reach LDAP at {ldap.ldaps_url}: TLS not verified")

    loose = tmp_path / "loose.password"
    shutil.copy(ldap.service_password_file, loose)
    loose.chmod(0o644)
    assert directory(ldap, bind_password_file=loose).check() == [
        f"bind_password_file {loose} can be read by others (chmod 600 {loose})"]

    wrong = tmp_path / "wrong.password"
    wrong.write_text("nope\n")
    wrong.chmod(0o600)
    assert directory(ldap, bind_password_file=wrong).check() == [
        f"{ldap.ldaps_url}: the service account's bind was refused (invalidCredentials)"]

    nowhere = "ou=nowhere,dc=example,dc=com"
    assert directory(ldap, user_base=nowhere).check() == [
        f"user_base {nowhere} cannot be read with the service account (noSuchObject)"]
    assert directory(ldap, disabled_filter="employeeType=disabled)").check() == [
        "user_filter (with disabled_filter) is not a valid LDAP filter"]
    missing_ca = tmp_path / "absent-ca.pem"
    [ca] = directory(ldap, ca_file=missing_ca).check()
    assert ca.startswith(f"ca_file {missing_ca} is not a readable PEM certificate")


def test_check_reports_ldap_down(own_ldap):
    d = directory(own_ldap)
    own_ldap.stop()
    [down] = d.check()
    assert down.startswith(f"cannot reach LDAP at {own_ldap.ldaps_url}: ")
    assert "Connection refused" in down


# -- no password anywhere ------------------------------------------------------------------------

def test_secret_never_shows_itself():
    secret = Secret("s3cret-value")
    assert repr(secret) == str(secret) == f"{secret}" == "***"
    assert secret.reveal() == "s3cret-value"


def test_no_password_in_caches_logs_or_errors(ldap, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    d = directory(ldap, clock=FakeClock())
    passwords = ldap.all_passwords()
    assert d.authenticate("alice", ldap.password("alice")) is not None
    assert d.authenticate("bob", ldap.password("alice")) is None
    d.groups("dave")
    kept = repr(vars(d)) + repr(d.proven.entries) + repr(d.group_cache.entries)
    errors = []
    for broken in ({"ca_file": UpstreamCA(tmp_path / "other").pem}, {"user_base": "o=x"}):
        try:
            directory(ldap, **broken).authenticate("alice", ldap.password("alice"))
        except IdentityUnavailable as exc:
            errors.append(repr(exc) + str(exc))
    assert len(errors) == 2
    everything = kept + caplog.text + "".join(errors)
    leaked = [p for p in passwords if p in everything]
    assert leaked == []

