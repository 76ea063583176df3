"""The request body's deadline inside mitmproxy's HTTP layer (proxy/hook/httplayer.py), driven
event by event as mitmproxy's connection handler drives it (hooks and connections complete
after the data that arrived with them has been read).

What the end-to-end tests (test_e2e_body_deadline.py) cannot see: that a body whole with its
head asks for no timer, that a finished stream is not kept alive by its pending wakeup, that
bytes received move the deadline, and that a body streamed upstream is aborted there.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest
from mitmproxy.addons import proxyserver
from mitmproxy.proxy import commands, context, events, layer
from mitmproxy.proxy.layers import http as http_layers
from mitmproxy.proxy.layers.http._hooks import HttpErrorHook
from mitmproxy.proxy.mode_specs import ProxyMode
from mitmproxy.test import taddons, tflow

from proxy.hook import httplayer
from proxy.hook.connections import BODY_TIMED_OUT
from proxy.hook.httplayer import BodyDeadline

HEAD = b"POST http://example.com/up HTTP/1.1\r\nHost: example.com\r\nContent-Length: 10\r\n\r\n"


class Driver:
    """One client connection's HttpLayer, fed events; hooks and upstream connections are
    answered after the event that asked for them has been handled, as the real handler does
    (their answers arrive in a later loop turn, after the data read with them)."""

    def __init__(self, options):
        self.client = tflow.tclient_conn()
        self.client.proxy_mode = ProxyMode.parse("regular")
        self.layer = http_layers.HttpLayer(context.Context(self.client, options),
                                           http_layers.HTTPMode.regular)
        self.commands: list[commands.Command] = []
        self.feed(events.Start())

    def feed(self, event: events.Event) -> list[commands.Command]:
        """Handle ``event`` and every answer it leads to; the commands, in order."""
        start, pending = len(self.commands), [event]
        while pending:
            answers = []
            for command in self.layer.handle_event(pending.pop(0)):
                self.commands.append(command)
                if isinstance(command, commands.StartHook):
                    answers.append(events.HookCompleted(command))
                elif isinstance(command, commands.OpenConnection):
                    answers.append(events.OpenConnectionCompleted(command, None))
            pending += answers
        return self.commands[start:]

    def data(self, data: bytes) -> list[commands.Command]:
        return self.feed(events.DataReceived(self.client, data))

    def wakeups(self) -> list[commands.RequestWakeup]:
        return [c for c in self.commands if isinstance(c, commands.RequestWakeup)]


@pytest.fixture
def options() -> Iterator:
    with taddons.context(proxyserver.Proxyserver()) as tctx:
        yield tctx.options
    httplayer.install()  # back to the default deadline for the tests after this one


def sent(cmds: list[commands.Command], connection) -> bytes:
    return b"".join(c.data for c in cmds
                    if isinstance(c, commands.SendData) and c.connection is connection)


def test_a_body_whole_with_its_head_asks_for_no_timer(options):
    httplayer.install(BodyDeadline(60, 500))
    driver = Driver(options)
    driver.data(HEAD + b"0123456789")
    assert driver.wakeups() == []
    assert any(isinstance(c, commands.OpenConnection) for c in driver.commands)  # forwarded


def test_a_finished_stream_is_not_kept_by_its_pending_wakeup(options):
    httplayer.install(BodyDeadline(60, 500))
    driver = Driver(options)
    driver.data(HEAD + b"01234")
    (wakeup,) = driver.wakeups()
    assert wakeup.delay == 60
    stream = driver.layer.command_sources[wakeup]
    assert isinstance(stream, httplayer.LimitedRequestStream)
    driver.data(b"56789")  # whole: forwarded, the deadline is moot
    assert driver.layer.command_sources[wakeup] is httplayer._SPENT
    assert driver.feed(events.Wakeup(wakeup)) == []  # when it fires at last: nothing


def test_a_late_body_gets_408_the_connection_closed_and_nothing_forwarded(options):
    httplayer.install(BodyDeadline(0, 0))  # due at once
    driver = Driver(options)
    driver.data(HEAD + b"01")
    (wakeup,) = driver.wakeups()
    flow = driver.layer.command_sources[wakeup].flow
    after = driver.feed(events.Wakeup(wakeup))
    assert [type(c) for c in after if isinstance(c, commands.StartHook)] == [HttpErrorHook]
    assert flow.error.msg == BODY_TIMED_OUT and flow.response is None  # the addon records it
    assert sent(after, driver.client).startswith(b"HTTP/1.1 408 ")
    assert isinstance(after[-1], commands.CloseConnection) and after[-1].connection is driver.client
    assert not any(isinstance(c, commands.OpenConnection) for c in driver.commands)
    late = driver.data(b"23456789")  # what was in flight before the close: dropped
    assert not any(isinstance(c, (commands.SendData, commands.OpenConnection)) for c in late)


def test_bytes_received_move_the_deadline(options):
    httplayer.install(BodyDeadline(0, 1))  # 1 s per byte received, nothing else
    driver = Driver(options)
    driver.data(HEAD)
    (first,) = driver.wakeups()
    driver.data(b"0123")  # 4 s earned
    again = driver.feed(events.Wakeup(first))
    (second,) = [c for c in again if isinstance(c, commands.RequestWakeup)]
    assert 3 < second.delay <= 4
    assert not any(isinstance(c, commands.SendData) for c in again)


def test_a_streamed_body_is_aborted_upstream_so_it_never_reads_as_whole(options):
    """Over stream_large_bodies (baomi's on_oversize allow/monitor) the body goes upstream as
    it arrives; at the deadline the upstream connection is closed mid-body."""
    options.update(stream_large_bodies="5")
    httplayer.install(BodyDeadline(0, 0))
    driver = Driver(options)
    driver.data(HEAD + b"01234567")
    (open_upstream,) = [c for c in driver.commands if isinstance(c, commands.OpenConnection)]
    server = open_upstream.connection
    assert sent(driver.commands, server).endswith(b"\r\n\r\n01234567")  # 8 of 10 bytes
    (wakeup,) = driver.wakeups()
    after = driver.feed(events.Wakeup(wakeup))
    assert [c for c in after if isinstance(c, commands.CloseConnection)
            and c.connection is server], "the upstream request was not aborted"
    assert sent(after, server) == b""  # not a byte more
    assert sent(after, driver.client).startswith(b"HTTP/1.1 408 ")  # no response had begun


def test_mitmproxy_internals_the_deadline_relies_on():
    """An upgrade that moves these fails here, loudly: a wakeup is routed back to the stream
    that asked (HttpLayer.command_sources), the events read with a head wait in the stream's
    queue while its hook runs (Layer._paused_event_queue), a stream finds its HttpLayer one
    place up its context's layers (HttpStream.mode), and a client disconnect cancels the
    connection's wakeup tasks."""
    from mitmproxy.proxy import server

    source = inspect.getsource(http_layers.HttpLayer.event_to_child)
    assert "isinstance(command, commands.RequestWakeup)" in source
    assert "self.command_sources[command] = child" in source
    assert "self.command_sources.pop(event.command)" in inspect.getsource(
        http_layers.HttpLayer._handle_event)
    assert "self._paused_event_queue" in inspect.getsource(layer.Layer.handle_event)
    assert "parent = self.context.layers[i - 1]" in inspect.getsource(
        http_layers.HttpStream.mode.func)
    assert "self.wakeup_timer.pop()" in inspect.getsource(server.ConnectionHandler.handle_client)
    for state in ("state_consume_request_body", "state_stream_request_body", "state_errored",
                  "state_wait_for_response_headers", "state_wait_for_request_headers"):
        assert hasattr(http_layers.HttpStream, state), state


def test_the_deadline_rule():
    rule = BodyDeadline(60, 500)
    assert [rule.seconds(n) for n in (0, 500, 100_000_000)] == [60, 61, 200_060]
    assert BodyDeadline(120, 0).seconds(10**9) == 120  # min_rate 0: a fixed total
