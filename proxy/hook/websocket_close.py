"""Closing a WebSocket from an addon hook with a close code and a reason.

    close_for_policy(flow, "BM-20261205T213000Z-9f3a1c2b")
        client gets   close 1008 "blocked by baomi, incident BM-20261205T213000Z-9f3a1c2b"
        upstream gets the same close frame; both connections end, ``websocket_end`` runs

mitmproxy 12.3 has no API for this: only messages can be injected, and ``flow.kill()`` is
checked by the HTTP layer only (mitmproxy#4773 is still open). Its ``WebsocketLayer``
(``proxy/layers/websocket.py``, ``relay_messages``) does the right thing when a *peer*
closes: it sends the wsproto ``CloseConnection`` on to the server and back to the client
through the layers below (so TLS is handled), then closes both connections. So we hand the
layer a close frame as if the client had sent it. This runs inside the ``websocket_message``
hook, while the layer is paused in its loop over the client's received frames: wsproto parses
the fed frame right after the hook returns, after any frames already buffered (each of those
is still inspected by the hook). The upstream learns that a policy closed the socket and the
incident id, never what the message held.

Returns False when the layer cannot be found (not a live WebSocket): the caller then cuts the
connection instead (fail closed).
"""

from __future__ import annotations

from mitmproxy import ctx, http
from mitmproxy.proxy.layer import Layer, NextLayer
from mitmproxy.proxy.layers.websocket import WebsocketLayer
from wsproto.connection import ConnectionState
from wsproto.frame_protocol import CloseReason, FrameProtocol

POLICY_VIOLATION = int(CloseReason.POLICY_VIOLATION)  # 1008, RFC 6455 section 7.4.1
MAX_REASON_BYTES = 123  # a control frame carries at most 125 bytes, 2 of them the code


def close_reason(incident_id: str | None) -> str:
    """``"blocked by baomi, incident BM-..."``, cut to 123 UTF-8 bytes on a character boundary."""
    reason = f"blocked by baomi, incident {incident_id}" if incident_id else "blocked by baomi"
    return reason.encode()[:MAX_REASON_BYTES].decode(errors="ignore")


def close_for_policy(flow: http.HTTPFlow, incident_id: str | None) -> bool:
    """Close the flow's WebSocket with 1008 and the incident id; False if it cannot be done."""
    layer = websocket_layer(flow)
    if layer is None or layer.client_ws.state is not ConnectionState.OPEN:
        return False
    frame = FrameProtocol(client=True, extensions=[]).close(POLICY_VIOLATION, close_reason(incident_id))
    layer.client_ws.receive_data(bytes(frame))  # masked, as a client's frame must be
    return True


def websocket_layer(flow: http.HTTPFlow) -> WebsocketLayer | None:
    """The live ``WebsocketLayer`` relaying ``flow``, found in its connection's layer tree."""
    server = ctx.master.addons.get("proxyserver")
    handler = server.connections.get(flow.client_conn.id) if server else None
    todo: list[Layer] = [handler.layer] if handler is not None else []
    seen: set[int] = set()
    while todo:
        layer = todo.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if isinstance(layer, WebsocketLayer) and layer.flow is flow:
            return layer
        todo.extend(_children(layer))
    return None


def _children(layer: Layer) -> list[Layer]:
    """Next layers down: a NextLayer's chosen layer, a tunnel's or stream's child, HTTP streams,
    and a layer that hands its events on by method only (``HttpProxy``: ``_handle_event =
    child_layer.handle_event``)."""
    children = [layer.layer] if isinstance(layer, NextLayer) else []
    children.append(getattr(layer, "child_layer", None))
    children.append(getattr(vars(layer).get("_handle_event"), "__self__", None))
    streams = getattr(layer, "streams", None)
    if isinstance(streams, dict):
        children.extend(streams.values())
    return [child for child in children if isinstance(child, Layer)]
