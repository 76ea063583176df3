"""End to end in transparent mode (the namespace lab, tests/netns.py): the IP map names the
user behind the client's address; the map is re-read when it changes and stale mappings
expire, so the same client's request is decided by whoever the map says sits there now.

    client 198.18.1.2 --(NAT redirect)--> baomi --transparent, ipmap--> server
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import netns
import pytest
from harness import BaomiProcess
from identity_support import payroll_policy
from netns import CLIENT_IP
from test_e2e_transparent import (  # noqa: F401  (module fixtures shared with that test)
    RESIDENT_ID,
    SHOP,
    client_ca,
    decisions,
    lab,
    post,
    requests_seen,
    servers,
    upstream_ca,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(netns.skip_reason() is not None, reason=str(netns.skip_reason())),
]

POLICY = payroll_policy(SHOP) + """  methods: [proxyauth, ipmap]   # proxyauth never applies in transparent mode
  proxyauth: {htpasswd: users.htpasswd}
  ipmap: {file: ipmap.txt, max_age_seconds: 3600}
  groups: {file: groups.yaml}
"""


@pytest.fixture(scope="module")
def proxy(lab, servers, upstream_ca, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("baomi-ipmap")
    (tmp / "policy.yaml").write_text(POLICY)
    (tmp / "users.htpasswd").write_text("")
    (tmp / "groups.yaml").write_text("groups:\n  payroll: [alice]\n")
    write_map(tmp / "ipmap.txt", f"{CLIENT_IP} alice\n")
    px = BaomiProcess(tmp / "policy.yaml", tmp / "data", upstream_ca=upstream_ca.pem,
                      extra_args=("--mode", "transparent", "--listen-host", "0.0.0.0"))
    px.args = lab.command("gateway", *px.args)
    with px:
        lab.load_nft(px.port, BAOMI_USER='"root"')
        yield px


def write_map(path: Path, text: str) -> None:
    """Rewrite the map as an export job would (new file renamed over the old one)."""
    fresh = path.with_suffix(".new")
    fresh.write_text(text)
    os.replace(fresh, path)


@pytest.mark.parametrize("mapping, status, user, groups, rule", [
    ("{client} alice\n", "200", "alice", ["payroll"], "allow-payroll-ids"),
    ("{client} bob\n", "403", "bob", [], "block-ids"),                    # map changed
    ("{client} alice {two_hours_ago}\n", "403", None, [], "block-unknown-users"),  # expired
    ("198.18.1.99 alice\n", "403", None, [], "block-unknown-users"),      # not in the map
])
def test_ip_map_names_the_sender(lab, servers, proxy, client_ca, mapping, status, user, groups,
                                 rule):
    write_map(proxy.data_dir.parent / "ipmap.txt", mapping.format(
        client=CLIENT_IP, two_hours_ago=int(time.time() - 7200)))
    before = len(requests_seen(servers["https"]))
    done = post(lab, "https", SHOP, json.dumps({"id_no": RESIDENT_ID}).encode(), client_ca)
    assert done.stdout == status, done.stderr + proxy.log_text()[-3000:]
    assert len(requests_seen(servers["https"])[before:]) == (status == "200")
    record = decisions(proxy)[-1]
    assert (record["source"], record["host"]) == (CLIENT_IP, SHOP)
    assert (record["user"], record["user_groups"], record["rule"]) == (user, groups, rule)
    assert record["identity"] == ("ipmap" if user else "none")
    assert record["mode"] == "transparent"
