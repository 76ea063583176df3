"""IgnoredHosts: a connection mitmproxy ignores that cannot be recorded is closed, not tunnelled."""

from __future__ import annotations

from mitmproxy import connection
from mitmproxy.proxy import commands, context, layer, layers
from mitmproxy.test import taddons, tflow

from proxy.hook.ignored import Closed, IgnoredHosts, is_ignored


class _Failing:
    """A BaomiAddon whose recorder cannot write."""

    def _tunnel_sender(self, connection_id, facts):
        return facts

    def _record(self, *args):
        return "record"

    class recorder:  # stands in for the attribute
        @staticmethod
        def write(record):
            raise OSError("disk full")

    def _observe(self, record):
        raise AssertionError("not recorded, not counted")


def _nextlayer(ignore: bool, opts) -> layer.NextLayer:
    client = tflow.tclient_conn()
    ctx = context.Context(client, opts)
    ctx.server = connection.Server(address=("127.0.0.1", 443))
    found = layer.NextLayer(ctx)
    found.layer = layers.TCPLayer(ctx, ignore=ignore)
    return found


def test_unrecordable_ignored_connection_is_closed():
    with taddons.context() as tctx:
        tctx.options.update(ignore_hosts=["^127\\.0\\.0\\.1:443$"])
        found = _nextlayer(True, tctx.options)
        IgnoredHosts(_Failing()).next_layer(found)
        assert isinstance(found.layer, Closed)
        [command] = list(found.layer.handle_event(_start()))
        assert isinstance(command, commands.CloseConnection)
        assert command.connection is found.context.client


def test_a_tcp_layer_that_is_not_ignored_is_left_alone():
    with taddons.context() as tctx:
        found = _nextlayer(False, tctx.options)
        assert not is_ignored(found.layer)
        IgnoredHosts(_Failing()).next_layer(found)  # recording would fail and close it
        assert isinstance(found.layer, layers.TCPLayer)


def _start():
    from mitmproxy.proxy import events

    return events.Start()
