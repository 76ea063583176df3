"""The policy's identity section and sources by people: strict validation with file:line:column,
and decide() matching users, directory groups, cidrs and the reserved 'unauthenticated'."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from detectors.model import Finding
from policies.decide import decide
from policies.facts import RequestFacts
from policies.load import load_policy, summarize
from proxy.errors import PolicyError

BASE = "version: 1\nmode: enforce\ndefault_action: allow\nrules: []\n"  # lines 1-4

PEOPLE = """
version: 1
mode: enforce
destinations:
  payroll-partner: {hosts: [payroll.example]}
sources:
  payroll: {groups: [Payroll], users: [carol]}
  hr-vlan: {cidrs: [10.20.0.0/16]}
rules:
  - name: block-unknown-users
    description: customer data from unknown users never leaves
    action: block
    source: [unauthenticated]
    data: {entities: [CN_RESIDENT_ID, PHONE_NUMBER]}
  - name: allow-payroll-ids
    description: the payroll team may send resident IDs to the payroll partner
    action: allow
    source: [payroll, hr-vlan]
    destination: [payroll-partner]
  - name: block-ids
    description: resident IDs never leave
    action: block
    data: {entities: [CN_RESIDENT_ID]}
default_action: allow
identity:
  methods: [proxyauth, header]
  proxyauth: {htpasswd: users.htpasswd, realm: corp}
  header: {trusted_cidrs: [127.0.0.1/32]}
  groups: {file: groups.yaml}
"""

ID = Finding("CN_RESIDENT_ID", 1.0, 0, 18, "json:$.id", 0, "11010519491231002X")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


def errors_of(tmp_path: Path, text: str) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    return [e.removeprefix(f"{path}:") for e in caught.value.errors]


def facts(user: str | None, groups: frozenset[str] = frozenset(), ip: str = "10.99.0.1",
          host: str = "payroll.example") -> RequestFacts:
    return RequestFacts(ip, host, 443, "https", "POST", "/", datetime(2026, 6, 1, tzinfo=UTC),
                        user=user, groups=groups, identity_method="none" if user is None else "header")


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    return load_policy(write(tmp_path_factory.mktemp("p"), PEOPLE))


def test_identity_section_compiles_paths_beside_the_policy(people):
    identity = people.identity
    assert identity.methods == ("proxyauth", "header")
    assert identity.proxyauth.realm == "corp"
    assert identity.proxyauth.htpasswd == Path(people.path).parent / "users.htpasswd"
    assert identity.proxyauth.required is True
    assert identity.header.name == "X-Authenticated-User"
    assert identity.header.trusts(__import__("ipaddress").ip_address("127.0.0.1"))
    assert not identity.header.trusts(__import__("ipaddress").ip_address("127.0.0.2"))
    assert identity.groups_file == Path(people.path).parent / "groups.yaml"
    assert "identity: proxyauth (htpasswd, required), header X-Authenticated-User from 1 cidr(s); " \
           "groups from file" in summarize(people)
    assert "source payroll: 0 cidr(s), 1 user(s), 1 group(s)" in summarize(people)


@pytest.mark.parametrize("user, groups, ip, rule, action", [
    ("alice", frozenset({"payroll"}), "10.99.0.1", "allow-payroll-ids", "allow"),  # group, any case
    ("CAROL", frozenset(), "10.99.0.1", "allow-payroll-ids", "allow"),  # user, any case
    ("bob", frozenset({"sales"}), "10.99.0.1", "block-ids", "block"),
    ("bob", frozenset(), "10.20.3.4", "allow-payroll-ids", "allow"),  # cidr still matches
    (None, frozenset(), "10.20.3.4", "block-unknown-users", "block"),  # unknown users first
    (None, frozenset({"payroll"}), "10.99.0.1", "block-unknown-users", "block"),
])
def test_sources_match_users_groups_and_cidrs(people, user, groups, ip, rule, action):
    decision = decide(people, facts(user, groups, ip), [ID])
    assert (decision.rule, decision.action) == (rule, action)


def test_group_without_a_user_never_matches(people):
    # groups only count for a known user: an ipmap/header miss cannot borrow a group
    decision = decide(people, facts(None, frozenset({"payroll"})), [])
    assert decision.rule == "default"


def test_approval_by_user_group(tmp_path):
    text = PEOPLE.replace("default_action: allow\n", """default_action: allow
approvals:
  - id: APR-1
    source: payroll
    destination: payroll-partner
    data: [CN_RESIDENT_ID]
    purpose: payroll
    approver: dpo
    agreement: DPA-1
    expires: 2030-01-01T00:00:00+08:00
""").replace("source: [payroll, hr-vlan]", "source: [hr-vlan]")
    policy = load_policy(write(tmp_path, text))
    decision = decide(policy, facts("alice", frozenset({"Payroll"})), [ID])
    assert (decision.action, decision.rule, decision.approval) == ("allow", "default", "APR-1")
    assert decide(policy, facts("bob"), [ID]).rule == "block-ids"


def test_no_identity_section_means_everyone_is_unauthenticated(tmp_path):
    policy = load_policy(write(tmp_path, BASE))
    assert policy.identity is None
    assert "identity: none" in summarize(policy)


@pytest.mark.parametrize("tail, expected", [
    ("identity:\n  methods: [kerberos]\n",
     "6:13: identity.methods[0]: text 'kerberos' is not allowed; expected one of 'proxyauth', "
     "'header' or 'ipmap'"),
    ("identity:\n  methods: [header]\n",
     "6:3: identity: method header is listed but not configured; expected an identity.header"),
    ("identity:\n  methods: [header]\n  header: {trusted_cidrs: [10.0.0.300/32]}\n",
     "7:28: identity.header.trusted_cidrs[0]: '10.0.0.300/32' is not a network"),
    ("identity:\n  methods: [proxyauth]\n  proxyauth: {realm: x}\n",
     "7:14: identity.proxyauth: expected exactly one of htpasswd or ldap"),
    ("identity:\n  methods: [proxyauth]\n  proxyauth:\n    ldap:\n      url: ldap://h:389\n"
     "      bind_dn: cn=svc\n      bind_password_file: pw\n      user_base: ou=people\n",
     "9:7: identity.proxyauth.ldap: plain ldap:// would send passwords in clear"),
    ("identity:\n  methods: [proxyauth]\n  proxyauth:\n    ldap:\n      url: ldaps://h\n"
     "      bind_dn: cn=svc\n      bind_password_file: pw\n      user_base: ou=people\n"
     "      cache_seconds: 3600\n",
     "13:22: identity.proxyauth.ldap.cache_seconds:"),
    ("identity:\n  methods: [ipmap]\n  ipmap: {file: map.txt, max_age: 60}\n",
     "7:26: identity.ipmap.max_age: unknown key 'max_age' (did you mean 'max_age_seconds'?)"),
    ("identity:\n  methods: [header]\n  header: {trusted_cidrs: [10.0.0.0/8]}\n"
     "  groups: {ldap: true}\n",
     "6:3: identity: groups.ldap needs identity.proxyauth.ldap"),
    ("identity:\n  methods: [header]\n  header: {name: Host, trusted_cidrs: [10.0.0.0/8]}\n",
     "7:11: identity.header: 'Host' is part of HTTP itself and cannot carry the user"),
    ("sources:\n  nobody: {description: x}\n",
     "6:11: sources.nobody: source matches nobody; expected at least one of cidrs, users or groups"),
    ("sources:\n  p: {users: [al ice]}\n",
     "6:15: sources.p.users[0]: 'al ice' is not a user or group name"),
    ("sources:\n  unauthenticated: {users: [x]}\n",
     "6:3: sources.unauthenticated: group name 'unauthenticated' is reserved"),
])
def test_identity_policy_errors(tmp_path, tail, expected):
    errors = errors_of(tmp_path, BASE + tail)
    assert any(e.startswith(expected) for e in errors), errors


def test_unknown_source_suggests_unauthenticated(tmp_path):
    text = BASE.replace("rules: []\n", "rules:\n  - {name: r, description: d, action: block, "
                        "source: [unauthenticted]}\n")
    errors = errors_of(tmp_path, text)
    assert len(errors) == 1
    assert "unknown source group 'unauthenticted' (did you mean 'unauthenticated'?)" in errors[0]


DEFAULT = Path(__file__).resolve().parent.parent / "policies" / "default.yaml"


def identity_example(ldap: bool) -> str:
    """default.yaml's commented identity block, turned on as its comment says ("# " removed);
    ``ldap``: with the nested LDAP example instead of htpasswd."""
    text = DEFAULT.read_text()
    block = text[text.index("\n# identity:\n") + 1:]
    lines = [line[2:] for line in block.splitlines()]
    if ldap:
        lines = [line.replace("  # ", "  ", 1) if line.lstrip().startswith("#   ") or
                 line.strip().startswith("# ldap:") else line
                 for line in lines if not line.strip().startswith("htpasswd:")]
    return text[:text.index("\n# identity:\n") + 1] + "\n".join(lines) + "\n"


@pytest.mark.parametrize("ldap", [False, True])
def test_default_policy_identity_example_loads(tmp_path, ldap):
    policy = load_policy(write(tmp_path, identity_example(ldap)))
    identity = policy.identity
    assert identity.methods == ("proxyauth", "header", "ipmap")
    assert (identity.proxyauth.htpasswd is None) == ldap
    if ldap:
        assert identity.proxyauth.ldap.url == "ldaps://ldap.corp.example.com:636"
        assert identity.proxyauth.ldap.disabled_filter == "(pwdAccountLockedTime=*)"
        assert identity.proxyauth.ldap.bind_password_file == Path("/etc/baomi/ldap-bind.pw")
    assert identity.ipmap.max_age_seconds == 28800
    assert identity.groups_file == Path("/etc/baomi/groups.yaml")


def test_default_policy_has_identity_off():
    assert load_policy(DEFAULT).identity is None
