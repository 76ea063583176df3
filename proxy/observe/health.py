"""The metrics listener: /metrics, /healthz, /readyz (and /proxy.pac) on a daemon thread.

    server = serve("127.0.0.1", 9464, metrics)   # port 0 picks a free port: server.port
    ...
    server.shutdown()                             # stops serving and closes the socket

/healthz answers 200 while the process is alive (liveness); /readyz answers 200 only
when every component in ``metrics.ready()`` is ready (under ``--processes N``, a
``BoxMetrics``: in every process), else 503 with
``{"status": "not ready", "not_ready": ["detector"], "components": {"policy": "ready", ...}}``
(readiness), plus notes that are not failures (``"policy_reload": "last reload rejected: ..."``).
/proxy.pac serves ``pac()`` (rendered per request, so a reloaded policy shows at once) when
``serve(..., pac=...)`` was given one; 404 otherwise.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client.exposition import choose_encoder

from proxy.observe.box import BoxMetrics
from proxy.observe.metrics import Metrics

log = logging.getLogger(__name__)
PAC_CONTENT_TYPE = "application/x-ns-proxy-autoconfig"


class HealthServer(ThreadingHTTPServer):
    daemon_threads = True  # a stuck scrape must not keep the process alive

    def __init__(self, address: tuple[str, int], metrics: Metrics | BoxMetrics,
                 pac: Callable[[], str] | None = None):
        self.metrics = metrics
        self.pac = pac
        if ":" in address[0]:  # an IPv6 listen address such as "::"
            self.address_family = socket.AF_INET6
        super().__init__(address, HealthHandler)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def shutdown(self) -> None:
        super().shutdown()
        self.server_close()


class HealthHandler(BaseHTTPRequestHandler):
    server: HealthServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._metrics()
        elif path == "/healthz":
            self._send(HTTPStatus.OK, b"ok\n", "text/plain; charset=utf-8")
        elif path == "/readyz":
            self._readyz()
        elif path == "/proxy.pac" and self.server.pac is not None:
            self._pac(self.server.pac)
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8")

    def _metrics(self) -> None:
        # Prometheus asks for OpenMetrics in Accept; choose_encoder honours that.
        encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
        self._send(HTTPStatus.OK, encoder(self.server.metrics.registry), content_type)

    def _readyz(self) -> None:
        ready = self.server.metrics.ready()
        not_ready = sorted(c for c, ok in ready.items() if not ok)
        status = HTTPStatus.SERVICE_UNAVAILABLE if not_ready else HTTPStatus.OK
        body = {
            "status": "not ready" if not_ready else "ready",
            "not_ready": not_ready,
            "components": {c: "ready" if ok else "not ready" for c, ok in ready.items()},
            **self.server.metrics.notes,
        }
        self._send(status, json.dumps(body).encode() + b"\n", "application/json")

    def _pac(self, pac: Callable[[], str]) -> None:
        try:
            body = pac().encode()
        except Exception as e:  # noqa: BLE001 - no PAC means browsers fail closed; log why
            log.error("cannot render /proxy.pac: %s", e)
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, b"no PAC\n", "text/plain; charset=utf-8")
            return
        self._send(HTTPStatus.OK, body, PAC_CONTENT_TYPE)

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        # Scrapes and probes every few seconds: debug level, not the default stderr line.
        log.debug("%s " + format, self.address_string(), *args)


def serve(host: str, port: int, metrics: Metrics | BoxMetrics,
          pac: Callable[[], str] | None = None) -> HealthServer:
    """Start serving on a daemon thread and return the server (bound before return)."""
    server = HealthServer((host, port), metrics, pac)
    thread = threading.Thread(target=server.serve_forever, name="baomi-metrics", daemon=True)
    thread.start()
    return server
