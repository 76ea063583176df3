"""The addon's identity helpers on mitmproxy test flows: what a request claims, the headers
removed before inspection and forwarding, and a WebSocket message's sender."""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from mitmproxy.addons.upstream_auth import UpstreamAuth
from mitmproxy.test import taddons, tflow
from test_identity_records import record

from policies.facts import RequestFacts
from policies.model import HeaderSettings, IdentitySettings, IpMapSettings
from proxy.hook.addon import identity_claims, sender_of_upgrade
from proxy.record.decisions import DecisionRecord

HEADER = IdentitySettings(
    methods=("header",),
    header=HeaderSettings("X-Authenticated-User", (ipaddress.ip_network("127.0.0.1/32"),)),
)
NO_HEADER = IdentitySettings(methods=("ipmap",), ipmap=IpMapSettings("/nonexistent", 60))


def flow_with(*headers: tuple[str, str]):
    flow = tflow.tflow()
    for name, value in headers:
        flow.request.headers.add(name, value)
    return flow


@pytest.mark.parametrize("settings, headers, user, left", [
    (HEADER, [("X-Authenticated-User", "alice")], "alice", []),
    (HEADER, [("x-authenticated-user", "a"), ("X-Authenticated-User", "b")], "", []),  # ambiguous
    (HEADER, [], None, []),
    (NO_HEADER, [("X-Authenticated-User", "alice")], None, ["X-Authenticated-User"]),
])
def test_claims_take_and_remove_the_user_header(settings, headers, user, left):
    with taddons.context():
        flow = flow_with(*headers, ("Proxy-Authorization", "Basic YTpi"), ("X-Other", "1"))
        claims = identity_claims(flow, settings)
    assert claims.header_user == user
    assert claims.proxy_authorization == "Basic YTpi"
    assert claims.explicit is True  # tflow's client connection is in regular mode
    assert claims.client_ip == flow.client_conn.peername[0]
    assert "proxy-authorization" not in flow.request.headers
    assert [n for n in flow.request.headers if n.lower() == "x-authenticated-user"] == left
    assert flow.request.headers["x-other"] == "1"


def test_upstream_auth_keeps_proxy_authorization_for_the_upstream_proxy():
    with taddons.context(UpstreamAuth()) as context:
        context.options.upstream_auth = "svc:pw"
        flow = flow_with(("Proxy-Authorization", "Basic YTpi"))
        claims = identity_claims(flow, HEADER)
    assert claims.proxy_authorization == "Basic YTpi"
    assert flow.request.headers["proxy-authorization"] == "Basic YTpi"


def test_websocket_message_sender_is_the_upgrade_requests():
    flow = tflow.twebsocketflow()
    facts = RequestFacts("10.0.0.5", "h", 443, "https", "WEBSOCKET", "/", datetime.now(UTC))
    assert sender_of_upgrade(flow, facts) == facts  # no record: nobody known
    upgrade: DecisionRecord = replace(record(), user="alice", user_groups=["payroll"],
                                      identity="proxyauth")
    flow.metadata["baomi"] = upgrade
    sent = sender_of_upgrade(flow, facts)
    assert (sent.user, sent.groups, sent.identity_method) == (
        "alice", frozenset({"payroll"}), "proxyauth")


def test_run_refuses_mitmproxys_own_proxyauth(tmp_path):
    import subprocess

    from harness import BAOMI, REPO

    done = subprocess.run([BAOMI, "run", "--data-dir", str(tmp_path), "--set",
                           "proxyauth=alice:secret"], capture_output=True, text=True,
                          timeout=120, cwd=REPO, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith("Error: --set proxyauth: mitmproxy's proxy authentication")
    assert "secret" not in done.stderr + done.stdout
    assert not (tmp_path / "ca").exists()  # refused before anything started
