"""End to end with a real Squid, both ways round, using the example configs in deploy/squid/.

    front: client -> Squid -> baomi -> upstream   (cache_peer parent + never_direct)
    back:  client -> baomi -> Squid -> upstream   (baomi run --mode upstream:http://squid)

Each Squid is the Debian binary in the foreground (-N) with its own config (the shipped file,
with this test's ports), its own logs and no cache, on a free port. What the upstream recorded
and Squid's access log (which hop it used) are the assertions.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Self

import httpx
import pytest
from harness import REPO, BaomiProcess, Upstream, free_port, stop_process

SQUID = shutil.which("squid") or shutil.which("squid", path="/usr/sbin")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(SQUID is None, reason="squid is not installed (tests/deps/squid.txt)"),
]

CONFIGS = REPO / "deploy" / "squid"
RESIDENT_ID = "11010519491231002X"
MOBILE = "13800138000"
CLEAN = json.dumps({"order": "SO-2026-000123", "note": "周五送达"}, ensure_ascii=False).encode()


def set_directives(text: str, lines: dict[str, str]) -> str:
    """Replace the one line that starts with each key; a key found 0 or 2+ times is an error.

    >>> set_directives("http_port 3128\\n", {"http_port": "http_port 127.0.0.1:4000"})
    'http_port 127.0.0.1:4000\\n'
    """
    for start, line in lines.items():
        text, count = re.subn(rf"^{re.escape(start)}\b.*$", line, text, flags=re.MULTILINE)
        if count != 1:
            raise KeyError(f"{start!r} is not in the config exactly once")
    return text


class Squid:
    """The Debian squid, foreground, on a free loopback port, logs in a private directory."""

    def __init__(self, config: Path, settings: dict[str, str]):
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="baomi-squid-"))
        os.chmod(self.dir, 0o755)  # started as root, squid runs as its own user ("proxy")
        text = set_directives(config.read_text(), {"http_port": f"http_port 127.0.0.1:{self.port}",
                                                   **settings})
        text += (f"\n# test harness\npid_filename none\ncoredump_dir {self.dir}\n"
                 f"access_log stdio:{self.dir}/access.log\ncache_log {self.dir}/cache.log\n"
                 "logfile_rotate 0\nshutdown_lifetime 1 seconds\n")
        self.config = self.dir / "squid.conf"
        self.config.write_text(text)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "proxy", "proxy")
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Self:
        parse = subprocess.run([SQUID, "-k", "parse", "-f", str(self.config)],
                               capture_output=True, text=True, timeout=30, check=False)
        assert parse.returncode == 0 and "ERROR" not in parse.stderr, parse.stderr
        self.proc = subprocess.Popen([SQUID, "-N", "-f", str(self.config)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not self._listening():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"squid did not start:\n{self.cache_log()}")
            time.sleep(0.1)
        return self

    def __exit__(self, *exc) -> None:
        stop_process(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
        except OSError:
            return False
        return True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cache_log(self) -> str:
        path = self.dir / "cache.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _requests(self) -> list[str]:
        """Access-log lines of requests. A connection that closed before sending one (such as
        the start-up probe) is logged too, as URL ``error:...`` (field 7), whenever Squid
        notices; it is left out, or it could pass for the request a test just made."""
        path = self.dir / "access.log"
        lines = path.read_text().splitlines() if path.exists() else []
        return [line for line in lines if not line.split()[6].startswith("error:")]

    def logged(self) -> int:
        return len(self._requests())

    def hierarchy(self, after: int = 0) -> list[str]:
        """Hierarchy codes of the logged requests past the first ``after``: HIER_DIRECT,
        DEFAULT_PARENT, ... (field 9). Squid logs a request when it ends: wait a little."""
        deadline = time.monotonic() + 5
        while True:
            lines = self._requests()
            if len(lines) > after or time.monotonic() > deadline:
                return [line.split()[8].split("/")[0] for line in lines[after:]]
            time.sleep(0.1)


# -- the parts --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def upstreams(upstream_ca):
    with Upstream() as http_up, Upstream(tls=upstream_ca) as https_up:
        yield {"http": http_up, "https": https_up}


def ssl_ports(upstreams) -> str:
    return f"acl SSL_ports port 443 {upstreams['https'].port}"


@pytest.fixture(scope="module")
def front(tmp_path_factory, upstream_ca, upstreams):
    """client -> Squid -> baomi -> upstream."""
    data = tmp_path_factory.mktemp("baomi-front")
    with BaomiProcess(REPO / "policies" / "default.yaml", data, upstream_ca=upstream_ca.pem) as px:
        settings = {
            "acl SSL_ports": ssl_ports(upstreams),
            "cache_peer": f"cache_peer 127.0.0.1 parent {px.port} 0 no-query no-digest "
                          "default name=baomi",
        }
        with Squid(CONFIGS / "squid-in-front-of-baomi.conf", settings) as squid:
            yield {"client_proxy": squid.url, "baomi": px, "squid": squid, "hop": "_PARENT"}


@pytest.fixture(scope="module")
def back(tmp_path_factory, upstream_ca, upstreams):
    """client -> baomi -> Squid -> upstream."""
    settings = {"acl baomi": "acl baomi src 127.0.0.1/32", "acl SSL_ports": ssl_ports(upstreams)}
    with Squid(CONFIGS / "squid-behind-baomi.conf", settings) as squid:
        data = tmp_path_factory.mktemp("baomi-back")
        with BaomiProcess(REPO / "policies" / "default.yaml", data, upstream_ca=upstream_ca.pem,
                          extra_args=("--mode", f"upstream:{squid.url}")) as px:
            yield {"client_proxy": px.url, "baomi": px, "squid": squid, "hop": "HIER_DIRECT"}


CASES = [
    # scheme, what, body, status, what the upstream gets (None: nothing)
    ("https", "resident ID", {"id_no": RESIDENT_ID}, 403, None),
    ("http", "resident ID", {"id_no": RESIDENT_ID}, 403, None),
    ("https", "mobile", {"customer": {"phone": MOBILE}}, 200, {"customer": {"phone": "138********"}}),
    ("http", "mobile", {"customer": {"phone": MOBILE}}, 403, None),  # block-plain-http
    ("https", "clean", CLEAN, 200, CLEAN),
    ("http", "clean", CLEAN, 200, CLEAN),
]


@pytest.mark.parametrize("layout", ["front", "back"])
@pytest.mark.parametrize("scheme,what,body,status,arrives", CASES)
def test_decisions_hold_through_squid(request, upstreams, layout, scheme, what, body, status,
                                      arrives):
    chain = request.getfixturevalue(layout)
    up = upstreams[scheme]
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    n, hops = len(up.received), chain["squid"].logged()
    verify = ssl.create_default_context(cafile=chain["baomi"].ca_pem)
    with httpx.Client(proxy=chain["client_proxy"], verify=verify, timeout=30) as client:
        r = client.post(up.url("/api/customers"), content=content,
                        headers={"content-type": "application/json"})
    assert r.status_code == status, r.text[:500]
    got = [g.body for g in up.received[n:]]
    if arrives is None:
        assert got == []
    elif isinstance(arrives, bytes):
        assert got == [arrives]  # byte for byte
    else:
        assert [json.loads(b) for b in got] == [arrives]
    record = json.loads((chain["baomi"].data_dir / "decisions.jsonl").read_text().splitlines()[-1])
    assert record["action"] == {403: "block", 200: "mask" if what == "mobile" else "allow"}[status]
    if layout == "front" or arrives is not None:
        # Squid logged the request and went the configured way (front: via baomi; back: direct).
        assert chain["hop"] in chain["squid"].hierarchy(after=hops)[-1]


def test_squid_in_front_refuses_to_go_direct_without_baomi(tmp_path, upstreams):
    # never_direct: with the parent down, Squid fails the request rather than skip baomi.
    # A port bound but not listening refuses every connection, and nobody else can take it.
    with socket.socket() as dead:
        dead.bind(("127.0.0.1", 0))
        port = dead.getsockname()[1]
        settings = {"acl SSL_ports": ssl_ports(upstreams),
                    "cache_peer": f"cache_peer 127.0.0.1 parent {port} 0 no-query no-digest default"}
        up = upstreams["http"]
        n = len(up.received)
        with Squid(CONFIGS / "squid-in-front-of-baomi.conf", settings) as squid, \
                httpx.Client(proxy=squid.url, timeout=30) as client:
            r = client.post(up.url("/x"), content=CLEAN)
            hops = squid.hierarchy()
    # Squid's own error (the parent refused the connection), never the upstream's answer.
    assert r.status_code == 502, r.text[:300]
    assert r.headers["x-squid-error"].startswith("ERR_"), r.headers
    assert hops == ["HIER_NONE"]  # the one request, not sent anywhere
    assert len(up.received) == n


def test_squid_behind_baomi_refuses_other_clients(upstreams):
    # Only baomi's address may use it (here nobody: 192.0.2.10 is the example address).
    up = upstreams["http"]
    n = len(up.received)
    with Squid(CONFIGS / "squid-behind-baomi.conf", {}) as squid, \
            httpx.Client(proxy=squid.url, timeout=30) as client:
        r = client.get(up.url("/x"))
    assert r.status_code == 403
    assert len(up.received) == n


def test_set_directives_rejects_a_missing_line():
    with pytest.raises(KeyError, match="no_such"):
        set_directives((CONFIGS / "squid-behind-baomi.conf").read_text(), {"no_such": "x"})
