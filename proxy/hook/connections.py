"""Bounds on client connections: a deadline for each request head, idle keep-alive, a cap.

    connections = ClientConnections(metrics, head_timeout=30, idle_timeout=60, max_open=10_000)
    master.addons.add(connections, baomi_addon)

What mitmproxy bounds already: ``tcp_timeout`` (600 s) closes a connection with no traffic
in either direction. A client trickling one byte a second is traffic, so without this addon
it keeps its connection (and a file descriptor, buffers, a task) for as long as it likes, and
mitmproxy has no cap on connections. This addon uses mitmproxy's own ways to close one: an
``error`` set in ``client_connected`` (mitmproxy then closes it before reading a byte), and
the connection handler's inactivity callback (``ConnectionHandler.on_timeout``, what
``tcp_timeout`` calls), found through the ``proxyserver`` addon's connection map.

Each TCP client connection is in one of three states (hooks in brackets):

    waiting for a head   from connect, and from a CONNECT tunnel's start [http_connected]
                         (TLS handshake and first request inside it): closed after
                         ``head_timeout`` unless a whole request head arrives
                         [requestheaders, http_connect]
    busy                 a request, WebSocket or TCP stream in flight; a request body that
                         has not arrived ``body_timeout`` s after its head (plus 1 s per
                         ``body_min_rate`` bytes received) is cut with a 408 by
                         proxy/hook/httplayer.py, counted here (``BODY``); the policy's body
                         limit bounds its size
    idle                 keep-alive, nothing in flight since a response ended [response,
                         error, websocket_end, tcp_end]: closed after ``idle_timeout``
                         unless the next whole request head arrives

Long-lived connections: mitmproxy appends every WebSocket and TCP message to its flow for the
connection's life (``flow.websocket.messages``, ``flow.messages``), so a chat socket open for
a day held every message of the day. Only the newest is kept (the one the hooks after this
one inspect; mitmproxy forwards the message object it holds, not the list).

Over ``max_open`` open connections a new one is refused at once (closed, counted). The
process's open-files soft limit is raised to its hard limit at start-up, and ``max_open``
lowered (with a warning) if even that could not hold two descriptors per connection (client
and upstream) plus room for logs, workers and listeners.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from mitmproxy import connection, http, tcp

log = logging.getLogger("baomi")

# Defaults of `baomi run --head-timeout/--idle-timeout/--max-connections` (BAOMI_* too).
HEAD_TIMEOUT = 30  # the figure; nginx's client_header_timeout is 60 s
# Idle keep-alive: long enough that clients which keep pools for a minute (Go 90 s, curl
# 118 s, browsers up to 300 s) mostly reuse rather than reconnect through TLS; the same 60 s
# as common load balancers (AWS ALB, GCP), which clients' pool settings are tuned below.
IDLE_TIMEOUT = 60
# Per process. Two descriptors per connection (client, upstream) under the usual hard limit
# of 1048576 (systemd's default; 524288 on older ones) leaves ample room; the soft limit is
# raised to the hard one, and the cap lowered if the hard limit is smaller.
MAX_CONNECTIONS = 10_000
FDS_PER_CONNECTION = 2
FDS_RESERVED = 256  # listeners, logs, worker pipes, the metrics server, the CA files

# Defaults of `baomi run --body-timeout/--body-min-rate` (BAOMI_* too): the request body's
# deadline, enforced by proxy/hook/httplayer.py (``BodyDeadline``, where the choice is argued):
# 60 s after the head, extended by 1 s for every 500 bytes received (Apache mod_reqtimeout's
# rule, ``body=20,MinRate=500``; nginx's client_body_timeout, also 60 s, times only the gap
# between two reads, which one byte a second never exceeds).
BODY_TIMEOUT = 60
BODY_MIN_RATE = 500  # bytes per second; 0: a fixed total of BODY_TIMEOUT

REFUSED_LIMIT = "limit"
HEAD, IDLE, BODY = "head", "idle", "body"  # which deadline closed a connection
# flow.error of a request whose body missed its deadline (set by proxy/hook/httplayer.py);
# proxy/hook/addon.py's protocol_refusal reads "body timeout" from it.
BODY_TIMED_OUT = "request body timeout: the body did not arrive in time"


class ConnectionMetrics(Protocol):
    def connection_refused(self, reason: str) -> None: ...
    def connection_timed_out(self, which: str) -> None: ...
    def connections_open(self, count: int) -> None: ...


def raise_open_files_limit() -> int:
    """Raise RLIMIT_NOFILE's soft limit to the hard limit; the soft limit now in force.

        raise_open_files_limit()    # soft 1024, hard 1048576 -> 1048576
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


def affordable(max_open: int, open_files: int) -> int:
    """The largest cap ``open_files`` descriptors can hold, at most ``max_open``.

    >>> affordable(10_000, 1_048_576), affordable(10_000, 4096)
    (10000, 1920)
    """
    return max(1, min(max_open, (open_files - FDS_RESERVED) // FDS_PER_CONNECTION))


@dataclass(slots=True)
class _Client:
    """What one open client connection is doing, and the deadline armed for it."""

    client: connection.Client
    busy: set[str] = field(default_factory=set)  # ids of flows in flight
    timer: asyncio.TimerHandle | None = None
    deadline: str | None = None  # which one the timer is: HEAD or IDLE


class ClientConnections:
    """The mitmproxy addon; add it before BaomiAddon so a refused connection costs nothing."""

    def __init__(self, metrics: ConnectionMetrics, head_timeout: float = HEAD_TIMEOUT,
                 idle_timeout: float = IDLE_TIMEOUT, max_open: int = MAX_CONNECTIONS):
        self.metrics = metrics
        self.head_timeout, self.idle_timeout = head_timeout, idle_timeout
        open_files = raise_open_files_limit()
        self.max_open = affordable(max_open, open_files)
        if self.max_open < max_open:
            log.warning("at most %d client connections: %d open files allowed (hard limit)",
                        self.max_open, open_files)
        self._open: dict[str, _Client] = {}
        self._closing: set[asyncio.Task] = set()  # held: the loop keeps only weak references
        metrics.connections_open(0)

    # -- connections --

    def client_connected(self, client: connection.Client) -> None:
        if client.transport_protocol != "tcp":
            return  # UDP (DNS, QUIC) has no connection to hold open
        if len(self._open) >= self.max_open:
            client.error = f"over {self.max_open} open connections"
            self.metrics.connection_refused(REFUSED_LIMIT)
            return
        state = self._open[client.id] = _Client(client)
        self._arm(state, self.head_timeout, HEAD)
        self.metrics.connections_open(len(self._open))

    def client_disconnected(self, client: connection.Client) -> None:
        state = self._open.pop(client.id, None)
        if state is not None:
            self._disarm(state)
            self.metrics.connections_open(len(self._open))

    # -- a request starts: its head is whole --

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        self._busy(flow)

    def http_connect(self, flow: http.HTTPFlow) -> None:
        self._busy(flow)

    def tcp_start(self, flow: tcp.TCPFlow) -> None:
        self._busy(flow)  # a raw or passed-through tunnel: in flight for its life

    # -- ... and ends --

    def http_connected(self, flow: http.HTTPFlow) -> None:
        """The tunnel is open: TLS and the first request inside get a fresh head deadline."""
        self._done(flow, self.head_timeout, HEAD)

    def http_connect_error(self, flow: http.HTTPFlow) -> None:
        self._done(flow, self.idle_timeout, IDLE)

    def response(self, flow: http.HTTPFlow) -> None:
        if flow.websocket is None:  # an upgraded connection stays busy until websocket_end
            self._done(flow, self.idle_timeout, IDLE)

    def error(self, flow: http.HTTPFlow) -> None:
        if flow.error is not None and flow.error.msg == BODY_TIMED_OUT:
            self.metrics.connection_timed_out(BODY)  # cut by proxy/hook/httplayer.py
        self._done(flow, self.idle_timeout, IDLE)

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        self._done(flow, self.idle_timeout, IDLE)

    # -- long-lived connections keep only their newest message --

    def websocket_message(self, flow: http.HTTPFlow) -> None:
        if flow.websocket is not None:
            del flow.websocket.messages[:-1]

    def tcp_message(self, flow: tcp.TCPFlow) -> None:
        del flow.messages[:-1]

    def tcp_end(self, flow: tcp.TCPFlow) -> None:
        self._done(flow, self.idle_timeout, IDLE)

    def tcp_error(self, flow: tcp.TCPFlow) -> None:
        self._done(flow, self.idle_timeout, IDLE)

    # -- internals --

    def _busy(self, flow) -> None:
        state = self._open.get(flow.client_conn.id)
        if state is not None:
            state.busy.add(flow.id)
            self._disarm(state)

    def _done(self, flow, timeout: float, which: str) -> None:
        state = self._open.get(flow.client_conn.id)
        if state is None:
            return
        state.busy.discard(flow.id)
        if not state.busy:
            self._arm(state, timeout, which)

    def _arm(self, state: _Client, timeout: float, which: str) -> None:
        self._disarm(state)
        state.timer = asyncio.get_running_loop().call_later(timeout, self._expire, state, which)
        state.deadline = which

    @staticmethod
    def _disarm(state: _Client) -> None:
        if state.timer is not None:
            state.timer.cancel()
            state.timer = state.deadline = None

    def _expire(self, state: _Client, which: str) -> None:
        state.timer = None
        if state.busy or self._open.get(state.client.id) is not state:
            return  # a request started in the same loop turn, or it is gone already
        handler = _handler_of(state.client)
        if handler is None:
            return
        self.metrics.connection_timed_out(which)
        task = asyncio.get_running_loop().create_task(handler.on_timeout())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


def _handler_of(client: connection.Client):
    """mitmproxy's ConnectionHandler for a live client connection, or None once it is gone."""
    from mitmproxy import ctx

    server = ctx.master.addons.get("proxyserver")
    return server.connections.get(client.id) if server is not None else None
