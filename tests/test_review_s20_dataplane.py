"""Review of session 20's data-plane changes (issue 12), as an attacker would try them.

Forms and plain text decided from their bytes (proxy/workers/rawform.py, flatscan.py) must
agree with the full path on hostile shapes; HTTP/1 response trailers passed through
(proxy/hook/httplayer.py) must not carry fields a recipient could take as framing or routing.
"""

from __future__ import annotations

import base64
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from harness import REPO, BaomiProcess, free_port
from rawhttp import h2_events_until, h2_through, h11_exchange
from test_rawform import SELECTOR, TERMS, assert_same, request
from upstreams import H2TrailerServer

from proxy.extraction.extract import Limits
from proxy.workers.triage import Triage

MOBILE = "13800138000"
B64 = base64.b64encode(MOBILE.encode()).decode()
FORM = (("content-type", "application/x-www-form-urlencoded"),)
TEXT = (("content-type", "text/plain"),)

# (body, headers, what the full path makes of it): the fast path must give the same answer.
HOSTILE = {
    "media type in capitals": (f"a=1&tel={MOBILE}".encode(),
                               (("Content-Type", "APPLICATION/X-WWW-FORM-URLENCODED"),), "scanned"),
    "duplicate equal Content-Type": (MOBILE.encode(), TEXT + TEXT, "scanned"),
    "conflicting Content-Type": (MOBILE.encode(), TEXT + (("content-type", "Text/Plain"),), "worker"),
    "quoted charset": (MOBILE.encode(), (("content-type", 'text/plain; charset="utf-8"'),), "local"),
    "charset in capitals": (MOBILE.encode(), (("content-type", "text/plain; charset=UTF-8"),),
                            "scanned"),
    "semicolon separators": (f"a=1;tel={MOBILE}".encode(), FORM, "scanned"),
    "semicolon hides base64": (f"a=1;b={B64}&c=2".encode(), FORM, "local"),
    "%2B and +": (b"tel=%2B86+138+0013+8000", FORM, "scanned"),
    "%% before escapes": (b"a=%%31%33%38", FORM, "local"),
    "twice-escaped digits": (b"a=" + b"".join(b"%25" + f"{ord(c):02X}".encode() for c in MOBILE),
                             FORM, "local"),
    "escaped backslash-x digits": (b"a=" + b"".join(b"%5Cx" + f"{ord(c):02x}".encode()
                                                    for c in MOBILE), FORM, "local"),
    "raw backslash-x digits": (b"a=" + b"".join(b"\\x" + f"{ord(c):02x}".encode() for c in MOBILE),
                               FORM, "local"),
    "base64 behind %0D": (f"a=x%0D{B64}".encode(), FORM, "local"),
    "base64 behind U+2028": (f"a=x%E2%80%A8{B64}".encode(), FORM, "local"),
    "base64 behind NEL in text": (f"x\u0085{B64}".encode(), TEXT, "local"),
    "base64 behind form feed in text": (f"x\x0c{B64}".encode(), TEXT, "local"),
    "UTF-16 label": ("hi".encode("utf-16-le"), (("content-type", "text/plain; charset=utf-16"),),
                     "local"),
    "Latin-1 labelled UTF-8": (f"café {MOBILE}".encode("latin-1"),
                               (("content-type", "text/plain; charset=utf-8"),), "worker"),
    "GB18030 labelled UTF-8 form": ("a=张三".encode("gb18030"),
                                    (("content-type",
                                      "application/x-www-form-urlencoded; charset=utf-8"),), "local"),
    "JSON in text/plain": (f'{{"tel": "{MOBILE}"}}'.encode(), TEXT, "local"),
    "entities in a form": (b"a=%26%2349%3B%26%2351%3B%26%2356%3B00138000", FORM, "local"),
    "zero-width spaces": ("a=138\u200b0013\u200b8000".encode(), FORM, "scanned"),
    "fullwidth digits": ("a=１３８００１３８０００".encode(), FORM, "scanned"),
    "name split from its digits": (b"1380013=8000", FORM, "local"),
    "data name after a name holding =": (b"a=b=c&" + MOBILE.encode() + b"=x", FORM, "local"),
    "a data name after a short one": (b"138=1&00138000=2", FORM, "local"),
    "names whose digits add up to six": (b"138=1&001=2", FORM, "clean"),
    "a long field": (b"a=" + b"x" * 15000, FORM, "clean"),
    "BOM then a phone": ("\ufeff".encode() + MOBILE.encode(), TEXT, "scanned"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_form_and_text_bodies_get_the_full_paths_answer(name):
    body, headers, expected = HOSTILE[name]
    raw = request(body, headers)
    assert assert_same(raw) == expected
    assert assert_same(raw, TERMS) == expected


# -- response trailers --------------------------------------------------------------------

# What the origin sends after its last chunk: a checksum a client may read, and fields that
# must never act as framing, routing or connection control (RFC 9110 6.5.1, RFC 9113 8.2.2).
FORBIDDEN = [("content-length", "5"), ("transfer-encoding", "chunked"), ("host", "evil.example"),
             ("connection", "close"), ("trailer", "x-more"), ("te", "trailers"),
             ("upgrade", "h2c"), ("keep-alive", "timeout=1")]


class _ForbiddenTrailers(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        fields = [("x-checksum", "abc")] if self.path == "/mixed" else []
        fields += FORBIDDEN
        trailer = "".join(f"{k}: {v}\r\n" for k, v in fields).encode()
        self.wfile.write(b"5\r\nhello\r\n0\r\n" + trailer + b"\r\n")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, upstream_ca):
    data = tmp_path_factory.mktemp("review_s20")
    with BaomiProcess(REPO / "policies" / "default.yaml", data / "var",
                      upstream_ca=upstream_ca.pem, metrics_port=free_port()) as px:
        yield px


def _serve(tls=None):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ForbiddenTrailers)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.server_context(["127.0.0.1"]).wrap_socket(server.socket,
                                                                       server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def trailer_origin():
    server = _serve()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def tls_trailer_origin(upstream_ca):
    server = _serve(upstream_ca)
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _h11_get(sock, client, host: str, path: str) -> list:
    import h11

    request = h11.Request(method="GET", target=f"http://{host}{path}",
                          headers=[("host", host), ("te", "trailers")])
    return h11_exchange(sock, client, request)


@pytest.mark.e2e
def test_forbidden_trailer_fields_are_not_passed_on(proxy, trailer_origin):
    """Only the checksum follows the last chunk; with nothing else left the message ends
    plain, and the kept-alive connection serves the next request."""
    import h11

    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
        client = h11.Connection(h11.CLIENT)
        got = []
        for path in ("/mixed", "/only-forbidden", "/mixed"):
            response, *data, end = _h11_get(sock, client, trailer_origin, path)
            assert response.status_code == 200
            assert b"".join(bytes(d.data) for d in data) == b"hello"
            got.append(list(end.headers))
            client.start_next_cycle()
    assert got == [[(b"x-checksum", b"abc")], [], [(b"x-checksum", b"abc")]]


@pytest.mark.e2e
@pytest.mark.parametrize("version", ["--http2", "--http1.1"])
def test_an_https_client_gets_only_the_passable_trailer_fields(proxy, tls_trailer_origin, version):
    """Through TLS interception, the checksum only (a client asking for HTTP/2 is offered
    what the HTTP/1 upstream speaks: mitmproxy mirrors the upstream's ALPN)."""
    out = subprocess.run(["curl", "-sS", "-x", proxy.url, "--cacert", proxy.ca_pem,
                          "--max-time", "20", version, "-D", "-", "-o", "/dev/null",
                          tls_trailer_origin + "/mixed"],
                         capture_output=True, timeout=50, check=False)
    assert out.returncode == 0, out.stderr
    head, trailers = out.stdout.decode().split("\r\n\r\n")[-2:]
    assert head.startswith("HTTP/1.1 200 ")
    assert trailers == "x-checksum: abc\r\n"


# -- HTTP/2 request trailers ----------------------------------------------------------------

ID = "11010519491231002X"


@pytest.mark.e2e
def test_http2_request_trailers_never_carry_data_out_uninspected(proxy, upstream_ca):
    """A request's trailer fields are data the inspection never reads: an ID in one must
    not reach the upstream (HTTP/1 refuses such requests with 400 already)."""
    import h2.events

    refused = proxy.metric("baomi_protocol_refusals_total", reason="request trailers")
    with H2TrailerServer(upstream_ca) as up, h2_through(proxy, f"127.0.0.1:{up.port}") as (tls, conn):
        conn.send_headers(1, [(":method", "POST"), (":path", "/t"), (":scheme", "https"),
                              (":authority", f"127.0.0.1:{up.port}"),
                              ("content-type", "text/plain")])
        conn.send_data(1, b"hello")
        conn.send_headers(1, [("x-customer-id", ID)], end_stream=True)
        tls.sendall(conn.data_to_send())
        events = h2_events_until(tls, conn, lambda seen: any(
            isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset)) for e in seen))
    assert up.trailers == []  # nothing of it went upstream
    status = [dict(e.headers)[b":status"] for e in events
              if isinstance(e, h2.events.ResponseReceived)]
    assert status == [b"403"]
    mine = [r for r in proxy.decisions() if r.get("path") == "/t" and r.get("method") == "POST"]
    assert [(r["action"], r["rule"], r["uninspected"]) for r in mine] == \
        [("block", "on_protocol_error", "undecodable")]
    assert ID not in (proxy.data_dir / "decisions.jsonl").read_text()
    assert proxy.metric("baomi_protocol_refusals_total", reason="request trailers") == refused + 1


# -- limits: a form or text at and over max_body_bytes / max_decoded_bytes ------------------

def _answer(local) -> str:
    if local is None:
        return "worker"
    return "clean" if not local.selected else f"selected {list(local.selected)}"


@pytest.mark.parametrize("kind", ["form", "text"])
@pytest.mark.parametrize("which", ["max_body_bytes", "max_decoded_bytes"])
def test_a_body_at_and_over_the_limits_gets_the_full_paths_answer(kind, which):
    """Over a limit the full path raises (a worker extracts again and the policy's
    on_oversize acts): the bytes must never prove such a body clean. The URL's escaped
    query value spends decoded bytes too (``%2541`` opens a percent layer), as in the full
    path: each limit from just under the body to a little over what everything spends."""
    body = b"sku=SO-1&qty=2&note=" + b"x" * 80 if kind == "form" else b"plain note " * 8
    headers = FORM if kind == "form" else TEXT
    raw = request(body, headers, url="https://api.example.com/v1/orders?q=a%2541b")
    answers = []
    for limit in range(len(body) - 2, len(body) + 8):
        limits = Limits(**{which: limit})
        fast = Triage(SELECTOR).local(raw, limits)
        full = Triage(SELECTOR, raw_scan=False).local(raw, limits)
        assert _answer(fast) == _answer(full), limit
        answers.append(_answer(fast))
    assert answers[0] == "worker" and answers[-1] == "clean"  # both sides of the limit


# -- kill -9 under masked form load: every masked body the upstream got has its incident ----

def _post_forms(px, up, thread: int, n: int, sent: list, start: threading.Event) -> None:
    """n masked form posts on one connection, each to its own path."""
    import httpx

    body = f"order_id=SO-1&contact%5Bmobile%5D={MOBILE}&note=call+{MOBILE}+now".encode()
    with httpx.Client(proxy=px.url, verify=ssl.create_default_context(cafile=px.ca_pem),
                      timeout=60) as client:
        start.wait()
        for i in range(n):
            try:
                r = client.post(up.url(f"/r7-k9-{thread}-{i}"), content=body, headers=FORM)
            except httpx.HTTPError:
                return  # the proxy is gone
            sent.append((f"/r7-k9-{thread}-{i}", r.status_code))


@pytest.mark.e2e
def test_kill_9_under_masked_form_load_loses_no_forwarded_masks_incident(tmp_path, upstream_ca,
                                                                         https_up):
    """A masked body goes upstream only after its incident is durable (written on the loop,
    fsynced by the writer thread): after kill -9 of the proxy, every path the upstream got
    a masked body for has its incident, and the chain verifies."""
    from test_review_s19_records import incident_rows, verify

    px = BaomiProcess(REPO / "policies" / "default.yaml", tmp_path / "data",
                      upstream_ca=upstream_ca.pem)
    with px:
        sent: list = []
        start = threading.Event()
        threads = [threading.Thread(target=_post_forms, args=(px, https_up, t, 60, sent, start))
                   for t in range(6)]
        for thread in threads:
            thread.start()
        start.set()
        deadline = time.monotonic() + 60
        while len([r for r in https_up.received if r.path.startswith("/r7-k9-")]) < 40:
            assert all(t.is_alive() for t in threads), "the load ended before the kill"
            assert time.monotonic() < deadline, "the load did not get going"
            time.sleep(0.01)  # polling the upstream's count, not ordering
        px.proc.kill()
        px.proc.wait(60)
        for thread in threads:
            thread.join(60)
    forwarded = [r for r in https_up.received if r.path.startswith("/r7-k9-")]
    assert forwarded and all(MOBILE.encode() not in r.body for r in forwarded)
    incidents = {row["path"] for row in incident_rows(px.data_dir) if row["action"] == "mask"}
    assert {r.path for r in forwarded} <= incidents
    verify(px)


@pytest.fixture(scope="module")
def lazy_proxy(tmp_path_factory, upstream_ca):
    """Connects upstream only after the client's request: a client asking for HTTP/2 gets
    it whatever the upstream speaks (with the default eager strategy it is offered the
    upstream's protocol)."""
    data = tmp_path_factory.mktemp("review_s20_lazy")
    with BaomiProcess(REPO / "policies" / "default.yaml", data / "var",
                      upstream_ca=upstream_ca.pem,
                      extra_args=("--set", "connection_strategy=lazy")) as px:
        yield px


@pytest.mark.e2e
def test_an_http2_client_of_an_http1_upstream_gets_only_the_passable_trailers(
        lazy_proxy, tls_trailer_origin):
    """HTTP/1 upstream, HTTP/2 client: the trailers go out as HTTP/2 trailers, where h2
    refuses connection-specific fields (Connection, Transfer-Encoding...): only the
    checksum is sent, twice on one connection."""
    url = tls_trailer_origin + "/mixed"
    out = subprocess.run(["curl", "-sS", "-x", lazy_proxy.url, "--cacert", lazy_proxy.ca_pem,
                          "--max-time", "20", "--http2", "-D", "-", "-o", "/dev/null",
                          url, "-o", "/dev/null", url],
                         capture_output=True, timeout=50, check=False)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.decode().split("\r\n")
    assert [line for line in lines if line.startswith("HTTP/2")] == ["HTTP/2 200 "] * 2
    assert lines.count("x-checksum: abc") == 2
    # The forbidden fields' values are in no header block or trailer section.
    assert not [line for line in lines if line.split(": ", 1)[-1] in dict(FORBIDDEN).values()
                and line.split(": ", 1)[0] in dict(FORBIDDEN)], out.stdout
    log = lazy_proxy.log_text()
    assert "has crashed" not in log, log[log.find("has crashed"):][:3000]
