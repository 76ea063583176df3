"""Serve the console: tornado's HTTPServer around the Flask app, TLS when given a cert.

    serve(app, "127.0.0.1", 9465)                                  # loopback: plain HTTP allowed
    serve(app, "0.0.0.0", 9465, tls=("cert.pem", "key.pem"))       # anything else needs TLS

Why tornado (6.5, already here through mitmproxy) rather than werkzeug's server: werkzeug's
own docs call ``run_simple`` a development server; tornado's HTTPServer is a production
server with an ``ssl_context``, keep-alive and request-size limits, and reads a request
completely before the WSGI app sees it (a slow client holds no worker thread).
``WSGIContainer`` runs the Flask app on a small thread pool so one slow page (an Argon2 hash,
a large queue) does not stall the others.
"""

from __future__ import annotations

import asyncio
import ipaddress
import signal
import ssl
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from flask import Flask
from tornado.httpserver import HTTPServer
from tornado.httputil import HTTPServerRequest
from tornado.log import access_log
from tornado.netutil import bind_sockets
from tornado.wsgi import WSGIContainer

from proxy.errors import UsageError

THREADS = 8


def is_loopback(host: str) -> bool:
    """'127.0.0.1', '::1', 'localhost' -> True; '0.0.0.0', '', 'console.corp' -> False."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_listen(host: str, tls: tuple[Path, Path] | None) -> None:
    if tls is None and not is_loopback(host):
        raise UsageError(f"--listen-host {host}: not a loopback address; the console sends "
                         "passwords and session cookies, so it needs --tls-cert and --tls-key")


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as e:
        raise UsageError(f"--tls-cert/--tls-key: cannot load ({type(e).__name__}: "
                         f"{getattr(e, 'strerror', None) or 'not a certificate and key'})") from e
    return ctx


class _Container(WSGIContainer):
    """Tornado logs a 4xx/5xx with the request's URI, which may hold a value someone typed
    or pasted (a resident ID in a query or a path): ours logs status, method and time only.

    ``404 GET (127.0.0.1) 11.87ms`` instead of ``404 GET /incidents/11010519... (...)``
    """

    def _log(self, status_code: int, request: HTTPServerRequest) -> None:
        log = access_log.info if status_code < 400 else (
            access_log.warning if status_code < 500 else access_log.error)
        log("%d %s (%s) %.2fms", status_code, request.method, request.remote_ip,
            1000.0 * request.request_time())


def serve(app: Flask, host: str, port: int, tls: tuple[Path, Path] | None = None) -> int:
    check_listen(host, tls)
    ctx = tls_context(*tls) if tls else None
    return asyncio.run(_serve(app, host, port, ctx))


async def _serve(app: Flask, host: str, port: int, ctx: ssl.SSLContext | None) -> int:
    executor = ThreadPoolExecutor(THREADS, thread_name_prefix="console")
    server = HTTPServer(_Container(app, executor=executor), ssl_options=ctx,
                        max_body_size=2 * 1024 * 1024, idle_connection_timeout=60)
    try:
        sockets = bind_sockets(port, host)
    except OSError as e:
        raise UsageError(f"cannot listen on {host}:{port}: {e.strerror}") from e
    server.add_sockets(sockets)
    bound = sockets[0].getsockname()[1]  # port 0 -> the one the system chose
    scheme = "https" if ctx else "http"
    print(f"baomi console: listening on {scheme}://{host}:{bound}/", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        print("baomi console: stopped", file=sys.stderr, flush=True)
    finally:
        server.stop()
        executor.shutdown(wait=False)
    return 0
