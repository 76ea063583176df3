"""End to end in transparent mode: a real client -> gateway -> server network (tests/netns.py).

The gateway NAT-redirects the client's TCP 80/443 to the real `baomi run --mode transparent`
(deploy/transparent/baomi.nft); the server namespace runs recording HTTP and HTTPS servers with
their own test CA. The client (curl) trusts baomi's exported CA and talks to host *names*
(``--resolve name:443:SERVER_IP``), so SNI and Host carry the name and the redirect only the IP.

What the server recorded is the assertion, as in tests/test_e2e_proxy.py.
baomi runs as root here, so the rules exempt root's traffic (BAOMI_USER) instead of a `baomi`
user's; everything else is the shipped rule file.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import netns
import pytest
import yaml
from harness import BAOMI, REPO, BaomiProcess, UpstreamCA
from netns import SERVER_IP

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(netns.skip_reason() is not None, reason=str(netns.skip_reason())),
]

RESIDENT_ID = "11010519491231002X"
MOBILE = "13800138000"
SHOP, INTRANET = "shop.test", "intranet.test"  # both resolve to SERVER_IP
PORTS = {"http": 80, "https": 443}


def transparent_policy(tmp: Path) -> Path:
    """The default policy, with intranet.test internal (by name only: no CIDRs), and without
    block-plain-http so that masking over plain HTTP is exercised too."""
    data = yaml.safe_load((REPO / "policies" / "default.yaml").read_text())
    data["internal"] = {"hosts": [INTRANET], "cidrs": []}
    data["rules"] = [r for r in data["rules"] if r["name"] != "block-plain-http"]
    path = tmp / "policy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def lab():
    with netns.egress_gateway() as net:
        yield net


@pytest.fixture(scope="module")
def upstream_ca(tmp_path_factory) -> UpstreamCA:
    return UpstreamCA(tmp_path_factory.mktemp("upstream-ca"))


@pytest.fixture(scope="module")
def servers(lab, upstream_ca) -> dict[str, netns.Recorder]:
    upstream_ca.server_context([SHOP, INTRANET, SERVER_IP])  # writes shop.test.pem/.key
    chain = (upstream_ca.dir / f"{SHOP}.pem", upstream_ca.dir / f"{SHOP}.key")
    return {
        "http": lab.record("server", SERVER_IP, 80),
        "https": lab.record("server", SERVER_IP, 443, tls=chain),
    }


@pytest.fixture(scope="module")
def proxy(lab, servers, upstream_ca, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("baomi-transparent")
    px = BaomiProcess(transparent_policy(tmp), tmp / "data", upstream_ca=upstream_ca.pem,
                      extra_args=("--mode", "transparent", "--listen-host", "0.0.0.0"))
    px.args = lab.command("gateway", *px.args)  # same process, inside the gateway namespace
    with px:
        lab.load_nft(px.port, BAOMI_USER='"root"')
        yield px


@pytest.fixture(scope="module")
def client_ca(proxy, tmp_path_factory) -> Path:
    """baomi's CA as an admin hands it out: `baomi ca export`."""
    out = tmp_path_factory.mktemp("client") / "baomi-ca.pem"
    subprocess.run([BAOMI, "ca", "export", "--data-dir", str(proxy.data_dir), "--out", str(out)],
                   check=True, capture_output=True, timeout=60)
    return out


def post(lab, scheme: str, host: str, body: bytes, ca: Path | None) -> subprocess.CompletedProcess:
    """curl in the client namespace; stdout is the HTTP status ("000" when none)."""
    payload = lab.workdir / f"body-{time.monotonic_ns()}"
    payload.write_bytes(body)
    argv = ["curl", "-sS", "--max-time", "30", "-o", "/dev/null", "-w", "%{http_code}",
            "--resolve", f"{host}:{PORTS[scheme]}:{SERVER_IP}",
            "-H", "content-type: application/json", "--data-binary", f"@{payload}",
            f"{scheme}://{host}/api/customers"]
    if ca is not None:
        argv[1:1] = ["--cacert", str(ca)]
    return lab.run("client", *argv, timeout=60)


def requests_seen(server: netns.Recorder) -> list[bytes]:
    """Bodies of the HTTP requests the server received (not bare connections: mitmproxy
    connects upstream eagerly, before it has decided)."""
    seen = [c["request"].encode("latin-1") for c in server.connections() if c["request"]]
    return [request.partition(b"\r\n\r\n")[2] for request in seen]


def request_heads(server: netns.Recorder) -> list[str]:
    return [c["request"].partition("\r\n\r\n")[0] for c in server.connections() if c["request"]]


def decisions(proxy: BaomiProcess) -> list[dict]:
    lines = (proxy.data_dir / "decisions.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


CLEAN = json.dumps({"order": "SO-2026-000123", "note": "周五送达", "qty": 2},
                   ensure_ascii=False, indent=1).encode()


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize(
    "case,body,status",
    [
        ("blocked", json.dumps({"id_no": RESIDENT_ID}).encode(), "403"),
        ("masked", json.dumps({"customer": {"phone": MOBILE}}).encode(), "200"),
        ("allowed", CLEAN, "200"),
    ],
)
def test_redirected_requests_are_decided_as_in_explicit_mode(
    lab, servers, proxy, client_ca, scheme, case, body, status
):
    server = servers[scheme]
    before = len(requests_seen(server))
    done = post(lab, scheme, SHOP, body, client_ca)
    assert done.stdout == status, done.stderr + proxy.log_text()[-3000:]
    arrived = requests_seen(server)[before:]
    if case == "blocked":
        assert arrived == []
    elif case == "masked":
        [got] = arrived
        assert json.loads(got) == {"customer": {"phone": "138********"}}
    else:
        assert arrived == [body]  # byte for byte
    record = decisions(proxy)[-1]
    assert (record["host"], record["mode"], record["scheme"]) == (SHOP, "transparent", scheme)
    assert record["action"] == {"blocked": "block", "masked": "mask", "allowed": "allow"}[case]


def test_redirected_https_host_name_reaches_server_as_sni(lab, servers, proxy, client_ca):
    post(lab, "https", SHOP, CLEAN, client_ca)
    last = [c for c in servers["https"].connections() if c["request"]][-1]
    assert last["sni"] == SHOP  # baomi connected by name, not to a bare IP
    assert f"Host: {SHOP}" in last["request"]


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("host,expected_phone,rule", [
    (INTRANET, MOBILE, "allow-internal"),
    (SHOP, "138********", "mask-contacts-external"),
])
def test_destination_rules_match_the_name_not_the_redirected_ip(
    lab, servers, proxy, client_ca, scheme, host, expected_phone, rule
):
    # Same address, two names: only the name can tell internal from external.
    server = servers[scheme]
    before = len(requests_seen(server))
    done = post(lab, scheme, host, json.dumps({"phone": MOBILE}).encode(), client_ca)
    assert done.stdout == "200", done.stderr
    [got] = requests_seen(server)[before:]
    assert json.loads(got) == {"phone": expected_phone}
    record = decisions(proxy)[-1]
    assert (record["host"], record["rule"]) == (host, rule)
    assert f"Host: {host}" in request_heads(server)[-1]


def test_client_without_baomi_ca_gets_no_connection_through(lab, servers, proxy):
    server = servers["https"]
    before = len(requests_seen(server))
    done = post(lab, "https", SHOP, CLEAN, ca=None)
    assert done.returncode == 60, done.stderr  # curl: peer certificate cannot be authenticated
    assert len(requests_seen(server)) == before


def test_quic_is_dropped_while_other_udp_passes(lab, proxy):
    quic = lab.record("server", SERVER_IP, 443, proto="udp")
    control = lab.record("server", SERVER_IP, 4433, proto="udp")
    for port in (443, 4433):
        lab.run("client", "bash", "-c", f"echo probe > /dev/udp/{SERVER_IP}/{port}", check=True)
    deadline = time.monotonic() + 3
    while not control.connections() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [c["request"] for c in control.connections()] == ["probe\n"]
    assert quic.connections() == []


# Keep this test last in the file: it stops the module's proxy.
def test_with_baomi_stopped_nothing_reaches_the_server(lab, servers, proxy, client_ca):
    assert post(lab, "https", SHOP, CLEAN, client_ca).stdout == "200"  # it worked a moment ago
    assert proxy.stop() == 0
    counts = {name: len(server.connections()) for name, server in servers.items()}
    for name in PORTS:
        done = post(lab, name, SHOP, json.dumps({"id_no": RESIDENT_ID}).encode(), client_ca)
        assert done.returncode == 7, done.stderr  # refused by the gateway, not routed around
    assert {name: len(server.connections()) for name, server in servers.items()} == counts
