"""The connection bounds' state machine (proxy/hook/connections.py) with mitmproxy's test flows.

What the end-to-end tests (test_e2e_connections.py) cannot reach cheaply: HTTP/2 streams on
one connection (idle only when the last one ends), WebSocket and raw TCP tunnels (busy for
their life), which deadline is armed when, and the close going through mitmproxy's own
``ConnectionHandler.on_timeout`` of the right connection.
"""

from __future__ import annotations

import asyncio
import functools
from collections import Counter

import pytest
from mitmproxy.tcp import TCPMessage
from mitmproxy.test import taddons, tflow
from mitmproxy.websocket import WebSocketMessage
from wsproto.frame_protocol import Opcode

from proxy.hook.connections import HEAD, IDLE, ClientConnections, affordable


class Metrics:
    def __init__(self):
        self.refused, self.timed_out, self.open = Counter(), Counter(), []

    def connection_refused(self, reason: str) -> None:
        self.refused[reason] += 1

    def connection_timed_out(self, which: str) -> None:
        self.timed_out[which] += 1

    def connections_open(self, count: int) -> None:
        self.open.append(count)


class Handler:
    """Stands in for mitmproxy's ConnectionHandler: records that it was told to close."""

    def __init__(self):
        self.closed = asyncio.Event()

    async def on_timeout(self) -> None:
        self.closed.set()


class Proxyserver:
    """Stands in for mitmproxy's proxyserver addon: its map of live connections."""

    def __init__(self):
        self.connections: dict[str, Handler] = {}


def armed(conns: ClientConnections, client) -> tuple[str, float] | None:
    """(which deadline, seconds) armed for ``client``, or None."""
    state = conns._open[client.id]
    if state.timer is None:
        return None
    return state.deadline, round(state.timer.when() - asyncio.get_running_loop().time())


def in_a_loop(test):
    """Run an async test body in a fresh event loop (the addon arms loop timers)."""
    @functools.wraps(test)
    def run(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))
    return run


@pytest.fixture
def conns():
    return ClientConnections(Metrics(), head_timeout=30, idle_timeout=60, max_open=3)


@in_a_loop
async def test_http2_streams_keep_a_connection_busy_until_the_last_ends(conns):
    first, second = tflow.tflow(), tflow.tflow()
    second.client_conn = first.client_conn  # two streams of one HTTP/2 connection
    conns.client_connected(first.client_conn)
    assert armed(conns, first.client_conn) == (HEAD, 30)
    conns.requestheaders(first)
    conns.requestheaders(second)
    assert armed(conns, first.client_conn) is None
    conns.response(first)
    assert armed(conns, first.client_conn) is None  # the second stream is still in flight
    conns.error(second)
    assert armed(conns, first.client_conn) == (IDLE, 60)
    conns.client_disconnected(first.client_conn)
    assert conns.metrics.open == [0, 1, 0]


@in_a_loop
async def test_a_tunnel_gets_a_fresh_head_deadline_and_raw_tcp_none(conns):
    connect, inner = tflow.tflow(), tflow.ttcpflow()
    inner.client_conn = connect.client_conn
    conns.client_connected(connect.client_conn)
    conns.http_connect(connect)  # the CONNECT head counts as a head
    assert armed(conns, connect.client_conn) is None
    conns.http_connected(connect)  # TLS and the first request inside must come in time
    assert armed(conns, connect.client_conn) == (HEAD, 30)
    conns.tcp_start(inner)  # passed through: busy for its life, however quiet
    assert armed(conns, connect.client_conn) is None
    conns.tcp_end(inner)
    assert armed(conns, connect.client_conn) == (IDLE, 60)


@in_a_loop
async def test_a_websocket_is_busy_until_it_ends(conns):
    flow = tflow.twebsocketflow()
    conns.client_connected(flow.client_conn)
    conns.requestheaders(flow)
    conns.response(flow)  # the 101: the connection now carries the WebSocket
    assert armed(conns, flow.client_conn) is None
    conns.websocket_end(flow)
    assert armed(conns, flow.client_conn) == (IDLE, 60)


@in_a_loop
async def test_over_the_cap_a_connection_gets_an_error_and_is_counted(conns):
    flows = [tflow.tflow() for _ in range(4)]
    for f in flows:
        conns.client_connected(f.client_conn)
    assert [f.client_conn.error for f in flows[:3]] == [None, None, None]
    assert flows[3].client_conn.error == "over 3 open connections"  # mitmproxy closes it
    assert conns.metrics.refused == {"limit": 1}
    conns.client_disconnected(flows[3].client_conn)  # mitmproxy still reports it closing
    conns.client_disconnected(flows[0].client_conn)
    late = tflow.tflow()
    conns.client_connected(late.client_conn)
    assert late.client_conn.error is None
    assert conns.metrics.open == [0, 1, 2, 3, 2, 3]


@in_a_loop
async def test_an_expired_deadline_closes_that_connection_through_mitmproxy():
    conns = ClientConnections(Metrics(), head_timeout=0.05, idle_timeout=60, max_open=10)
    server = Proxyserver()
    quiet, busy = tflow.tflow(), tflow.tflow()
    with taddons.context(conns) as tctx:
        tctx.master.addons.add(server)
        for f in (quiet, busy):
            server.connections[f.client_conn.id] = Handler()
            conns.client_connected(f.client_conn)
        conns.requestheaders(busy)
        await asyncio.wait_for(server.connections[quiet.client_conn.id].closed.wait(), 30)
    assert not server.connections[busy.client_conn.id].closed.is_set()
    assert conns.metrics.timed_out == {HEAD: 1}


def test_the_cap_fits_the_open_files_limit():
    assert affordable(10_000, 1 << 20) == 10_000
    assert affordable(10_000, 1024) == (1024 - 256) // 2
    assert affordable(10_000, 100) == 1  # never zero: the proxy still serves someone


def test_long_lived_connections_keep_only_their_newest_message(conns):
    """mitmproxy appends every message to the flow; the hooks after ours read only the last."""
    ws, raw = tflow.twebsocketflow(), tflow.ttcpflow()
    for n in range(50):
        ws.websocket.messages.append(WebSocketMessage(Opcode.TEXT, n % 2 == 0, b"m%d" % n))
        conns.websocket_message(ws)
        raw.messages.append(TCPMessage(True, b"t%d" % n))
        conns.tcp_message(raw)
    assert [m.content for m in ws.websocket.messages] == [b"m49"]
    assert [m.content for m in raw.messages] == [b"t49"]
