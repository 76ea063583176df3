"""Identity backends without a proxy: htpasswd (bcrypt, SHA), Basic credentials, the trusted
header, the IP map (reload, expiry), the groups file, and the resolver's method order."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
import re
import time
from pathlib import Path

import bcrypt
import pytest

from policies.model import HeaderSettings, IdentitySettings, IpMapSettings, ProxyAuthSettings
from proxy.errors import IdentityUnavailable
from proxy.identity import UNKNOWN, Identity
from proxy.identity.basic import basic_credentials
from proxy.identity.groups import GroupsDirectory
from proxy.identity.htpasswd import Htpasswd
from proxy.identity.ipmap import IpMap
from proxy.identity.resolve import Claims, IdentityResolver, Resolution, clean_user


def bcrypt_entry(password: str, prefix: str = "$2y$") -> str:
    digest = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    return prefix + digest[4:]


def sha_entry(password: str) -> str:
    return "{SHA}" + base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def bump(path: Path, seconds_ago: float = 0.0) -> None:
    """Give ``path`` a distinct mtime (a rewrite in the same clock tick must still be seen)."""
    stamp = time.time() - seconds_ago
    os.utime(path, (stamp, stamp))


@pytest.fixture
def htpasswd(tmp_path):
    path = tmp_path / "users.htpasswd"
    path.write_text(
        f"# staff\nalice:{bcrypt_entry('Tr0ub4dor&3')}\nbob:{sha_entry('c0rrect:horse')}\n"
        f"carol:{bcrypt_entry('pw', '$2b$')}\nmallory:$apr1$abc$defghijklmnopqrstuv\n"
        "eve:plaintext\n"
    )
    return path


@pytest.mark.parametrize("user, password, ok", [
    ("alice", "Tr0ub4dor&3", True),   # bcrypt $2y$ (Apache)
    ("alice", "Tr0ub4dor&4", False),
    ("bob", "c0rrect:horse", True),   # {SHA}, ':' inside the password
    ("bob", "c0rrect", False),
    ("carol", "pw", True),            # bcrypt $2b$
    ("mallory", "anything", False),   # MD5 apr1: unsupported, never authenticates
    ("eve", "plaintext", False),      # plain text: never
    ("nobody", "x", False),
])
def test_htpasswd_check(htpasswd, user, password, ok):
    assert Htpasswd(htpasswd).check(user, password) is ok


def test_htpasswd_problems_name_unsupported_entries(htpasswd):
    problems = Htpasswd(htpasswd).problems()
    assert [p.split(": ", 1)[1] for p in problems] == [
        "user 'mallory' has an unsupported hash (expected bcrypt or {SHA})",
        "user 'eve' has an unsupported hash (expected bcrypt or {SHA})",
    ]


def test_htpasswd_change_revokes_a_cached_password(htpasswd):
    users = Htpasswd(htpasswd)
    assert users.check("alice", "Tr0ub4dor&3")
    htpasswd.write_text(f"alice:{bcrypt_entry('new-password')}\n")
    bump(htpasswd)
    assert not users.check("alice", "Tr0ub4dor&3")
    assert users.check("alice", "new-password")


def test_htpasswd_unreadable_or_malformed_is_unavailable(tmp_path):
    with pytest.raises(IdentityUnavailable, match="cannot read"):
        Htpasswd(tmp_path / "missing").check("a", "b")
    bad = tmp_path / "bad"
    bad.write_text("no colon here\n")
    with pytest.raises(IdentityUnavailable, match="line 1: expected user:hash"):
        Htpasswd(bad).check("a", "b")


@pytest.mark.parametrize("value, expected", [
    (basic("alice", "pa:ss"), ("alice", "pa:ss")),
    ("basic " + base64.b64encode("张伟:密码".encode()).decode(), ("张伟", "密码")),
    ("Bearer abc", None),
    ("Basic !!!", None),
    ("Basic " + base64.b64encode(b"nocolon").decode(), None),
    ("Basic " + base64.b64encode(b":pw").decode(), None),
    (None, None),
])
def test_basic_credentials(value, expected):
    assert basic_credentials(value) == expected


@pytest.mark.parametrize("value, expected", [
    ("alice", "alice"), (" alice ", "alice"), ("-", None), ("", None), ("al ice", None),
    ("al\x00ice", None), ("a" * 257, None), ("CORP\\alice", "CORP\\alice"),
])
def test_clean_user(value, expected):
    assert clean_user(value) == expected


def test_ipmap_lookup_reload_and_expiry(tmp_path):
    path = tmp_path / "ipmap.txt"
    now = time.time()
    path.write_text(
        "# address user [time]\n10.20.3.4 alice\n"
        f"10.20.3.5 bob {int(now - 7200)}\n"
        "2001:db8::7 carol 2026-01-01T00:00:00Z\n"
    )
    ipmap = IpMap(IpMapSettings(path, max_age_seconds=3600))
    assert ipmap.user_at("10.20.3.4", now) == "alice"
    assert ipmap.user_at("::ffff:10.20.3.4", now) == "alice"  # dual-stack listener form
    assert ipmap.user_at("10.20.3.5", now) is None  # its own time is 2 h old
    assert ipmap.user_at("2001:db8::7", now) is None  # far older than max_age
    assert ipmap.user_at("10.20.3.9", now) is None
    assert ipmap.user_at("10.20.3.4", now + 3601) is None  # the file itself went stale
    path.write_text("10.20.3.4 dave\n")
    bump(path)
    assert ipmap.user_at("10.20.3.4", time.time()) == "dave"  # rewritten: reloaded


@pytest.mark.parametrize("text, message", [
    ("10.0.0.1\n", "line 1: expected 'address user [time]'"),
    ("host.example alice\n", "line 1: the first field is not an IP address"),
    ("10.0.0.1 alice yesterday\n", "line 1: the time is neither ISO 8601 nor epoch seconds"),
    ("\n10.0.0.1 alice 2026-01-01T00:00:00\n", "line 2: the time has no timezone"),
])
def test_ipmap_bad_file_is_unavailable(tmp_path, text, message):
    path = tmp_path / "ipmap.txt"
    path.write_text(text)
    with pytest.raises(IdentityUnavailable, match=re.escape(message)):
        IpMap(IpMapSettings(path, 60)).user_at("10.0.0.1", time.time())


def test_groups_file(tmp_path):
    path = tmp_path / "groups.yaml"
    path.write_text("groups:\n  payroll: [Alice, bob]\n  sales: [alice]\n  empty: []\n")
    directory = GroupsDirectory(path)
    assert directory.groups_of("ALICE") == {"payroll", "sales"}
    assert directory.groups_of("carol") == frozenset()
    path.write_text("groups:\n  sales: [alice]\n")
    bump(path)
    assert directory.groups_of("alice") == {"sales"}  # removed from payroll at once


@pytest.mark.parametrize("text, message", [
    ("payroll: [alice]\n", "expected a mapping 'groups:"),
    ("groups:\n  payroll: alice\n", "group 'payroll': expected a list of user names"),
    ("groups: [\n", "line 2: not valid YAML"),
])
def test_groups_bad_file_is_unavailable(tmp_path, text, message):
    path = tmp_path / "groups.yaml"
    path.write_text(text)
    with pytest.raises(IdentityUnavailable, match=re.escape(message)):
        GroupsDirectory(path).groups_of("alice")


@pytest.fixture
def resolver_files(tmp_path, htpasswd):
    groups = tmp_path / "groups.yaml"
    groups.write_text("groups:\n  payroll: [alice, dave]\n")
    ipmap = tmp_path / "ipmap.txt"
    ipmap.write_text("10.9.9.9 dave\n")
    return htpasswd, groups, ipmap


def settings(files, methods=("proxyauth", "header", "ipmap"), required=True) -> IdentitySettings:
    htpasswd, groups, ipmap = files
    return IdentitySettings(
        methods=methods,
        proxyauth=ProxyAuthSettings("corp", htpasswd, None, required),
        header=HeaderSettings("X-Authenticated-User", (ipaddress.ip_network("127.0.0.1/32"),)),
        ipmap=IpMapSettings(ipmap, 3600),
        groups_file=groups,
    )


@pytest.mark.parametrize("claims, identity, challenge, untrusted", [
    (Claims("10.1.1.1", True, basic("alice", "Tr0ub4dor&3")),
     Identity("alice", frozenset({"payroll"}), "proxyauth"), None, False),
    (Claims("10.1.1.1", True, basic("alice", "wrong"), "bob"), UNKNOWN, "invalid", False),
    (Claims("10.1.1.1", True, "Bearer x"), UNKNOWN, "invalid", False),
    (Claims("127.0.0.1", True, None, "bob"), Identity("bob", frozenset(), "header"), None, False),
    (Claims("10.1.1.1", True, None, "bob"), UNKNOWN, "missing", True),  # not trusted: ignored
    (Claims("10.9.9.9", True, None, "bob"),
     Identity("dave", frozenset({"payroll"}), "ipmap"), None, True),
    (Claims("10.9.9.9", False, basic("alice", "Tr0ub4dor&3")),  # transparent: no proxyauth
     Identity("dave", frozenset({"payroll"}), "ipmap"), None, False),
    (Claims("10.1.1.1", False), UNKNOWN, None, False),  # transparent: never a 407
])
def test_resolver_tries_methods_in_order(resolver_files, claims, identity, challenge, untrusted):
    result = IdentityResolver(settings(resolver_files)).resolve(claims)
    assert (result.identity, result.challenge, result.untrusted_header) == (
        identity, challenge, untrusted)


def test_resolver_order_is_the_admins(resolver_files):
    claims = Claims("127.0.0.1", True, basic("alice", "Tr0ub4dor&3"), "bob")
    header_first = IdentityResolver(settings(resolver_files, ("header", "proxyauth")))
    assert header_first.resolve(claims).identity.user == "bob"


def test_resolver_not_required_lets_unknown_users_through(resolver_files):
    resolver = IdentityResolver(settings(resolver_files, ("proxyauth",), required=False))
    assert resolver.resolve(Claims("10.1.1.1", True)) == Resolution(UNKNOWN)
    assert resolver.resolve(Claims("10.1.1.1", True, basic("x", "y"))).challenge == "invalid"


def test_resolver_unreadable_groups_file_is_unavailable(resolver_files):
    resolver = IdentityResolver(settings(resolver_files))
    resolver_files[1].unlink()
    with pytest.raises(IdentityUnavailable):
        resolver.resolve(Claims("127.0.0.1", True, None, "bob"))
