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

Trailers: mitmproxy's HTTP/1 reader raises NotImplementedError when a chunked body ends
with trailer fields ("mitmproxy has crashed", ~11 KB of log, the client left hanging and
two descriptors held). A *request* with trailers is answered 400 and refused (its trailers
could carry data that HTTP/1 cannot forward inspected); the refusal reaches the addon's
``error`` hook, which records it. A *response* with trailers is delivered whole, its
trailer fields dropped (mitmproxy cannot send HTTP/1 trailers; clients rarely read them).

This reaches into mitmproxy internals (pinned version): ``tests/test_httplayer.py``
checks the names and signatures it relies on, so an upgrade that moves them fails loudly.
"""

from __future__ import annotations

from dataclasses import dataclass

from mitmproxy import flow as mflow
from mitmproxy import http
from mitmproxy.net.http.http1 import expected_http_body_size
from mitmproxy.proxy import commands, events, layer
from mitmproxy.proxy.layers import http as http_layers
from mitmproxy.proxy.layers.http import ErrorCode, HttpStream, ReceiveHttp, SendHttp
from mitmproxy.proxy.layers.http._events import (
    RequestProtocolError,
    ResponseEndOfMessage,
    ResponseProtocolError,
)
from mitmproxy.proxy.layers.http._hooks import HttpErrorHook, HttpRequestHeadersHook
from mitmproxy.proxy.layers.http._http1 import Http1Client, Http1Server
from mitmproxy.utils import human


@dataclass
class OversizeHook(commands.StartHook):
    """A request body is over ``body_size_limit``; the body is not (fully) read.

    An addon answers by setting ``flow.response``; the body is never forwarded.
    """

    name = "baomi_oversize"
    flow: http.HTTPFlow


class LimitedRequestStream(HttpStream):
    """``HttpStream`` whose size checks apply to request bodies only (see module doc)."""

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
    """Client side: a request whose chunked body ends with trailers -> 400, then closed."""

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


class TrailerDroppingClient(Http1Client):
    """Server side: a response whose chunked body ends with trailers ends there."""

    def read_body(self, event: events.Event) -> layer.CommandGenerator[None]:
        try:
            yield from super().read_body(event)
        except NotImplementedError:  # the body is complete; only the trailer fields are lost
            assert self.stream_id is not None  # set while a response is being read
            yield ReceiveHttp(ResponseEndOfMessage(self.stream_id))
            yield from self.mark_done(response=True)


def install() -> None:
    """Make mitmproxy's HTTP layer use the classes above (idempotent)."""
    http_layers.HttpStream = LimitedRequestStream  # type: ignore[misc]
    http_layers.Http1Server = TrailerRefusingServer  # type: ignore[misc]
    http_layers.Http1Client = TrailerDroppingClient  # type: ignore[misc]
