"""Raw-socket HTTP/1.1 and HTTP/2 clients for the connection and deadline tests.

What a slow, broken or hostile client sends, byte by byte, where httpx would hide it: a head
that never ends, a body trickled a byte at a time, a CONNECT tunnel that speaks HTTP/2 by hand.
Every read gives up after GIVE_UP seconds, so only a proxy that never closes reaches it.
"""

from __future__ import annotations

import select
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from harness import BaomiProcess

GIVE_UP = 60  # far beyond any deadline of the tests
TRICKLE_EVERY = 0.2  # seconds between two sends of a trickle (5 B/s: far below any min rate)


@contextmanager
def connection(px: BaomiProcess) -> Iterator[socket.socket]:
    """A plain TCP connection to the proxy's port."""
    with socket.create_connection(("127.0.0.1", px.port), timeout=GIVE_UP) as s:
        yield s


def trickle_until_closed(s: socket.socket, pending: bytes = b"", every: float = TRICKLE_EVERY,
                         chunk: int = 1) -> bytes:
    """Send ``pending`` ``chunk`` bytes every ``every`` s until the proxy closes the connection;
    return what it sent before its EOF. Fails if the connection is still open after GIVE_UP s.

    A send that fails (the proxy closed) does not end the loop: what the proxy answered before
    closing is still read."""
    received, deadline, rest = b"", time.monotonic() + GIVE_UP, memoryview(pending)
    while time.monotonic() < deadline:
        readable, _, _ = select.select([s], [], [], every)
        if readable:
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                return received
            if not data:
                return received
            received += data
        elif rest:
            try:
                s.sendall(rest[:chunk])
            except (BrokenPipeError, ConnectionResetError):
                continue
            rest = rest[chunk:]
    raise AssertionError("the proxy kept the connection open")


def read_head(s: socket.socket) -> bytes:
    """One response head, up to and including its blank line; not a byte more is read."""
    data = b""
    while b"\r\n\r\n" not in data:
        got = s.recv(1)
        assert got, f"closed before a whole head: {data!r}"
        data += got
    return data


def read_response(s: socket.socket) -> bytes:
    """One whole HTTP/1.1 response with Content-Length (what the upstreams and refusals send)."""
    head = read_head(s)
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    body = b""
    while len(body) < length:
        got = s.recv(length - len(body))
        assert got, "closed inside the response body"
        body += got
    return head + body


def chunked(data: bytes) -> bytes:
    """``data`` as one chunk of a chunked body."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


@contextmanager
def h2_through(px: BaomiProcess, authority: str) -> Iterator[tuple[ssl.SSLSocket, Any]]:
    """An HTTP/2 connection to ``authority`` through the proxy (CONNECT, then TLS with ALPN h2
    against baomi's CA): the TLS socket and its h2 ``H2Connection``."""
    import h2.config
    import h2.connection

    with connection(px) as raw:
        raw.sendall(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode())
        assert read_head(raw).startswith(b"HTTP/1.1 200")
        context = ssl.create_default_context(cafile=px.ca_pem)
        context.set_alpn_protocols(["h2"])
        with context.wrap_socket(raw, server_hostname=authority.rsplit(":", 1)[0]) as tls:
            assert tls.selected_alpn_protocol() == "h2"
            conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
            conn.initiate_connection()
            tls.sendall(conn.data_to_send())
            yield tls, conn


def h2_events_until(tls: ssl.SSLSocket, conn: Any, done: Callable[[list], bool]) -> list:
    """Read HTTP/2 events until ``done(events)``; fails after GIVE_UP s or on EOF."""
    seen: list = []
    tls.settimeout(GIVE_UP)
    while not done(seen):
        data = tls.recv(65536)
        assert data, f"connection closed; events so far: {seen}"
        seen += conn.receive_data(data)
        if out := conn.data_to_send():
            tls.sendall(out)
    return seen


def h11_exchange(sock: socket.socket, client: Any, request: Any) -> list:
    """Send ``request`` through ``client`` (an h11 client connection) and read the response's
    events up to its end (EndOfMessage carries the trailer fields)."""
    import h11

    sock.sendall(client.send(request) + client.send(h11.EndOfMessage()))
    events: list = []
    while not events or not isinstance(events[-1], h11.EndOfMessage):
        event = client.next_event()
        if event is h11.NEED_DATA:
            client.receive_data(sock.recv(65536))
        else:
            events.append(event)
    return events
