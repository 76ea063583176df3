"""Connections mitmproxy's ``ignore_hosts`` / ``allow_hosts`` tunnel: recorded as passthrough.

    master.addons.add(..., NextLayer(), ..., baomi_addon, IgnoredHosts(baomi_addon))

mitmproxy's NextLayer addon turns an ignored connection into a TCP (or UDP) layer with no
flow: no hook of ours would ever fire and its data would leave unseen and unrecorded. This
addon runs after NextLayer (later in the chain), sees such a layer and records it exactly as
a policy ``passthrough`` is recorded (allow, rule ``passthrough``, uninspected
``passthrough``), counted in ``baomi_uninspected_total{reason="passthrough"}``. A connection
that cannot be recorded is not let through: it is closed before a byte goes upstream.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from mitmproxy import ctx
from mitmproxy.addons.next_layer import NextLayer
from mitmproxy.proxy import commands, layer, layers

from policies.facts import Decision, RequestFacts

log = logging.getLogger("baomi.ignored")


def is_ignored(found) -> bool:
    """NextLayer's ignore branch is the only one that builds a flow-less TCP/UDP layer."""
    return isinstance(found, (layers.TCPLayer, layers.UDPLayer)) and found.flow is None


def option_named() -> str:
    """Which mitmproxy option let the connection go, for the record's reason."""
    ignore, allow = ctx.options.ignore_hosts, ctx.options.allow_hosts
    if allow and not ignore:
        return "not in mitmproxy's allow_hosts option"
    if ignore and not allow:
        return "matched mitmproxy's ignore_hosts option"
    return "ignored by mitmproxy's ignore_hosts/allow_hosts options"


def sni_of(nextlayer: layer.NextLayer) -> str | None:
    try:  # the ClientHello NextLayer itself read (when the client speaks TLS first)
        hello = NextLayer._get_client_hello(nextlayer.context, nextlayer.data_client())
    except Exception:  # noqa: BLE001 - not TLS, or not a whole ClientHello: no SNI
        return None
    return hello.sni if hello else None


class IgnoredHosts:
    """Records every connection mitmproxy ignores; closes it when that fails."""

    def __init__(self, addon):
        self.addon = addon  # BaomiAddon: its recorder, metrics and tunnel identities

    def next_layer(self, nextlayer: layer.NextLayer) -> None:
        if not is_ignored(nextlayer.layer):
            return
        try:
            self._record(nextlayer)
        except Exception as e:  # noqa: BLE001 - not recorded means not let through
            log.error("ignored connection could not be recorded (%s); closing it",
                      type(e).__name__)
            nextlayer.layer = Closed(nextlayer.context)

    def _record(self, nextlayer: layer.NextLayer) -> None:
        context = nextlayer.context
        client, server = context.client, context.server.address
        facts = RequestFacts(
            source_ip=client.peername[0] if client.peername else "",
            host=(sni_of(nextlayer) or (server[0] if server else "")).lower().rstrip("."),
            port=server[1] if server else 0,
            scheme="https" if client.transport_protocol == "tcp" else "udp",
            method="CONNECT" if client.transport_protocol == "tcp" else "UDP", path="",
            time=datetime.now(UTC), destination_ip=server[0] if server else None,
        )
        facts = self.addon._tunnel_sender(client.id, facts)
        decision = Decision("allow", "passthrough", option_named())
        record = self.addon._record(facts, decision, None, time.monotonic(), "passthrough", None)
        self.addon.recorder.write(record)
        self.addon._observe(record)


class Closed(layer.Layer):
    """A layer that closes the client connection at once; nothing is sent upstream."""

    closed = False

    def _handle_event(self, event):
        if not self.closed:
            self.closed = True
            yield commands.CloseConnection(self.context.client)
