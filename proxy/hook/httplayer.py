"""mitmproxy's HTTP layer, adjusted: request bodies are limited, responses never are, and
a chunked message with trailers ends cleanly instead of crashing the connection.

mitmproxy applies ``body_size_limit`` and ``stream_large_bodies`` to requests *and*
responses (``HttpStream.check_body_size``). baomi inspects what leaves, not what comes
back, so a request limit must not turn every download over it into mitmproxy's 502, and
an oversize request must get baomi's own refusal (block page or JSON, with an incident),
promptly, instead of mitmproxy's bare 413 page or a client left waiting.

    install()   # once, before the master starts; idempotent

What changes (nothing else does):
- responses: no size check at all. The addon streams every response (``responseheaders``
  sets ``flow.response.stream``), so memory stays bounded by small buffers.
- a request over ``body_size_limit`` (known from Content-Length before any byte of the
  body, or counted while a chunked body is buffered) fires the ``baomi_oversize`` hook
  with the body still unread/partial. The addon records the refusal and sets
  ``flow.response``; that answer goes out at once, the rest of the body is read and
  dropped (HTTP/2: the stream is reset; HTTP/1: ``Connection: close`` once the client is
  done sending), and nothing is sent upstream. If no addon answers, mitmproxy's own 413 is sent as before.
- a request over ``stream_large_bodies`` (``on_oversize`` allow/monitor) fires the
  ``baomi_stream`` hook before mitmproxy streams any of its body upstream: the addon writes
  the record the request needs there; an answer it sets (503: the record failed) goes out
  like an oversize refusal, and nothing is sent upstream.

A request body has a deadline (``BodyDeadline``; ``baomi run --body-timeout/--body-min-rate``).
A body that has not arrived in time is cut: the client gets 408 (HTTP/1: then the
connection is closed; HTTP/2: that stream is reset, the connection's other streams go on),
nothing of it is forwarded (the body is buffered until it is whole, so the upstream was
never even contacted), and the ``error`` hook sees ``flow.error`` = ``BODY_TIMED_OUT``: the
addon records the refusal, ``ClientConnections`` counts it. A body mitmproxy streams
upstream as it arrives (``stream_large_bodies``: over ``max_body_bytes`` with ``on_oversize``
allow/monitor) has the same deadline; there the upstream request is aborted mid-body (its
connection closed, or its HTTP/2 stream reset), so the upstream never reads it as complete,
and the client gets the 408 if no response has started.

Trailers: mitmproxy's HTTP/1 reader raises NotImplementedError when a chunked body ends
with trailer fields ("mitmproxy has crashed", ~11 KB of log, the client left hanging and
two descriptors held). A *request* with trailers is answered 400 and refused (its trailers
could carry data that HTTP/1 cannot forward inspected); the refusal reaches the addon's
``error`` hook, which records it. A *response* with trailers is delivered whole with its
trailer fields: read apart from the body (``_TrailerReader``) and passed on as mitmproxy's
HTTP/2 layer passes them (``ResponseTrailers`` before the end of the message), they are
written after the last chunk to an HTTP/1 client (mitmproxy 12.3's HTTP/1 server has no
branch for them) and as trailers to an HTTP/2 one. A response the client gets unchunked
(from an HTTP/2 upstream) cannot carry them: there they are dropped, as before.

This reaches into mitmproxy internals (pinned version): ``tests/test_httplayer.py``
checks the names and signatures it relies on, so an upgrade that moves them fails loudly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

import h11  # mitmproxy's HTTP/1 parser: its body readers return h11 events
from mitmproxy import flow as mflow
from mitmproxy import http
from mitmproxy.net.http.http1 import expected_http_body_size
from mitmproxy.proxy import commands, events, layer
from mitmproxy.proxy.layers import http as http_layers
from mitmproxy.proxy.layers.http import (
    DropStream,
    ErrorCode,
    HttpStream,
    ReceiveHttp,
    SendHttp,
)
from mitmproxy.proxy.layers.http._events import (
    RequestData,
    RequestEndOfMessage,
    RequestHeaders,
    RequestProtocolError,
    ResponseData,
    ResponseEndOfMessage,
    ResponseHeaders,
    ResponseProtocolError,
    ResponseTrailers,
)
from mitmproxy.proxy.layers.http._hooks import HttpErrorHook, HttpRequestHeadersHook
from mitmproxy.proxy.layers.http._http1 import Http1Client, Http1Server
from mitmproxy.utils import human

from proxy.hook.connections import BODY_MIN_RATE, BODY_TIMED_OUT, BODY_TIMEOUT


@dataclass(frozen=True)
class BodyDeadline:
    """When a request body must have arrived: ``timeout`` s after its head, plus 1 s for
    every ``min_rate`` bytes received so far (Apache mod_reqtimeout's ``body=20,MinRate=500``
    rule; ``min_rate`` 0: a fixed total).

    >>> BodyDeadline(60, 500).seconds(received=0), BodyDeadline(60, 500).seconds(received=30)
    (60.0, 60.06)
    >>> BodyDeadline(60, 500).seconds(received=100_000_000)   # 100 MB: 84 s at 10 Mbit/s
    200060.0

    Why a rate and not only a total: a trickle of one byte a second is cut after ~60 s, yet
    an upload of any size passes at any speed over 500 B/s (4 kbit/s). A 100 MB upload needs
    84 s at 10 Mbit/s and 14 min at 1 Mbit/s; a fixed total of 120 s would cut it below
    ~7 Mbit/s, and no single total both stops tricklers soon and lets big uploads over slow
    links through. nginx's ``client_body_timeout`` (60 s between two reads) never cuts one
    byte a second. The price: a sender keeping just over ``min_rate`` holds its connection
    for up to ``timeout + max_body_bytes / min_rate`` (10 MiB at 500 B/s: ~5.8 h), as under
    Apache; ``--max-connections`` still caps how many do.
    """

    timeout: float = BODY_TIMEOUT
    min_rate: int = BODY_MIN_RATE

    def seconds(self, received: int) -> float:
        return self.timeout + (received / self.min_rate if self.min_rate > 0 else 0.0)


class _Spent:
    """Stands in for a stream whose body deadline no longer matters: the wakeup it asked for
    still arrives (mitmproxy cannot cancel one) and is dropped here, so the finished stream
    and its flow (body included) are not kept alive until then."""

    @staticmethod
    def handle_event(event: events.Event) -> layer.CommandGenerator[None]:
        yield from ()


_SPENT = _Spent()


@dataclass
class OversizeHook(commands.StartHook):
    """A request body is over ``body_size_limit``; the body is not (fully) read.

    An addon answers by setting ``flow.response``; the body is never forwarded.
    """

    name = "baomi_oversize"
    flow: http.HTTPFlow


@dataclass
class StreamHook(commands.StartHook):
    """A request body over ``stream_large_bodies`` is about to stream upstream uninspected
    (``on_oversize`` allow/monitor); nothing of it has gone yet.

    The addon writes the record the request needs here, before any byte goes upstream; an
    answer it sets (``flow.response``: the record failed, 503) refuses the body instead.
    """

    name = "baomi_stream"
    flow: http.HTTPFlow


class LimitedRequestStream(HttpStream):
    """``HttpStream`` whose size checks apply to request bodies only, and whose request body
    has a deadline (see module doc)."""

    deadline: ClassVar[BodyDeadline] = BodyDeadline()  # set by install()
    _wakeup: commands.RequestWakeup | None = None  # the pending one while a body is awaited
    _body_since = 0.0  # time.monotonic() when the head arrived
    _received = 0  # body bytes so far (a streamed body is not kept)

    # -- the body deadline --

    def _handle_event(self, event: events.Event) -> layer.CommandGenerator[None]:
        if isinstance(event, events.Wakeup):
            yield from self._body_overdue(event)
            return
        if self._wakeup is not None:
            if isinstance(event, RequestData):
                self._received += len(event.data)
            elif isinstance(event, (RequestEndOfMessage, RequestProtocolError)):
                self._release()  # whole, or ended otherwise: the deadline is moot
        yield from super()._handle_event(event)

    def state_wait_for_request_headers(self, event: RequestHeaders
                                       ) -> layer.CommandGenerator[None]:
        since = time.monotonic()
        yield from super().state_wait_for_request_headers(event)
        if event.end_stream or self.client_state not in (self.state_consume_request_body,
                                                          self.state_stream_request_body):
            return
        # The body read with the head waits in the queue while the requestheaders hook ran
        # (mitmproxy's check_killed peeks at it too): a body already whole needs no timer,
        # which spares the common small POST a task.
        if any(isinstance(e, RequestEndOfMessage) for e in self._paused_event_queue):
            return
        self._body_since = since
        yield from self._arm(self.deadline.timeout)

    def _arm(self, delay: float) -> layer.CommandGenerator[None]:
        self._wakeup = commands.RequestWakeup(max(delay, 0.0))
        yield self._wakeup

    def _release(self) -> None:
        """Point the pending wakeup at ``_SPENT`` in the HTTP layer that routes it back."""
        wakeup, self._wakeup = self._wakeup, None
        layers = self.context.layers
        parent = layers[layers.index(self) - 1]  # as HttpStream.mode finds its HttpLayer
        assert isinstance(parent, http_layers.HttpLayer)
        if wakeup is not None and parent.command_sources.get(wakeup) is self:
            parent.command_sources[wakeup] = _SPENT  # type: ignore[assignment]

    def _body_overdue(self, event: events.Wakeup) -> layer.CommandGenerator[None]:
        if event.command is not self._wakeup:
            return  # one from before a re-arm or a release: nothing to do
        self._wakeup = None
        if self.client_state not in (self.state_consume_request_body,
                                     self.state_stream_request_body):
            return
        left = self._body_since + self.deadline.seconds(self._received) - time.monotonic()
        if left > 0:  # bytes came in meanwhile and moved the deadline
            yield from self._arm(left)
            return
        yield from self._refuse_late_body()

    def _refuse_late_body(self) -> layer.CommandGenerator[None]:
        """408 and the end of this request: nothing of the body goes (or went whole) upstream."""
        streamed = self.client_state == self.state_stream_request_body
        answered = self.server_state != self.state_wait_for_response_headers
        self.client_state = self.state_errored
        self.request_body_buf.clear()
        if streamed:  # the upstream has the head and part of the body: never let it end
            yield SendHttp(RequestProtocolError(self.stream_id, BODY_TIMED_OUT,
                                                ErrorCode.GENERIC_CLIENT_ERROR),
                           self.context.server)
        self.server_state = self.state_errored
        self.flow.error = mflow.Error(BODY_TIMED_OUT)
        yield HttpErrorHook(self.flow)  # recorded by the addon, counted by ClientConnections
        http2 = self.flow.request.is_http2 or self.flow.request.is_http3
        if not answered:
            yield from self._send_408(http2)
        if http2:  # this stream only: the connection's other streams go on
            yield SendHttp(ResponseProtocolError(self.stream_id, BODY_TIMED_OUT,
                                                 ErrorCode.CANCEL), self.context.client)
        else:  # the rest of the body would arrive as garbage: the connection ends here
            yield commands.CloseConnection(self.context.client)
        self.flow.live = False
        yield DropStream(self.stream_id)

    def _send_408(self, http2: bool) -> layer.CommandGenerator[None]:
        body = b"baomi: the request body did not arrive in time\n"
        headers = {"content-type": "text/plain; charset=utf-8"}
        if not http2:
            headers["connection"] = "close"
        response = http.Response.make(408, body, headers)
        yield SendHttp(ResponseHeaders(self.stream_id, response), self.context.client)
        yield SendHttp(ResponseData(self.stream_id, body), self.context.client)
        yield SendHttp(ResponseEndOfMessage(self.stream_id), self.context.client)

    # -- the size limit --

    def check_body_size(self, request: bool) -> layer.CommandGenerator[bool]:
        if not request:
            return False
        limit = human.parse_size(self.context.options.body_size_limit)
        size = self._request_size()
        if limit is not None and size is not None and size > limit:
            yield from self._refuse_oversize()
            return True
        return (yield from super().check_body_size(True))

    def _request_size(self) -> int | None:
        if self.request_body_buf:
            return len(self.request_body_buf)
        try:
            size = expected_http_body_size(self.flow.request, None)
        except ValueError:  # a malformed Content-Length is mitmproxy's parser's to refuse
            return None
        return size if size and size > 0 else None

    def _refuse_oversize(self) -> layer.CommandGenerator[None]:
        if not self.request_body_buf:  # the early case: headers hook not run yet
            yield HttpRequestHeadersHook(self.flow)
        self.request_body_buf.clear()
        yield OversizeHook(self.flow)
        self.client_state = self.state_errored  # read and drop whatever else the client sends
        if self.flow.response is None or self.flow.error:
            yield from self._mitmproxy_413()
            return
        yield from self._answer_refusal()

    def start_request_stream(self) -> layer.CommandGenerator[None]:
        """mitmproxy streams the body from here (early: after requestheaders, from its
        Content-Length; late: from ``check_body_size`` once a chunked body outgrew the limit):
        the ``baomi_stream`` hook runs first, and an answer it sets goes out instead."""
        yield StreamHook(self.flow)
        if (yield from self.check_killed(True)):
            return
        if self.flow.response is None:
            yield from super().start_request_stream()
            return
        self.request_body_buf.clear()
        self.client_state = self.state_errored  # read and drop whatever else the client sends
        yield from self._answer_refusal()

    def _answer_refusal(self) -> layer.CommandGenerator[None]:
        """Send the addon's ``flow.response`` for a request whose body is not forwarded."""
        assert self.flow.response is not None
        http2 = self.flow.request.is_http2 or self.flow.request.is_http3
        if not http2:
            # HTTP/1: the connection ends after this exchange; the rest of the body is read
            # and dropped meanwhile (no reset while the client still sends: it could lose
            # the answer). The connection layer may already have read the whole request.
            self.flow.response.headers["connection"] = "close"
        yield from self.send_response()
        yield from self.flow_done()
        if http2:  # the client may stop sending: "no need for the rest of the body"
            yield SendHttp(
                ResponseProtocolError(self.stream_id, "request body over the limit",
                                      ErrorCode.REQUEST_TOO_LARGE),
                self.context.client,
            )
        self.flow.live = False

    def _mitmproxy_413(self) -> layer.CommandGenerator[None]:
        message = "Request body exceeds mitmproxy's body_size_limit."
        self.flow.error = mflow.Error(message)
        yield HttpErrorHook(self.flow)
        yield SendHttp(ResponseProtocolError(self.stream_id, message, ErrorCode.REQUEST_TOO_LARGE),
                       self.context.client)
        self.flow.live = False


TRAILERS_REFUSED = "chunked request trailers are not accepted"


class TrailerRefusingServer(Http1Server):
    """Client side: a request whose chunked body ends with trailers -> 400, then closed; a
    chunked response's trailer fields are written after its last chunk."""

    trailers: http.Headers | None = None  # of the response being sent

    def send(self, event) -> layer.CommandGenerator[None]:
        if isinstance(event, ResponseTrailers):  # between the last data and the end
            self.trailers = passable(event.trailers)  # from an HTTP/2 upstream too
            return
        if isinstance(event, (ResponseHeaders, ResponseEndOfMessage)):
            trailers, self.trailers = self.trailers, None  # never another response's
            if trailers and isinstance(event, ResponseEndOfMessage) and self._chunked_reply():
                yield commands.SendData(self.conn, b"0\r\n" + bytes(trailers) + b"\r\n")
                yield from self.mark_done(response=True)
                return
        yield from super().send(event)

    def _chunked_reply(self) -> bool:
        """Is the response going out chunked (``Http1Server.send``'s own test)?"""
        assert self.request is not None and self.response is not None
        return (self.request.method.upper() != "HEAD"
                and "chunked" in self.response.headers.get("transfer-encoding", "").lower())

    def read_body(self, event: events.Event) -> layer.CommandGenerator[None]:
        try:
            yield from super().read_body(event)
        except NotImplementedError:  # h11 read trailer fields (see module doc)
            body = f"baomi: {TRAILERS_REFUSED}\n".encode()
            head = (b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n"
                    b"connection: close\r\ncontent-length: %d\r\n\r\n" % len(body))
            yield commands.SendData(self.conn, head + body)
            yield commands.CloseConnection(self.conn)
            self.state = self.done
            yield ReceiveHttp(RequestProtocolError(self.stream_id, TRAILERS_REFUSED,
                                                   code=ErrorCode.GENERIC_CLIENT_ERROR))


class TrailerForwardingClient(Http1Client):
    """Server side: a response whose chunked body ends with trailers ends there, and its
    trailer fields go on (``ResponseTrailers``, just before its end)."""

    def read_body(self, event: events.Event) -> layer.CommandGenerator[None]:
        current = self.body_reader  # read_headers sets one per response: wrapped once
        reader = current if isinstance(current, _TrailerReader) else _TrailerReader(current)
        self.body_reader = reader  # type: ignore[assignment]
        # mitmproxy's read_body yields only non-blocking commands: none waits for a reply.
        for command in super().read_body(event):
            if (reader.trailers and isinstance(command, ReceiveHttp)
                    and isinstance(command.event, ResponseEndOfMessage)):
                yield ReceiveHttp(ResponseTrailers(command.event.stream_id, reader.trailers))
            yield command


class _TrailerReader:
    """A body reader that keeps the trailer fields of a chunked body apart: mitmproxy's
    ``read_body`` raises NotImplementedError on an end of message that has some."""

    def __init__(self, reader):
        self.reader = reader
        self.trailers: http.Headers | None = None

    def __call__(self, buf):
        got = self.reader(buf)
        if isinstance(got, h11.EndOfMessage) and got.headers:
            self.trailers = passable(http.Headers(list(got.headers.raw_items())))
            return h11.EndOfMessage()
        return got

    def read_eof(self):
        return self.reader.read_eof()


# Trailer fields no recipient may act on: framing, routing and connection control (RFC 9110
# 6.5.1; RFC 9113 8.2.2 makes the connection-specific ones malformed in HTTP/2, where h2
# would refuse to send them). A client that merges trailers into the header section must not
# be handed a second Content-Length, a Host or a Connection: close by the upstream.
FORBIDDEN_TRAILERS = frozenset({
    "content-length", "transfer-encoding", "host", "connection", "keep-alive",
    "proxy-connection", "te", "trailer", "upgrade",
})


def passable(trailers: http.Headers) -> http.Headers | None:
    """``trailers`` without the forbidden fields; None when none is left.

    >>> passable(http.Headers([(b"x-sum", b"1"), (b"Content-Length", b"5")])).fields
    ((b'x-sum', b'1'),)
    >>> passable(http.Headers([(b"Host", b"evil.example")])) is None
    True
    """
    kept = [(k, v) for k, v in trailers.fields
            if k.decode("latin-1").lower() not in FORBIDDEN_TRAILERS]
    return http.Headers(kept) if kept else None


def install(deadline: BodyDeadline | None = None) -> None:
    """Make mitmproxy's HTTP layer use the classes above (idempotent); ``deadline``: the
    request bodies' (default ``BodyDeadline()``: 60 s + 1 s per 500 bytes)."""
    LimitedRequestStream.deadline = deadline or BodyDeadline()
    http_layers.HttpStream = LimitedRequestStream  # type: ignore[misc]
    http_layers.Http1Server = TrailerRefusingServer  # type: ignore[misc]
    http_layers.Http1Client = TrailerForwardingClient  # type: ignore[misc]
