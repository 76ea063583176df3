"""Upstream servers for end-to-end tests with real clients, all on 127.0.0.1 with TLS from a
test CA (harness.UpstreamCA). Reusable by any e2e module:

    with StaticSite(ca, root, work) as site:    # nginx: Range, ETag/304, HEAD, HTTP/2
        curl(..., site.url("/files/big.bin"))
    with AppUpstream(ca) as app:                 # Python: records uploads, SSE, long poll, OpenAI
        app.url("/sse?events=5&interval=1")
        app.received[-1].body

    write_simple_index(root / "simple", [wheel_path])   # PEP 503 layout for pip
    build_wheel(tmp, "bigpkg", "1.0", data=os.urandom(12 << 20))

nginx serves files because it does Range, conditional requests and HTTP/2 (with trailers) the
way real servers do; AppUpstream is a small Python server for what nginx cannot script.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import pwd
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self
from urllib.parse import parse_qs, urlsplit

from harness import Received, UpstreamCA, free_port

TRAILER_NAME = "x-content-sha256"  # the response trailer of H2TrailerServer and /h1-trailers
TRAILER_BODY = b"trailer test body\n" * 100  # AppUpstream's /h1-trailers body


def wait_for_port(port: int, timeout: float = 20, proc: subprocess.Popen | None = None) -> None:
    """Until something accepts on 127.0.0.1:port (nginx has no readiness message)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if (proc and proc.poll() is not None) or time.monotonic() > deadline:
                raise RuntimeError(f"nothing listening on 127.0.0.1:{port}") from None
            time.sleep(0.05)


# -- nginx: static files, HTTP/2, a front for AppUpstream ---------------------------------------

NGINX_CONF = """\
{user}worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    types {{ text/html html; text/plain txt; application/octet-stream bin whl; }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port} ssl http2;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        root {root};
        client_max_body_size 0;
{app_location}    }}
}}
"""

APP_LOCATION = """\
        location /app/ {{
            proxy_pass {app_url}/;
            proxy_http_version 1.1;
        }}
"""


class StaticSite:
    """nginx over TLS (HTTP/1.1 and HTTP/2 by ALPN) serving ``root``.

    - any path: the file under ``root``, with Range, ETag / If-None-Match, HEAD;
    - ``/app/...``: proxied to ``app_url`` (e.g. an AppUpstream), when given, so HTTP/2
      clients reach it; nginx reads the whole request body before it forwards anything.
    ``access_log()`` tells whether a request reached nginx at all.
    """

    def __init__(self, ca: UpstreamCA, root: Path, work: Path, *, app_url: str | None = None):
        self.root, self.work, self.port = root, work, free_port()
        work.mkdir(parents=True, exist_ok=True)
        ca.server_context(["127.0.0.1", "localhost"])  # writes 127.0.0.1.pem / .key into ca.dir
        for suffix in ("pem", "key"):  # nginx's own copy: a later server_context overwrites those
            (work / f"server.{suffix}").write_bytes((ca.dir / f"127.0.0.1.{suffix}").read_bytes())
        self.conf = work / "nginx.conf"
        # As root, nginx's workers would switch to "nobody" and not read our 0700 temp dirs.
        user = f"user {pwd.getpwuid(os.getuid()).pw_name};\n" if os.getuid() == 0 else ""
        self.conf.write_text(NGINX_CONF.format(
            user=user, dir=work, port=self.port, cert=work / "server.pem", key=work / "server.key",
            root=root, app_location=APP_LOCATION.format(app_url=app_url) if app_url else ""))
        self.proc: subprocess.Popen | None = None

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def access_log(self) -> str:
        """One line per finished request (also aborted ones): what reached nginx at all."""
        path = self.work / "access.log"
        return path.read_text() if path.exists() else ""

    def __enter__(self) -> Self:
        self.proc = subprocess.Popen(["nginx", "-p", str(self.work), "-e", str(self.work / "error.log"),
                                      "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(self.port, proc=self.proc)
        except RuntimeError as e:
            self.__exit__()
            log = self.work / "error.log"
            raise RuntimeError(f"nginx did not start: {log.read_text() if log.exists() else ''}") from e
        return self

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


# -- a Python upstream: records uploads, streams events, holds long polls ------------------------

class AppUpstream:
    """HTTP/1.1 server (TLS when ``ca`` is given) on 127.0.0.1.

    Routes:
    - ``GET /sse?events=N&interval=S``: ``text/event-stream``, one ``data: <i>`` event every S
      seconds, the first at once, each flushed as its own chunk;
    - ``GET /longpoll?seconds=S``: answers ``{"waited": S}`` after S seconds;
    - ``GET /h1-trailers``: a chunked body followed by the trailer ``x-content-sha256``;
    - ``POST /v1/chat/completions``: an OpenAI-style chat; ``"stream": true`` gets
      ``chunk_delay``-spaced SSE chunks (one per word of ``reply``), then ``data: [DONE]``;
    - anything else (GET/POST/PUT): recorded, answered ``{"sha256", "length"}`` of the body.

    ``seen`` lists ``(method, path)`` as soon as a request's headers arrive, so a test can tell
    that nothing at all arrived, not just that no complete request did; ``received`` holds the
    complete requests.
    """

    def __init__(self, ca: UpstreamCA | None = None, *, reply: str = "Dear customer, your refund is on its way.",
                 chunk_delay: float = 0.4):
        self.seen: list[tuple[str, str]] = []
        self.received: list[Received] = []
        self.reply, self.chunk_delay = reply, chunk_delay
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.server.daemon_threads = True
        self.tls = ca is not None
        if ca:
            ctx = ca.server_context(["localhost", "127.0.0.1"])
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/") -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{path}"

    def arrived(self, path_prefix: str) -> list[tuple[str, str]]:
        return [s for s in self.seen if s[1].startswith(path_prefix)]

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler_for(app: AppUpstream) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            app.seen.append((self.command, self.path))
            route = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(route.query).items()}
            if route.path == "/sse":
                self._sse(int(query.get("events", 5)), float(query.get("interval", 1)))
            elif route.path == "/longpoll":
                seconds = float(query.get("seconds", 60))
                time.sleep(seconds)  # the upstream's behaviour under test: it answers late
                self._json({"waited": seconds})
            elif route.path == "/h1-trailers":
                self._chunked_with_trailer(TRAILER_BODY)
            else:
                self._record(b"")

        def do_POST(self):
            app.seen.append((self.command, self.path))
            body = self._read_body()
            if urlsplit(self.path).path == "/v1/chat/completions":
                app.received.append(Received(self.command, self.path, self._headers(), body))
                self._chat(json.loads(body))
            else:
                self._record(body)

        do_PUT = do_POST

        # -- replies ----------------------------------------------------------------------

        def _record(self, body: bytes):
            app.received.append(Received(self.command, self.path, self._headers(), body))
            self._json({"sha256": hashlib.sha256(body).hexdigest(), "length": len(body)})

        def _json(self, obj, status: int = 200):
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _start_chunked(self, content_type: str, extra: dict | None = None):
            self.send_response(200)
            self.send_header("content-type", content_type)
            self.send_header("cache-control", "no-cache")
            self.send_header("transfer-encoding", "chunked")
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()

        def _chunk(self, data: bytes):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def _sse(self, events: int, interval: float):
            self._start_chunked("text/event-stream")
            for i in range(events):
                if i:
                    time.sleep(interval)
                self._chunk(f"id: {i}\ndata: {i}\n\n".encode())
            self.wfile.write(b"0\r\n\r\n")

        def _chunked_with_trailer(self, body: bytes):
            # Hand-written chunked framing: http.server has no trailer support.
            self._start_chunked("text/plain", {"trailer": TRAILER_NAME})
            self._chunk(body)
            digest = hashlib.sha256(body).hexdigest()
            self.wfile.write(f"0\r\n{TRAILER_NAME}: {digest}\r\n\r\n".encode())

        def _chat(self, request: dict):
            words = app.reply.split(" ")
            if not request.get("stream"):
                self._json(_completion(request["model"], app.reply))
                return
            self._start_chunked("text/event-stream")
            for i, word in enumerate(words):
                if i:
                    time.sleep(app.chunk_delay)
                text = word if i == 0 else " " + word
                self._chunk(f"data: {json.dumps(_chat_chunk(request['model'], text))}\n\n".encode())
            self._chunk(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")

        # -- request parts --------------------------------------------------------------------

        def _headers(self) -> dict:
            return {k.lower(): v for k, v in self.headers.items()}

        def _read_body(self) -> bytes:
            if self.headers.get("transfer-encoding", "").lower() == "chunked":
                return self._read_chunked()
            length = int(self.headers.get("content-length") or 0)
            return self.rfile.read(length) if length else b""

        def _read_chunked(self) -> bytes:
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # request trailers, if any
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()

        def log_message(self, *args):
            pass

    return Handler


def _completion(model: str, text: str) -> dict:
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def _chat_chunk(model: str, text: str) -> dict:
    return {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "delta": {"content": text},
                                          "finish_reason": None}]}


# -- HTTP/2 with response trailers (gRPC-style) -------------------------------------------------

class H2TrailerServer:
    """TLS, HTTP/2 only (ALPN ``h2``): every request is answered 200 with ``body`` and the
    trailer ``x-content-sha256: <sha256 of body>``, like a gRPC server's ``grpc-status``;
    the request trailer fields it got are kept in ``trailers`` (``b"name: value"``).

    Hand-written on the ``h2`` state machine (a mitmproxy dependency) because nginx 1.22 sends
    ``add_trailer`` trailers on chunked HTTP/1.1 only, and no installed Python server speaks HTTP/2.
    """

    def __init__(self, ca: UpstreamCA, body: bytes = b"h2 trailer test body\n" * 100):
        self.body = body
        self.digest = hashlib.sha256(body).hexdigest()
        self.ctx = ca.server_context(["localhost", "127.0.0.1"])
        self.ctx.set_alpn_protocols(["h2"])
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.trailers: list[bytes] = []

    def url(self, path: str = "/") -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> Self:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed by __exit__
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        import h2.config
        import h2.connection
        import h2.events

        try:
            tls = self.ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            return
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        tls.sendall(conn.data_to_send())
        with tls:
            while data := _recv(tls):
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.TrailersReceived):
                        self.trailers += [b"%s: %s" % (bytes(k), bytes(v))
                                          for k, v in event.headers]
                    if isinstance(event, h2.events.StreamEnded):
                        self._respond(conn, event.stream_id)
                    elif isinstance(event, h2.events.DataReceived):
                        conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                tls.sendall(conn.data_to_send())

    def _respond(self, conn, stream_id: int) -> None:
        conn.send_headers(stream_id, [(":status", "200"), ("content-type", "text/plain"),
                                      ("trailer", TRAILER_NAME)])
        conn.send_data(stream_id, self.body)  # fits the default 64 KiB flow-control window
        conn.send_headers(stream_id, [(TRAILER_NAME, self.digest)], end_stream=True)


def _recv(sock) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


# -- a PEP 503 simple index and a wheel to put in it ---------------------------------------------

def build_wheel(work: Path, name: str, version: str, data: bytes) -> Path:
    """A real wheel built by setuptools (``python -m build --no-isolation``: no index needed),
    holding ``<name>/payload.bin`` = ``data``."""
    project = work / f"{name}-src"
    (project / name).mkdir(parents=True)
    (project / name / "__init__.py").write_text("")
    (project / name / "payload.bin").write_bytes(data)
    (project / "pyproject.toml").write_text(
        "[build-system]\nrequires = ['setuptools']\nbuild-backend = 'setuptools.build_meta'\n"
        f"[project]\nname = '{name}'\nversion = '{version}'\n"
        f"[tool.setuptools]\npackages = ['{name}']\n"
        f"[tool.setuptools.package-data]\n{name} = ['payload.bin']\n")
    out = work / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out),
                    str(project)], check=True, capture_output=True, timeout=300)
    (wheel,) = out.glob(f"{name}-{version}-*.whl")
    return wheel


def normalize(name: str) -> str:
    """PEP 503 project name normalisation: ``Big_Pkg`` -> ``big-pkg``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def write_simple_index(simple: Path, files: list[Path]) -> None:
    """``simple/index.html`` and ``simple/<project>/index.html`` linking each file (copied next to
    it) with its ``#sha256=`` fragment, as PEP 503 describes."""
    projects: dict[str, list[Path]] = {}
    for f in files:
        projects.setdefault(normalize(f.name.split("-")[0]), []).append(f)
    simple.mkdir(parents=True, exist_ok=True)
    (simple / "index.html").write_text(_links((f"{p}/", p) for p in projects))
    for project, project_files in projects.items():
        target = simple / project
        target.mkdir(exist_ok=True)
        links = []
        for f in project_files:
            (target / f.name).write_bytes(f.read_bytes())
            links.append((f"{f.name}#sha256={hashlib.sha256(f.read_bytes()).hexdigest()}", f.name))
        (target / "index.html").write_text(_links(links))


def _links(pairs) -> str:
    body = "".join(f'<a href="{html.escape(h)}">{html.escape(t)}</a>\n' for h, t in pairs)
    return f"<!DOCTYPE html>\n<html><body>\n{body}</body></html>\n"
