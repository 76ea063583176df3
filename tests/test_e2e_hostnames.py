"""A host name that carries customer data is blocked and never looked up.

``<resident id>.example`` leaves through the DNS lookup alone, before any byte of the
request is sent. baomi inspects every name a request gives its destination (CONNECT
target, absolute-URL host, Host header inside a tunnel) before it resolves or connects.

The proof of "never looked up": the baomi process runs with a ``sitecustomize`` that
appends every name passed to ``socket.getaddrinfo`` (what asyncio's connections use) to a
file. A clean name through the same proxy *is* recorded there, so the recorder works.
"""

from __future__ import annotations

import json
import socket
import ssl
import textwrap
import time

import httpx
import pytest
from harness import REPO, BaomiProcess

ID = "11010519491231002X"  # valid checksum, date 1949-12-31, Beijing
HOSTILE = f"{ID.lower()}.example.com"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def lookups_file(tmp_path_factory):
    hooks = tmp_path_factory.mktemp("dns-recorder")
    log = hooks / "lookups.txt"
    log.write_text("")
    (hooks / "sitecustomize.py").write_text(textwrap.dedent(f"""
        import socket
        _real = socket.getaddrinfo
        def _recording(host, *args, **kwargs):
            with open({str(log)!r}, "a") as f:
                f.write(f"{{host}}\\n")
            return _real(host, *args, **kwargs)
        socket.getaddrinfo = _recording
    """))
    return hooks, log


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, lookups_file, https_up):
    hooks, _ = lookups_file
    data = tmp_path_factory.mktemp("hostnames")
    env = {"PYTHONPATH": f"{hooks}:{REPO / 'tests'}"}
    with BaomiProcess(REPO / "policies" / "default.yaml", data / "var", env=env) as px:
        yield px


def looked_up(log) -> list[str]:
    return [line.strip().lower() for line in log.read_text().splitlines()]


def records(px) -> list[dict]:
    return [json.loads(x) for x in (px.data_dir / "decisions.jsonl").read_text().splitlines()]


def connect_status(px, target: str) -> int:
    with socket.create_connection(("127.0.0.1", px.port), timeout=15) as s:
        s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        head = s.recv(65536).split(b"\r\n", 1)[0]
    return int(head.split()[1])


def test_clean_name_is_looked_up_so_the_recorder_works(proxy, lookups_file) -> None:
    _, log = lookups_file
    r = httpx.get("http://clean-name.invalid/", proxy=proxy.url, timeout=20)
    assert r.status_code == 502  # nothing there: but the name was resolved
    assert "clean-name.invalid" in looked_up(log)


def test_connect_to_a_name_carrying_an_id_is_refused_before_any_lookup(proxy, lookups_file):
    _, log = lookups_file
    assert connect_status(proxy, f"{HOSTILE}:443") == 403
    rec = [r for r in records(proxy) if r["method"] == "CONNECT"][-1]
    assert (rec["action"], rec["entity_counts"], rec["locations"]) == \
        ("block", {"CN_RESIDENT_ID": 1}, ["host"])
    assert ID.lower() not in rec["host"].lower()
    assert not any(ID.lower() in name for name in looked_up(log))


def test_absolute_url_host_carrying_an_id_is_refused_before_any_lookup(proxy, lookups_file):
    _, log = lookups_file
    r = httpx.get(f"http://{HOSTILE}/x", proxy=proxy.url, timeout=20)
    assert r.status_code == 403
    assert r.json()["incident"] == r.headers["x-baomi-incident"]
    rec = next(x for x in records(proxy) if x["incident_id"] == r.headers["x-baomi-incident"])
    assert rec["entity_counts"] == {"CN_RESIDENT_ID": 1}
    assert not any(ID in json.dumps(x).upper() for x in records(proxy))
    assert not any(ID.lower() in name for name in looked_up(log))


def test_host_header_inside_a_tls_tunnel_is_inspected(proxy, https_up) -> None:
    """The tunnel goes to the real upstream; the Host header inside it names the ID."""
    before = len(https_up.received)
    ctx = ssl.create_default_context(cafile=proxy.ca_pem)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=15) as raw:
        raw.sendall(f"CONNECT localhost:{https_up.port} HTTP/1.1\r\n"
                    f"Host: localhost:{https_up.port}\r\n\r\n".encode())
        assert raw.recv(65536).startswith(b"HTTP/1.1 200")
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(f"GET /inside HTTP/1.1\r\nHost: {HOSTILE}\r\nConnection: close\r\n\r\n"
                      .encode())
            answer = b""
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and (chunk := s.recv(65536)):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 403"), answer[:200]
    assert len(https_up.received) == before
