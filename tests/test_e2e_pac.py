"""/proxy.pac on the running proxy's metrics listener: the PAC for the policy in force.

The served file is run under node with the browser helpers of tests/test_pac.py: internal hosts
DIRECT, everything else to the proxy address; a policy reload changes the PAC without restart.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml
from harness import BAOMI, REPO, BaomiProcess, free_port
from test_pac import SHIM

from proxy.errors import UsageError
from proxy.observe.pac import parse_proxy_address

pytestmark = pytest.mark.e2e

INTERNAL = [".corp.example.com", "wiki.example.net", "host[12].corp"]  # last: no PAC form


def write_policy(path: Path, hosts: list[str]) -> Path:
    data = yaml.safe_load((REPO / "policies" / "default.yaml").read_text())
    data["internal"] = {"hosts": hosts, "cidrs": ["10.0.0.0/8"]}
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return path


def find_proxy(pac_text: str, tmp: Path, urls: list[str]) -> dict[str, str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (tests/deps/deploy.txt)")
    pac, shim = tmp / f"served-{time.monotonic_ns()}.pac", tmp / "shim.js"
    pac.write_text(pac_text)
    shim.write_text(SHIM)
    done = subprocess.run([node, str(shim), str(pac), json.dumps(urls)], capture_output=True,
                          text=True, timeout=30, check=True)
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("baomi-pac")
    policy = write_policy(tmp / "policy.yaml", INTERNAL)
    with BaomiProcess(policy, tmp / "data", metrics_port=free_port(),
                      extra_args=("--pac-proxy", "baomi.corp.example.com:3128")) as px:
        px.policy = policy
        yield px


def get_pac(port: int) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}/proxy.pac", timeout=10)


def test_pac_is_served_with_its_content_type(proxy):
    r = get_pac(proxy.metrics_port)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/x-ns-proxy-autoconfig"
    assert "function FindProxyForURL" in r.text


@pytest.mark.parametrize("url,expected", [
    ("https://hr.corp.example.com/x", "DIRECT"),
    ("https://corp.example.com/", "DIRECT"),
    ("https://wiki.example.net/", "DIRECT"),
    ("https://host1.corp/", "PROXY baomi.corp.example.com:3128"),  # not expressible: via baomi
    ("https://evilcorp.example.com/", "PROXY baomi.corp.example.com:3128"),
    ("https://api.openai.com/v1/chat", "PROXY baomi.corp.example.com:3128"),
    ("http://10.1.2.3/", "PROXY baomi.corp.example.com:3128"),  # only internal.hosts go DIRECT
])
def test_served_pac_sends_internal_hosts_direct(proxy, tmp_path, url, expected):
    assert find_proxy(get_pac(proxy.metrics_port).text, tmp_path, [url])[url] == expected


def test_policy_reload_changes_the_pac(proxy, tmp_path):
    url = "https://gitlab.example.org/"
    assert find_proxy(get_pac(proxy.metrics_port).text, tmp_path, [url])[url].startswith("PROXY")
    write_policy(proxy.policy, [*INTERNAL, "gitlab.example.org"])
    deadline = time.monotonic() + 30
    while "gitlab.example.org" not in get_pac(proxy.metrics_port).text:
        assert time.monotonic() < deadline, "the reloaded policy never reached the PAC"
        time.sleep(0.5)
    assert find_proxy(get_pac(proxy.metrics_port).text, tmp_path, [url])[url] == "DIRECT"


def test_default_proxy_address_is_the_listen_address(tmp_path):
    policy = write_policy(tmp_path / "policy.yaml", [".corp.example.com"])
    with BaomiProcess(policy, tmp_path / "data", metrics_port=free_port()) as px:
        text = get_pac(px.metrics_port).text
        assert f'"PROXY 127.0.0.1:{px.port}"' in text
        assert get_pac(px.metrics_port).status_code == 200


@pytest.mark.parametrize("value,expected", [
    ("baomi.corp:8080", ("baomi.corp", 8080)),
    ("[fd00::8]:3128", ("fd00::8", 3128)),
    ("10.0.0.8:8080", ("10.0.0.8", 8080)),
    ("baomi.corp", UsageError),
    ("baomi.corp:99999", UsageError),
    ("bad host:8080", UsageError),
    ('"+alert(1)+":8080', UsageError),  # nothing typed here may become PAC script
    (":8080", UsageError),
])
def test_pac_proxy_address(value, expected):
    if expected is UsageError:
        with pytest.raises(UsageError, match=r"pac-proxy|proxy host|proxy port"):
            parse_proxy_address(value)
    else:
        assert parse_proxy_address(value) == expected


@pytest.mark.parametrize("value", ["baomi.corp", '"+alert(1)+":8080'])
def test_bad_pac_proxy_stops_start_up(tmp_path, value):
    done = subprocess.run(
        [BAOMI, "run", "--policy", str(REPO / "policies" / "default.yaml"),
         "--data-dir", str(tmp_path), "--listen-port", str(free_port()),
         "--metrics-port", str(free_port()), "--pac-proxy", value],
        capture_output=True, text=True, timeout=120, cwd=REPO, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith("Error: ") and "Traceback" not in done.stderr
