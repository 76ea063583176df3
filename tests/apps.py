"""Servers and helpers for end-to-end tests with real applications (a browser, git, grpcio).

Every server listens on 127.0.0.1 with TLS from a test CA (harness.UpstreamCA) and records what
it received, so a test can assert what actually arrived upstream:

    with PageServer(ca, {"/": ("text/html", b"<h1>hi</h1>")}) as site:
        ...  # browser through baomi to site.url("/")
        assert site.received[-1].method == "POST"
"""

from __future__ import annotations

import asyncio
import os
import queue
import shutil
import subprocess
import threading
import zlib
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from harness import REPO, Received, UpstreamCA, decisions

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

# -- baomi's decision log (harness.decisions reads it) ------------------------------------------

def last_block(data_dir: Path, path: str, *, after: int, method: str | None = None) -> dict:
    """The newest block record for a request path (and method, e.g. "WEBSOCKET") among the
    records after the first ``after`` (``len(decisions(...))`` taken before the request).
    Matching the path matters: a browser's own background requests are blocked too."""
    blocks = [r for r in decisions(data_dir)[after:] if r["action"] == "block"
              and r["path"] == path and (method is None or r["method"] == method)]
    assert blocks, f"baomi recorded no block for {path}"
    return blocks[-1]


# -- an HTTPS site for a browser --------------------------------------------------------------------

THANKS = b"<!doctype html><title>Received</title><p id='got'>received</p>"


class _RecordingHandler(BaseHTTPRequestHandler):
    """Reads a request body (Content-Length or chunked) and records it on ``server.received``."""

    protocol_version = "HTTP/1.1"

    def read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            out = b""
            while size := int(self.rfile.readline().split(b";")[0].strip(), 16):
                out += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            return out
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def record(self, body: bytes) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.received.append(Received(self.command, self.path, headers, body))

    def answer(self, status: int, ctype: str, body: bytes, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _TLSServer:
    """A ThreadingHTTPServer on 127.0.0.1 with a certificate from the test CA."""

    def __init__(self, ca: UpstreamCA, handler: type[_RecordingHandler]):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.server.received = []
        ctx = ca.server_context(["localhost", "127.0.0.1"])
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def received(self) -> list[Received]:
        return self.server.received

    def url(self, path: str = "/") -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class PageServer(_TLSServer):
    """Serves fixed pages on GET (404 otherwise); records every POST and answers THANKS."""

    def __init__(self, ca: UpstreamCA, pages: dict[str, tuple[str, bytes]]):
        class Handler(_RecordingHandler):
            def do_GET(self):
                self.record(b"")
                ctype, body = pages.get(urlsplit(self.path).path, ("text/plain", b"not found"))
                self.answer(200 if urlsplit(self.path).path in pages else 404, ctype, body)

            def do_POST(self):
                self.record(self.read_body())
                self.answer(200, "text/html; charset=utf-8", THANKS)

        super().__init__(ca, Handler)


class WebSocketServer:
    """A TLS WebSocket server on 127.0.0.1, on a thread of its own; it records every message
    it receives and answers as its subclass's ``_handler`` says."""

    def __init__(self, ca: UpstreamCA):
        self.received: list[str | bytes] = []
        self.ctx = ca.server_context(["localhost", "127.0.0.1"])
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0

    async def _handler(self, ws) -> None:
        raise NotImplementedError

    async def _main(self):
        from websockets.asyncio.server import serve

        async with serve(self._handler, "127.0.0.1", 0, ssl=self.ctx) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._stop = asyncio.Event()
            self.ready.set()
            await self._stop.wait()

    def url(self, path: str = "/echo") -> str:
        return f"wss://127.0.0.1:{self.port}{path}"

    def __enter__(self):
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._main(),),
                                       daemon=True)
        self.thread.start()
        assert self.ready.wait(10), "WebSocket server did not start"
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(10)
        self.loop.close()  # its self-pipe sockets, else ResourceWarnings at garbage collection


class WebSocketEcho(WebSocketServer):
    """Echoes every message."""

    async def _handler(self, ws):
        from websockets.exceptions import ConnectionClosed

        try:
            async for message in ws:
                self.received.append(message)
                await ws.send(message)
        except ConnectionClosed:  # baomi closing a blocked conversation is a normal end here
            pass


class WebSocketAck(WebSocketServer):
    """Answers every message "ack" and notes how each connection closed (``close_of``)."""

    def __init__(self, ca: UpstreamCA):
        super().__init__(ca)
        self.closes: queue.Queue[tuple[str, int | None, str | None]] = queue.Queue()

    async def _handler(self, ws):
        try:
            async for message in ws:
                self.received.append(message)
                await ws.send("ack")
        finally:  # (path, close code and reason the client side sent; None: no close frame)
            self.closes.put((ws.request.path, ws.close_code, ws.close_reason))

    def close_of(self, path: str) -> tuple[int | None, str | None]:
        """The close code and reason the connection to ``path`` ended with, once it has."""
        while True:
            got, code, reason = self.closes.get(timeout=30)
            if got == path:
                return code, reason


def png_bytes(width: int = 4, height: int = 4) -> bytes:
    """A valid RGB PNG (grey pixels). Hand-built with zlib: no imaging library needed for this.

    >>> png_bytes()[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data).to_bytes(4, "big")
        return len(data).to_bytes(4, "big") + kind + data + crc

    header = (width.to_bytes(4, "big") + height.to_bytes(4, "big")
              + bytes([8, 2, 0, 0, 0]))  # 8-bit depth, truecolour, no interlace
    rows = b"".join(b"\x00" + b"\x80\x80\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def trust_in_nss(home: Path, ca_pem: str) -> None:
    """Make Chromium under HOME=home trust ``ca_pem``: an NSS database at ~/.pki/nssdb, where
    Chromium on Linux reads user-added roots (certutil comes from Debian's libnss3-tools)."""
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True, exist_ok=True)
    subprocess.run(["certutil", "-d", f"sql:{db}", "-N", "--empty-password"], check=True,
                   capture_output=True)
    subprocess.run(["certutil", "-d", f"sql:{db}", "-A", "-n", "baomi test CA", "-t", "C,,",
                    "-i", ca_pem], check=True, capture_output=True)


@contextmanager
def proxied_chromium(home: Path, proxy_url: str, ca_pem: str, wait: float,
                     window: str = "1200,900") -> Iterator:
    """Headless Chromium (Debian's, with its chromedriver) that sends everything through the
    proxy at ``proxy_url`` (loopback too) and trusts ``ca_pem``; nothing is downloaded: the
    driver path is explicit and Selenium Manager stays offline."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    trust_in_nss(home, ca_pem)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--lang=en-US", f"--window-size={window}", f"--user-data-dir={home / 'profile'}",
                 f"--proxy-server={proxy_url}", "--proxy-bypass-list=<-loopback>"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": "en-US,en"})
    env = {**os.environ, "HOME": str(home), "SE_OFFLINE": "1"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SE_OFFLINE", "1")
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER, env=env),
                                  options=options)
    driver.set_page_load_timeout(wait)
    driver.set_script_timeout(wait)
    try:
        yield driver
    finally:
        driver.quit()


def guarded_policy(out: Path, hosts: list[str]) -> Path:
    """policies/default.yaml, except that nothing may go anywhere but ``hosts``: every other
    destination is blocked (default_action block; masking only towards ``hosts``). For the
    test hosts the rules are the default ones.

    This is the browser's guard: Chromium sends background requests (updates, time) through the
    proxy even with --disable-background-networking, and a PAC script cannot route 127.0.0.1 to
    a proxy (Chromium bypasses loopback for PAC, ignoring ``<-loopback>``).
    """
    policy = yaml.safe_load((REPO / "policies" / "default.yaml").read_text(encoding="utf-8"))
    policy["destinations"] = {"test-site": {"description": "the test servers", "hosts": hosts}}
    for rule in policy["rules"]:
        if rule["action"] == "mask":
            rule["destination"] = ["test-site"]
    policy["rules"].append({"name": "allow-test-site", "description": "the test servers",
                            "action": "allow", "destination": ["test-site"]})
    policy["default_action"] = "block"
    out.write_text(yaml.safe_dump(policy, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return out


def resident_id(region: str, birth: str, seq: int) -> str:
    """A well-formed 18-digit resident ID (GB 11643, ISO 7064 MOD 11-2 check character).

    >>> resident_id("110105", "19491231", 2)
    '11010519491231002X'
    """
    body = f"{region}{birth}{seq:03d}"
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(body))
    return body + "10X98765432"[total % 11]


def customers_csv(rows: int, ids: bool) -> str:
    """Customer rows: name, mobile and either a resident ID or a postal address."""
    names = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄勇", "周杰", "吴霞"]
    lines = ["姓名,手机," + ("身份证号" if ids else "地址")]
    for i in range(rows):
        third = (resident_id("110105", f"1980{i % 12 + 1:02d}15", 10 + i) if ids
                 else f"北京市朝阳区建国路{i + 1}号{i + 2}单元{100 + i}室")
        lines.append(f"{names[i % len(names)]},139{10000000 + 7919 * i:08d},{third}")
    return "\n".join(lines) + "\n"


# -- git smart HTTP ---------------------------------------------------------------------------------

GIT_HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"


class GitServer(_TLSServer):
    """git's own smart-HTTP server (git-http-backend, a CGI program) behind HTTPS.

    The CGI runner is written here rather than using http.server's CGIHTTPRequestHandler, which
    is deprecated (removed in Python 3.15) and cannot read chunked request bodies (git sends
    pushes over 1 MiB chunked). Every request is recorded; repositories live under ``root``.
    """

    def __init__(self, ca: UpstreamCA, root: Path):
        self.root = Path(root)

        class Handler(_RecordingHandler):
            def do_GET(self):
                self.cgi(b"")

            def do_POST(self):
                self.cgi(self.read_body())

            def cgi(self, body: bytes):
                self.record(body)
                parts = urlsplit(self.path)
                env = {
                    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "GIT_PROJECT_ROOT": str(root), "GIT_HTTP_EXPORT_ALL": "1",
                    "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1",
                    "REQUEST_METHOD": self.command, "PATH_INFO": parts.path,
                    "QUERY_STRING": parts.query, "REMOTE_ADDR": self.client_address[0],
                    "CONTENT_TYPE": self.headers.get("content-type", ""),
                    "CONTENT_LENGTH": str(len(body)),
                    "HTTP_CONTENT_ENCODING": self.headers.get("content-encoding", ""),
                }
                if self.headers.get("git-protocol"):  # protocol v2, read by http-backend
                    env["HTTP_GIT_PROTOCOL"] = self.headers["git-protocol"]
                out = subprocess.run([GIT_HTTP_BACKEND], input=body, env=env,
                                     capture_output=True, check=False).stdout
                head, _, payload = out.partition(b"\r\n\r\n")
                status, headers = 200, {}
                for line in head.decode("latin-1").split("\r\n"):
                    name, _, value = line.partition(":")
                    if name.lower() == "status":
                        status = int(value.split()[0])
                    elif name:
                        headers[name.strip()] = value.strip()
                ctype = headers.pop("Content-Type", "application/octet-stream")
                self.answer(status, ctype, payload, headers)

        super().__init__(ca, Handler)


def git(*args: str, cwd: Path | None = None, env: dict | None = None,
        check: bool = True) -> subprocess.CompletedProcess:
    """Run the real git; ``env`` replaces the environment (tests pass a clean one)."""
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          check=check, timeout=120)


def git_env(home: Path, proxy_url: str | None = None, ca_pem: str | None = None) -> dict:
    """A clean environment for git: its own HOME and identity, no prompts, optionally through a
    proxy trusting ``ca_pem`` (GIT_SSL_CAINFO overrides any http.sslCAInfo)."""
    home.mkdir(parents=True, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
           "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "LANG": "C.UTF-8",
           "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
           "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.invalid"}
    if proxy_url:
        env["https_proxy"] = env["HTTPS_PROXY"] = proxy_url
    if ca_pem:
        env["GIT_SSL_CAINFO"] = ca_pem
    return env


def make_served_repo(root: Path, name: str, work: Path, files: dict[str, bytes],
                     env: dict) -> Path:
    """A bare repository ``root/name`` that accepts pushes over HTTP, holding one commit on
    ``main`` with ``files``, built in ``work`` with the real git."""
    git("init", "-q", "-b", "main", str(work), env=env)
    for rel, data in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_bytes(data)
    git("add", "-A", cwd=work, env=env)
    git("commit", "-q", "-m", "initial", cwd=work, env=env)
    bare = root / name
    git("clone", "-q", "--bare", str(work), str(bare), env=env)
    git("config", "http.receivepack", "true", cwd=bare, env=env)
    shutil.rmtree(work)
    return bare


# -- gRPC with hand-encoded protobuf ----------------------------------------------------------------


def pb_string(field: int, text: str) -> bytes:
    """One protobuf length-delimited field (wire type 2), e.g. field 1 ``"王芳"``.

    Hand-encoded so no protoc/generated code is needed:
    >>> pb_string(1, "hi")
    b'\\n\\x02hi'
    """
    data = text.encode()
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


class GrpcServer:
    """A grpcio server on 127.0.0.1 with TLS from the test CA and two methods taking and
    returning raw bytes: unary ``/baomi.test.Notes/Send`` (each request message recorded in
    ``received``) and client-streaming ``/baomi.test.Notes/Collect`` (each call's messages
    recorded in ``streams``)."""

    SERVICE, METHOD, STREAM = "baomi.test.Notes", "Send", "Collect"

    def __init__(self, ca: UpstreamCA):
        import grpc

        self.received: list[bytes] = []
        self.streams: list[list[bytes]] = []
        ca.server_context(["localhost", "127.0.0.1"])  # writes localhost.pem / localhost.key
        chain = (ca.dir / "localhost.pem").read_bytes()
        key = (ca.dir / "localhost.key").read_bytes()

        def send(request: bytes, context) -> bytes:
            self.received.append(request)
            return pb_string(1, "stored")

        def collect(requests, context) -> bytes:
            self.streams.append(list(requests))
            return pb_string(1, "stored")

        handler = grpc.method_handlers_generic_handler(self.SERVICE, {
            self.METHOD: grpc.unary_unary_rpc_method_handler(send),
            self.STREAM: grpc.stream_unary_rpc_method_handler(collect),
        })
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        self.server.add_generic_rpc_handlers((handler,))
        self.port = self.server.add_secure_port(
            "127.0.0.1:0", grpc.ssl_server_credentials([(key, chain)]))

    @property
    def method_path(self) -> str:
        return f"/{self.SERVICE}/{self.METHOD}"

    @property
    def stream_path(self) -> str:
        return f"/{self.SERVICE}/{self.STREAM}"

    def __enter__(self):
        self.server.start()
        return self

    def __exit__(self, *exc):
        self.server.stop(grace=None)
