"""SO_REUSEPORT for `--processes N`: what proxy/app/reuseport.py relies on in mitmproxy.

If a mitmproxy upgrade changes how a mode's TCP listener is opened, the pinned-source test
fails here, loudly, instead of N processes silently failing to share the port.
"""

from __future__ import annotations

import asyncio
import errno
import inspect

import pytest
from harness import free_port
from mitmproxy.proxy import mode_servers, mode_specs

from proxy.app import reuseport
from proxy.app.supervisor import SHARED_PORT_MODES

MODE_SPECS = {"regular": "regular", "transparent": "transparent",
              "upstream": "upstream:http://127.0.0.1:3128",
              "reverse": "reverse:https://example.com", "socks5": "socks5"}


def test_mitmproxy_internals_reuseport_relies_on() -> None:
    source = inspect.getsource(reuseport._original)
    assert "asyncio.start_server(self.handle_stream, host, port)" in source
    assert reuseport._original.__qualname__ == "AsyncioServerInstance.listen"
    assert "self._servers = await self.listen(host, port)" in inspect.getsource(
        mode_servers.AsyncioServerInstance._start)


@pytest.mark.parametrize("name", SHARED_PORT_MODES)
def test_every_shared_mode_opens_its_listener_through_the_patched_method(name) -> None:
    mode = mode_specs.ProxyMode.parse(MODE_SPECS[name])
    instance = mode_servers.ServerInstance.make(mode, manager=None)
    assert mode.transport_protocol in ("tcp", "both")  # reverse:https: TCP and HTTP/3
    assert isinstance(instance, mode_servers.AsyncioServerInstance)
    assert "listen" not in type(instance).__dict__  # no override of its own


def _listeners(mode: str, port: int, count: int) -> list[list[asyncio.Server]]:
    async def main():
        servers = []
        try:
            for _ in range(count):
                instance = mode_servers.ServerInstance.make(mode, manager=None)
                servers.append(await instance.listen("127.0.0.1", port))
        finally:
            for group in servers:
                for server in group:
                    server.close()
                    await server.wait_closed()
        return servers

    return asyncio.run(main())


def test_two_instances_share_a_port_once_installed() -> None:
    port = free_port()
    before = mode_servers.AsyncioServerInstance.listen
    try:
        reuseport.install()
        assert reuseport.installed()
        servers = _listeners("regular", port, 2)
    finally:
        mode_servers.AsyncioServerInstance.listen = before
    assert [len(group) for group in servers] == [1, 1]


def test_without_it_the_second_listener_fails() -> None:
    """The control: mitmproxy alone cannot share (so the test above proves the patch works)."""
    assert not reuseport.installed()
    with pytest.raises(OSError) as e:
        _listeners("regular", free_port(), 2)
    assert e.value.errno == errno.EADDRINUSE


def test_reverse_https_shares_only_its_tcp_listener() -> None:
    port = free_port()
    before = mode_servers.AsyncioServerInstance.listen
    try:
        reuseport.install()
        servers = _listeners("reverse:https://example.com", port, 2)
    finally:
        mode_servers.AsyncioServerInstance.listen = before
    assert [[type(s).__name__ for s in group] for group in servers] == [["Server"], ["Server"]]


def test_a_udp_mode_is_left_to_mitmproxy(monkeypatch) -> None:
    calls = []

    async def original(self, host, port):
        calls.append((host, port))
        return []

    monkeypatch.setattr(reuseport, "_original", original)
    monkeypatch.setattr(mode_servers.AsyncioServerInstance, "listen", reuseport._listen_shared)
    instance = mode_servers.ServerInstance.make("reverse:quic://example.com", manager=None)
    assert asyncio.run(instance.listen("127.0.0.1", 5353)) == []
    assert calls == [("127.0.0.1", 5353)]
