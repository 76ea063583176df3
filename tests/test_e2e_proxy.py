"""End to end: the real `baomi run` process, real upstream servers that record what they got,
real clients (httpx and curl) over HTTP and HTTPS.

What the upstream received is the assertion: a blocked request never arrives, a masked value
never arrives, a clean request arrives byte for byte.
"""

from __future__ import annotations

import gzip
import json
import shutil
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml
from harness import REPO, BaomiProcess

pytestmark = pytest.mark.e2e

RESIDENT_ID = "11010519491231002X"
MOBILE = "13800138000"
EMAIL = "zhang.wei@example.com"
CARD = "6222021234567890123"  # UnionPay 62, Luhn-valid (checked in test_recognizers)


def policy_file(tmp: Path, **changes) -> Path:
    """The shipped default policy with top-level sections merged in."""
    data = yaml.safe_load((REPO / "policies" / "default.yaml").read_text())
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    path = tmp / "policy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def proxy(default_proxy):
    return default_proxy  # only requests go through it: the session's default-policy baomi


@pytest.fixture
def client(proxy):
    with proxy.client(timeout=30) as c:
        yield c


def trust(ca_pem: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_pem)


# -- allow ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("scheme", ["http", "https"])
def test_clean_request_arrives_byte_for_byte(client, http_up, https_up, scheme):
    up = https_up if scheme == "https" else http_up
    body = json.dumps({"order": "SO-2026-000123", "items": [{"sku": "AB-1234", "qty": 2}],
                       "note": "deliver after 6pm", "amount": "12,345.67"}, indent=1).encode()
    n = len(up.received)
    r = client.post(up.url("/api/orders?page=2"), content=body,
                    headers={"content-type": "application/json"})
    assert r.status_code == 200
    assert len(up.received) == n + 1
    got = up.received[-1]
    assert got.body == body
    assert got.path == "/api/orders?page=2"


# -- block -----------------------------------------------------------------------------------------

def test_resident_id_over_https_is_blocked_and_never_arrives(client, https_up, proxy):
    n = len(https_up.received)
    r = client.post(https_up.url("/api/customers"), json={"name": "张伟", "id_no": RESIDENT_ID})
    assert r.status_code == 403
    incident = r.headers["x-baomi-incident"]
    assert incident.startswith("BM-")
    assert len(https_up.received) == n
    assert RESIDENT_ID not in r.text and RESIDENT_ID[:-4] not in r.text
    info = r.json()
    assert info["incident"] == incident
    assert "CN_RESIDENT_ID" in info["data"]
    assert "approval" in info["how_to_get_approval"]
    record = proxy.last_decision()
    assert record["incident_id"] == incident and record["action"] == "block"


def test_block_page_is_html_for_browsers(client, https_up):
    r = client.post(https_up.url("/upload"), data={"card": CARD},
                    headers={"accept": "text/html,application/xhtml+xml"})
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["x-baomi-incident"] in r.text
    assert CARD not in r.text


def test_customer_data_over_plain_http_is_blocked(client, http_up):
    n = len(http_up.received)
    r = client.post(http_up.url("/crm"), json={"mobile": MOBILE})
    assert r.status_code == 403
    assert len(http_up.received) == n


def test_bulk_contacts_are_blocked(client, https_up):
    n = len(https_up.received)
    people = [{"name": f"客户{i}", "phone": f"1390013{i:04d}"} for i in range(6)]
    r = client.post(https_up.url("/export"), json={"customers": people})
    assert r.status_code == 403
    assert len(https_up.received) == n


# -- mask ------------------------------------------------------------------------------------------

def test_phone_in_json_is_masked_structure_intact(client, https_up, proxy):
    n = len(https_up.received)
    r = client.post(https_up.url("/api/tickets"),
                    json={"customer": {"phone": MOBILE, "city": "北京"}, "text": "请回电"})
    assert r.status_code == 200
    assert len(https_up.received) == n + 1
    got = https_up.received[-1]
    assert MOBILE.encode() not in got.body
    sent = json.loads(got.body)
    assert sent["customer"]["phone"] == "138********"
    assert sent["customer"]["city"] == "北京" and sent["text"] == "请回电"
    assert int(got.headers["content-length"]) == len(got.body)
    record = proxy.last_decision()
    assert record["action"] == "mask" and record["entity_counts"] == {"PHONE_NUMBER": 1}
    assert MOBILE not in json.dumps(record, ensure_ascii=False)


def test_gzip_body_is_masked_and_reencoded(client, https_up):
    body = gzip.compress(json.dumps({"contact": {"email": EMAIL}}).encode())
    r = client.post(https_up.url("/gz"), content=body,
                    headers={"content-type": "application/json", "content-encoding": "gzip"})
    assert r.status_code == 200
    got = https_up.received[-1]
    assert got.headers["content-encoding"] == "gzip"
    plain = gzip.decompress(got.body)
    assert EMAIL.encode() not in plain
    assert json.loads(plain)["contact"]["email"] != EMAIL
    assert int(got.headers["content-length"]) == len(got.body)


def test_query_value_is_masked(client, https_up):
    r = client.get(https_up.url(f"/search?q=hello&mobile={MOBILE}"))
    assert r.status_code == 200
    got = https_up.received[-1]
    assert MOBILE not in got.path
    assert "q=hello" in got.path


def test_curl_form_over_https_is_masked(proxy, https_up):
    n = len(https_up.received)
    out = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-x", proxy.url,
         "--cacert", proxy.ca_pem, "--data-urlencode", f"email={EMAIL}",
         "--data-urlencode", "comment=call me", https_up.url("/form")],
        capture_output=True, text=True, timeout=60,
    )
    assert out.stdout == "200", out.stderr
    assert len(https_up.received) == n + 1
    got = https_up.received[-1].body.decode()
    assert EMAIL not in got and "zhang.wei%40example.com" not in got
    assert got.startswith("email=") and "comment=call+me" in got


def test_curl_resident_id_blocked(proxy, https_up):
    n = len(https_up.received)
    out = subprocess.run(
        ["curl", "-sS", "-x", proxy.url, "--cacert", proxy.ca_pem, "-H",
         "content-type: text/plain", "--data-binary", f"身份证号 {RESIDENT_ID}",
         "-D", "-", https_up.url("/note")],
        capture_output=True, text=True, timeout=60,
    )
    status_lines = [s for s in out.stdout.splitlines() if s.startswith("HTTP/")]
    assert " 403" in status_lines[-1]  # the first is the proxy's "200 Connection established"
    assert "x-baomi-incident" in out.stdout.lower()
    assert len(https_up.received) == n


# -- failure paths ---------------------------------------------------------------------------------

def test_gzip_bomb_is_refused(client, https_up):
    bomb = gzip.compress(b"0" * (200 << 20), compresslevel=9)  # 200 MiB of zeros in ~200 KB
    n = len(https_up.received)
    r = client.post(https_up.url("/bomb"), content=bomb,
                    headers={"content-type": "text/plain", "content-encoding": "gzip"})
    assert r.status_code == 403
    assert len(https_up.received) == n


def test_undecodable_body_gets_uninspectable_action(client, https_up, proxy):
    n = len(https_up.received)
    r = client.post(https_up.url("/bin"), content=b"\x1f\x8b\x08garbage-not-gzip",
                    headers={"content-type": "application/json", "content-encoding": "gzip"})
    assert r.status_code == 403
    assert len(https_up.received) == n
    record = proxy.last_decision()
    assert record["rule"] == "on_uninspectable" and record["uninspected"] == "undecodable"


def test_decision_log_holds_no_raw_values(proxy, client, https_up):
    client.post(https_up.url("/x"), json={"phone": MOBILE, "id": RESIDENT_ID, "mail": EMAIL})
    text = (proxy.data_dir / "decisions.jsonl").read_text()
    for raw in (MOBILE, RESIDENT_ID, EMAIL, CARD):
        assert raw not in text
    assert (proxy.data_dir / "decisions.jsonl").stat().st_mode & 0o077 == 0


def test_ca_key_is_private(proxy):
    ca_dir = proxy.data_dir / "ca"
    assert ca_dir.stat().st_mode & 0o777 == 0o700
    assert (ca_dir / "mitmproxy-ca.pem").stat().st_mode & 0o777 == 0o600


@pytest.fixture(scope="module")
def faulty_proxy(tmp_path_factory, upstream_ca):
    tmp = tmp_path_factory.mktemp("faulty")
    policy = policy_file(
        tmp,
        detection={"extra_recognizers": ["baomi_test_plugins:RaiseOnMarker",
                                         "baomi_test_plugins:HangOnMarker"]},
        limits={"timeout_seconds": 2},
    )
    with BaomiProcess(policy, tmp / "data", upstream_ca=upstream_ca.pem) as px:
        yield px


@pytest.mark.parametrize("marker,rule", [("BAOMI-TEST-RAISE", "on_error"),
                                         ("BAOMI-TEST-HANG", "on_timeout")])
def test_detector_failure_blocks(faulty_proxy, https_up, marker, rule):
    with httpx.Client(proxy=faulty_proxy.url, verify=trust(faulty_proxy.ca_pem), timeout=60) as c:
        n = len(https_up.received)
        r = c.post(https_up.url("/f"), content=f"hello {marker}".encode(),
                   headers={"content-type": "text/plain"})
        assert r.status_code == 403
        assert r.json()["rule"] == rule
        assert len(https_up.received) == n
        # The proxy keeps serving: the hung or crashed worker is replaced before the next
        # request is served, which passes at its first try (proxy.workers.pool).
        r2 = c.post(https_up.url("/ok"), content=b"nothing to see",
                    headers={"content-type": "text/plain"})
        assert r2.status_code == 200
        assert https_up.received[-1].body == b"nothing to see"


def test_malformed_policy_stops_startup_with_line_number(tmp_path):
    bad = tmp_path / "bad.yaml"
    text = (REPO / "policies" / "default.yaml").read_text()
    bad.write_text(text + "\nunknown_section: 1\n")
    line = text.count("\n") + 2
    px = BaomiProcess(bad, tmp_path / "data")
    with pytest.raises(RuntimeError) as e:
        px.start(timeout=60)
    assert px.proc.returncode == 2  # a policy error, as for `baomi policy check`
    assert f"{bad}:{line}:1" in str(e.value)


def test_ca_export_pem_and_der(proxy, tmp_path):
    from harness import BAOMI

    pem, der = tmp_path / "ca.pem", tmp_path / "ca.der"
    subprocess.run([BAOMI, "ca", "export", "--data-dir", str(proxy.data_dir), "--out", str(pem)], check=True)
    subprocess.run([BAOMI, "ca", "export", "--data-dir", str(proxy.data_dir), "--out", str(der),
                    "--format", "der"], check=True)
    from cryptography import x509

    assert x509.load_pem_x509_certificate(pem.read_bytes()) == x509.load_der_x509_certificate(der.read_bytes())
    assert b"PRIVATE KEY" not in pem.read_bytes()
    assert shutil.which("curl")


def test_raw_tcp_tunnel_is_uninspectable_and_blocked(proxy):
    """CONNECT to something that is neither HTTP nor TLS must not become a blind tunnel."""
    import socket
    import threading

    got = bytearray()
    ended: list[str] = []  # how the server's side of the tunnel ended
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve():
        server.settimeout(15)
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(5)
            try:
                while chunk := conn.recv(4096):
                    got.extend(chunk)
                ended.append("closed by the proxy")
            except OSError as e:  # TimeoutError: the proxy kept the connection open
                ended.append(type(e).__name__)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=15) as c:
        c.sendall(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        assert b" 200 " in c.recv(4096)
        c.sendall(f"SSH-2.0-exfil\r\ncustomer {RESIDENT_ID} {MOBILE}\n".encode())
        try:
            rest = c.recv(4096)  # the proxy closes the tunnel (a timeout here is a failure)
        except ConnectionResetError:
            rest = b""
        assert rest == b""
    t.join(10)
    server.close()
    # The proxy closed the server's side too, having sent nothing of what the client wrote.
    assert ended == ["closed by the proxy"]
    assert bytes(got) == b""
    record = proxy.last_decision()
    assert record["rule"] == "on_uninspectable" and record["method"] == "TCP"


def test_custom_header_values_are_inspected(client, https_up):
    n = len(https_up.received)
    r = client.get(https_up.url("/h"), headers={"x-customer-id": RESIDENT_ID})
    assert r.status_code == 403 and len(https_up.received) == n
    r = client.get(https_up.url("/h"), headers={"x-customer-phone": MOBILE})
    assert r.status_code == 200
    got = https_up.received[-1]
    assert got.headers["x-customer-phone"] == "138********"


def test_blocked_request_never_opens_an_upstream_connection(client, proxy):
    """A blocked plain-HTTP request is decided before mitmproxy connects upstream: the
    destination is not even contacted. (HTTPS CONNECT tunnels connect eagerly by default;
    `--set connection_strategy=lazy` extends this to them.)"""
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    seen: list[bytes] = []  # the request line each accepted connection carried, in order
    stop = threading.Event()

    def serve():
        # One connection at a time, in the order they arrived; each gets an empty 200.
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(10)
                head = b""
                while b"\r\n\r\n" not in head and (chunk := conn.recv(65536)):
                    head += chunk
                seen.append(head.split(b"\r\n", 1)[0])
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    port = server.getsockname()[1]
    try:
        r = client.post(f"http://127.0.0.1:{port}/x", json={"id_no": RESIDENT_ID})
        assert r.status_code == 403
        # Positive control: a clean request to the same server does connect. A connection made
        # for the blocked request would have been accepted before this one, so once this
        # answer is back the list is complete.
        assert client.get(f"http://127.0.0.1:{port}/control").status_code == 200
    finally:
        stop.set()
        t.join(5)
        server.close()
    assert seen == [b"GET /control HTTP/1.1"]


def test_start_banner_names_address_mode_policy_hash_and_ca(proxy):
    from policies.load import load_policy

    text = proxy.log_text()
    assert f"baomi listening on 127.0.0.1:{proxy.port} mode=regular" in text
    assert load_policy(REPO / "policies" / "default.yaml").hash in text
    assert f"client CA certificate: {proxy.ca_pem}" in text


def test_sigterm_stops_cleanly(tmp_path):
    px = BaomiProcess(REPO / "policies" / "default.yaml", tmp_path / "data").start()
    assert px.stop() == 0
