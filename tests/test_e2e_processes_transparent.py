"""End to end: `baomi run --mode transparent --processes 2` behind the namespace lab's NAT
redirect (tests/netns.py; the lab and helpers are tests/test_e2e_transparent.py's).

Both proxy processes take redirected connections on the one port (SO_REUSEPORT), and each
blocks, masks and allows; which process served a request is read from its own metrics file.
"""

from __future__ import annotations

import json
from collections import Counter

import netns
import pytest
from harness import BaomiProcess
from test_e2e_processes import banner_pids, served
from test_e2e_transparent import (  # noqa: F401 - fixtures used by name
    CLEAN,
    MOBILE,
    RESIDENT_ID,
    SHOP,
    client_ca,
    decisions,
    lab,
    post,
    requests_seen,
    servers,
    transparent_policy,
    upstream_ca,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(netns.skip_reason() is not None, reason=str(netns.skip_reason())),
]

CASES = {"block": (json.dumps({"id_no": RESIDENT_ID}).encode(), "403"),
         "mask": (json.dumps({"customer": {"phone": MOBILE}}).encode(), "200"),
         "allow": (CLEAN, "200")}


@pytest.fixture(scope="module")
def proxy(lab, servers, upstream_ca, tmp_path_factory):  # noqa: F811 - this module's proxy
    tmp = tmp_path_factory.mktemp("baomi-transparent-2")
    px = BaomiProcess(transparent_policy(tmp), tmp / "data", upstream_ca=upstream_ca.pem,
                      extra_args=("--mode", "transparent", "--listen-host", "0.0.0.0"),
                      processes=2, workers=2)
    px.args = lab.command("gateway", *px.args)
    with px:
        lab.load_nft(px.port, BAOMI_USER='"root"')
        yield px


def test_both_processes_take_redirected_connections_and_decide(lab, servers, proxy, client_ca):  # noqa: F811
    pids = banner_pids(proxy)
    sent: Counter = Counter()
    for _ in range(30):
        if all(+served(proxy).get(pid, Counter()) >= Counter(CASES.keys()) for pid in pids):
            break
        for action, (body, status) in CASES.items():
            scheme = "https" if sent[action] % 2 else "http"
            before = len(requests_seen(servers[scheme]))
            done = post(lab, scheme, SHOP, body, client_ca)  # curl: a connection of its own
            assert done.stdout == status, done.stderr + proxy.log_text()[-3000:]
            arrived = requests_seen(servers[scheme])[before:]
            if action == "block":
                assert arrived == []
            elif action == "mask":
                assert [json.loads(a) for a in arrived] == [{"customer": {"phone": "138********"}}]
            else:
                assert arrived == [body]
            sent[action] += 1
    per_pid = served(proxy)
    assert sorted(per_pid) == sorted(pids)
    for pid in pids:
        assert +per_pid[pid] >= Counter(CASES.keys()), (pid, per_pid)
    assert sum(per_pid.values(), Counter()) == +Counter(sent)
    records = decisions(proxy)
    assert {r["mode"] for r in records} == {"transparent"} and len(records) >= sum(sent.values())
