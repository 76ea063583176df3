"""deploy/transparent: the nftables file and the iptables script, checked by the real tools.

Each check runs in a throw-away network namespace, so the host's firewall is never touched.
The rules name baomi's user, which nft and iptables resolve at load time; this machine has no
``baomi`` user, so the checks substitute ``nobody`` for it and nothing else.
"""

import json
import re
import secrets
import subprocess
from pathlib import Path

import netns
import pytest

pytestmark = pytest.mark.skipif(netns.skip_reason() is not None, reason=str(netns.skip_reason()))

NFT = netns.NFT_RULES
IPTABLES = netns.IPTABLES_SCRIPT
TEST_USER = "nobody"


@pytest.fixture
def scratch_ns():
    name = f"{netns.PREFIX}-fw-{secrets.token_hex(4)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)


def in_ns(ns: str, *argv: str, **env: str) -> subprocess.CompletedProcess:
    assignments = [f"{key}={value}" for key, value in env.items()]
    return subprocess.run(
        ["ip", "netns", "exec", ns, "env", *assignments, *argv],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )


def nft_file(tmp_path: Path, **defines: str) -> Path:
    path = tmp_path / "baomi.nft"
    settings = {"BAOMI_USER": f'"{TEST_USER}"', **defines}
    path.write_text(netns.render_nft(NFT.read_text(), **settings))
    return path


# --- nftables -----------------------------------------------------------------------------------


def test_nft_file_passes_nft_check(scratch_ns, tmp_path):
    done = in_ns(scratch_ns, "nft", "-c", "-f", str(nft_file(tmp_path)))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


@pytest.mark.parametrize(
    "defines,message",
    [
        ({"BAOMI_USER": '"no-such-user-baomi"'}, "User does not exist"),
        ({"BAOMI_PORT": "eighty"}, "Error"),
        ({"LAN_NET4": "{ 198.18.1.300/24 }"}, "Error"),
    ],
)
def test_nft_check_rejects_broken_settings(scratch_ns, tmp_path, defines, message):
    done = in_ns(scratch_ns, "nft", "-c", "-f", str(nft_file(tmp_path, **defines)))
    assert done.returncode != 0
    assert message in done.stderr


def _ruleset(ns: str) -> list[dict]:
    done = in_ns(ns, "nft", "-j", "list", "ruleset")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["nftables"]


def _rules(ruleset: list[dict], chain: str) -> list[list[dict]]:
    return [
        item["rule"]["expr"]
        for item in ruleset
        if "rule" in item and item["rule"]["chain"] == chain
    ]


def test_nft_loaded_rules_redirect_drop_and_exempt_the_proxy(scratch_ns, tmp_path):
    path = nft_file(tmp_path, BAOMI_PORT="3128")
    for _ in range(2):  # the file reloads atomically and idempotently
        assert in_ns(scratch_ns, "nft", "-f", str(path)).returncode == 0
    ruleset = _ruleset(scratch_ns)
    chains = {item["chain"]["name"]: item["chain"] for item in ruleset if "chain" in item}
    assert {name: (c["type"], c["hook"]) for name, c in chains.items()} == {
        "prerouting": ("nat", "prerouting"),
        "output": ("nat", "output"),
        "forward": ("filter", "forward"),
    }
    prerouting = json.dumps(_rules(ruleset, "prerouting"))
    assert len(_rules(ruleset, "prerouting")) == 2  # IPv4 and IPv6, not doubled by the reload
    assert prerouting.count('"redirect": {"port": 3128}') == 2
    assert "tproxy" not in json.dumps(ruleset)
    forward = _rules(ruleset, "forward")
    assert [rule[-1] for rule in forward] == [{"drop": None}, {"drop": None}]
    assert '"set": [80, 443]' in json.dumps(forward[0]) and '"udp"' in json.dumps(forward[1])
    output = _rules(ruleset, "output")
    assert output[0][0]["match"]["left"] == {"meta": {"key": "skuid"}}
    assert output[0][0]["match"]["right"] == 65534 and output[0][-1] == {"return": None}


def test_nft_unload_command_from_the_unit_removes_only_our_table(scratch_ns, tmp_path):
    assert in_ns(scratch_ns, "nft", "add", "table", "inet", "site").returncode == 0
    assert in_ns(scratch_ns, "nft", "-f", str(nft_file(tmp_path))).returncode == 0
    unit = (NFT.parent / "baomi-firewall.service").read_text()
    stop = re.search(r"^ExecStop=(.*)$", unit, re.MULTILINE).group(1).split()
    assert in_ns(scratch_ns, *stop).returncode == 0
    tables = [item["table"]["name"] for item in _ruleset(scratch_ns) if "table" in item]
    assert tables == ["site"]


# --- iptables -----------------------------------------------------------------------------------

IPTABLES_ENV = {
    "LAN_IFS": "lan0 lan1",
    "LAN_NET4": "198.18.1.0/24 198.18.3.0/24",
    "LAN_NET6": "fd18:1::/64",
    "BAOMI_PORT": "3128",
    "BAOMI_USER": TEST_USER,
}

EXPECTED_V4 = [
    "-A PREROUTING -j BAOMI_PREROUTING",
    "-A OUTPUT -j BAOMI_OUTPUT",
    "-A FORWARD -j BAOMI_FORWARD",
    *(
        f"-A BAOMI_PREROUTING -s {net} -i {iface} -p tcp -m multiport --dports 80,443 "
        f'-m comment --comment "LAN web traffic to baomi" -j REDIRECT --to-ports 3128'
        for iface in ("lan0", "lan1")
        for net in ("198.18.1.0/24", "198.18.3.0/24")
    ),
    (
        '-A BAOMI_OUTPUT -m owner --uid-owner 65534 -m comment --comment "baomi own connections" '
        "-j RETURN"
    ),
    "-A BAOMI_OUTPUT -o lo -j RETURN",
    *(
        f"-A BAOMI_FORWARD -i {iface} -p tcp -m multiport --dports 80,443 "
        f'-m comment --comment "fail closed: LAN web traffic never bypasses baomi" -j DROP'
        for iface in ("lan0", "lan1")
    ),
    *(
        f'-A BAOMI_FORWARD -i {iface} -p udp -m udp --dport 443 -m comment --comment "no QUIC" -j DROP'
        for iface in ("lan0", "lan1")
    ),
]


def _saved(ns: str, tool: str) -> list[str]:
    done = in_ns(ns, tool)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line.startswith("-A")]


def test_iptables_script_is_valid_bash():
    done = subprocess.run(
        ["bash", "-n", str(IPTABLES)], check=False, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_iptables_start_installs_the_rules_once(scratch_ns):
    for _ in range(2):  # idempotent: start stops first
        done = in_ns(scratch_ns, "bash", str(IPTABLES), "start", **IPTABLES_ENV)
        assert done.returncode == 0, done.stderr
    saved = _saved(scratch_ns, "iptables-save")
    for rule in EXPECTED_V4:
        assert saved.count(rule) == 1, rule
    assert len(saved) == len(EXPECTED_V4) + 1  # + the gateway's own traffic redirect
    assert not any("TPROXY" in rule for rule in saved)
    saved6 = _saved(scratch_ns, "ip6tables-save")
    assert any("-s fd18:1::/64 -i lan0" in r and "--to-ports 3128" in r for r in saved6)
    assert sum("-j DROP" in rule for rule in saved6) == 4


def test_iptables_check_and_stop(scratch_ns):
    assert in_ns(scratch_ns, "bash", str(IPTABLES), "check", **IPTABLES_ENV).returncode == 0
    assert _saved(scratch_ns, "iptables-save") == []  # check changes nothing
    assert in_ns(scratch_ns, "bash", str(IPTABLES), "start", **IPTABLES_ENV).returncode == 0
    assert in_ns(scratch_ns, "bash", str(IPTABLES), "stop").returncode == 0
    for tool in ("iptables-save", "ip6tables-save"):
        assert not any("BAOMI" in line for line in in_ns(scratch_ns, tool).stdout.splitlines())


@pytest.mark.parametrize(
    "env,args",
    [
        ({**IPTABLES_ENV, "BAOMI_USER": "no-such-user-baomi"}, ["start"]),
        ({**IPTABLES_ENV, "LAN_NET4": "198.18.1.300/24"}, ["start"]),
        (IPTABLES_ENV, ["restart"]),
        (IPTABLES_ENV, []),
    ],
)
def test_iptables_bad_input_fails_and_applies_nothing(scratch_ns, env, args):
    done = in_ns(scratch_ns, "bash", str(IPTABLES), *args, **env)
    assert done.returncode != 0
    assert _saved(scratch_ns, "iptables-save") == []


# --- both ---------------------------------------------------------------------------------------


def _nft_default(name: str) -> str:
    return re.search(rf"^define {name} = (.*?)\s*(#.*)?$", NFT.read_text(), re.MULTILINE).group(1)


def _sh_default(name: str) -> str:
    return re.search(rf'^{name}="\$\{{{name}:-(.*?)\}}"', IPTABLES.read_text(), re.MULTILINE).group(
        1
    )


@pytest.mark.parametrize("name", ["LAN_NET4", "LAN_NET6", "WEB_PORTS", "BAOMI_PORT", "BAOMI_USER"])
def test_both_editions_ship_the_same_defaults(name):
    def normalise(value: str) -> list[str]:
        return re.sub(r'[{}"\s]', "", value).replace(",", " ").split()

    assert normalise(_nft_default(name)) == normalise(_sh_default(name))
