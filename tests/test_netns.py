"""The namespace lab (tests/netns.py) and the gateway rules' behaviour, without the proxy.

A recording server stands in for the upstream (it logs every connection that reaches it) and,
where a test needs one, for baomi on the gateway (it reports SO_ORIGINAL_DST like mitmproxy reads).
"""

import subprocess
import time

import netns
import pytest
from netns import CLIENT_IP, PROXY_USER, SERVER_IP, SERVER_IP6

pytestmark = pytest.mark.skipif(netns.skip_reason() is not None, reason=str(netns.skip_reason()))

PROXY_PORT = 8080
BACKENDS = ("nft", "iptables")
FAMILIES = {4: (SERVER_IP, "0.0.0.0"), 6: (SERVER_IP6, "::")}


def url(family: int, port: int, scheme: str = "http") -> str:
    host = SERVER_IP if family == 4 else f"[{SERVER_IP6}]"
    return f"{scheme}://{host}:{port}/probe"


def curl(
    net: netns.EgressGateway,
    role: str,
    target: str,
    user: str | None = None,
    connect_timeout: float = 2,
) -> subprocess.CompletedProcess:
    # -g: brackets in IPv6 URLs are not globs. Exit 7 = refused, 28 = timed out.
    return net.run(
        role,
        "curl",
        "-gsS",
        "--connect-timeout",
        str(connect_timeout),
        "--max-time",
        "5",
        target,
        user=user,
    )


def load(net: netns.EgressGateway, backend: str, **settings: str) -> None:
    if backend == "nft":
        net.load_nft(PROXY_PORT, **settings)
    else:
        net.load_iptables(PROXY_PORT, **settings)


@pytest.fixture
def net():
    with netns.egress_gateway() as lab:
        yield lab


@pytest.mark.parametrize("family", [4, 6])
def test_client_reaches_server_without_rules(net, family):
    server = net.record("server", FAMILIES[family][0], 80)
    done = curl(net, "client", url(family, 80))
    assert done.returncode == 0, done.stderr
    [seen] = server.connections()
    assert seen["peer"] == (CLIENT_IP if family == 4 else netns.CLIENT_IP6)
    assert seen["request"].startswith("GET /probe HTTP/1.1")


@pytest.mark.parametrize("port,scheme", [(80, "http"), (443, "https")])
@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize("backend", BACKENDS)
def test_proxy_down_means_refused_not_forwarded(net, backend, family, port, scheme):
    server = net.record("server", FAMILIES[family][0], port)
    load(net, backend)
    done = curl(net, "client", url(family, port, scheme))
    assert done.returncode == 7, (
        f"expected connection refused, got {done.returncode}: {done.stderr}"
    )
    assert server.connections() == []


@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize("backend", BACKENDS)
def test_unredirected_lan_web_traffic_is_dropped(net, backend, family):
    # Inspect only a network the client is not in: its traffic is not redirected, so only the
    # FORWARD drop stands between it and the server.
    elsewhere = {
        "nft": {"LAN_NET4": "{ 198.18.1.128/25 }", "LAN_NET6": "{ fd18:1::8000:0/97 }"},
        "iptables": {"LAN_NET4": "198.18.1.128/25", "LAN_NET6": "fd18:1::8000:0/97"},
    }
    server = net.record("server", FAMILIES[family][0], 80)
    load(net, backend, **elsewhere[backend])
    done = curl(net, "client", url(family, 80), connect_timeout=1)
    assert done.returncode == 28, f"expected a timeout (dropped), got {done.returncode}"
    assert server.connections() == []


@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize("backend", BACKENDS)
def test_redirect_delivers_to_proxy_port_with_original_destination(net, backend, family):
    server_ip, wildcard = FAMILIES[family]
    server = net.record("server", server_ip, 80)
    proxy = net.record("gateway", wildcard, PROXY_PORT, user=PROXY_USER)
    load(net, backend)
    done = curl(net, "client", url(family, 80))
    assert done.returncode == 0, done.stderr
    [seen] = proxy.connections()
    expected = f"{server_ip}:80" if family == 4 else f"[{server_ip}]:80"
    assert seen["original_dst"] == expected
    assert server.connections() == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_proxy_user_goes_out_directly_and_others_on_gateway_are_redirected(net, backend):
    server = net.record("server", SERVER_IP, 80)
    proxy = net.record("gateway", "0.0.0.0", PROXY_PORT, user=PROXY_USER)
    load(net, backend)
    assert curl(net, "gateway", url(4, 80), user=PROXY_USER).returncode == 0
    assert curl(net, "gateway", url(4, 80)).returncode == 0  # as root: must be redirected
    assert [c["peer"] for c in server.connections()] == [netns.GATEWAY_WAN_IP]
    assert [c["original_dst"] for c in proxy.connections()] == [f"{SERVER_IP}:80"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_quic_is_dropped_and_other_udp_passes(net, backend):
    quic = net.record("server", SERVER_IP, 443, proto="udp")
    control = net.record("server", SERVER_IP, 4433, proto="udp")
    load(net, backend)
    for port in (443, 4433):
        net.run("client", "bash", "-c", f"echo probe > /dev/udp/{SERVER_IP}/{port}", check=True)
    deadline = time.monotonic() + 3
    while not control.connections() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [c["request"] for c in control.connections()] == ["probe\n"]
    assert quic.connections() == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_other_tcp_ports_are_left_alone(net, backend):
    server = net.record("server", SERVER_IP, 8000)
    load(net, backend)
    assert curl(net, "client", url(4, 8000)).returncode == 0
    assert len(server.connections()) == 1


def _namespaces() -> str:
    return subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True, check=True
    ).stdout


def test_teardown_removes_everything_also_on_failure():
    with pytest.raises(RuntimeError, match="boom"), netns.egress_gateway() as lab:
        names = list(lab.names.values())
        recorder = lab.record("server", SERVER_IP, 80)
        assert all(name in _namespaces() for name in names)
        raise RuntimeError("boom")
    assert not any(name in _namespaces() for name in names)
    assert recorder.process.poll() is not None


def test_two_labs_side_by_side_do_not_clash():
    with netns.egress_gateway() as first, netns.egress_gateway() as second:
        assert set(first.names.values()).isdisjoint(second.names.values())
        for lab in (first, second):
            lab.record("server", SERVER_IP, 80)
            assert curl(lab, "client", url(4, 80)).returncode == 0


def test_render_nft_rejects_unknown_settings():
    with pytest.raises(KeyError, match="NO_SUCH"):
        netns.render_nft(netns.NFT_RULES.read_text(), NO_SUCH="1")
