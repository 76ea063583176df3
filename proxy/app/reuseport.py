"""Several proxy processes on one port: mitmproxy's TCP listeners with ``SO_REUSEPORT``.

    reuseport.install()      # before the master starts its servers
    # every TCP listener mitmproxy opens from now on shares its port with the other
    # baomi processes (same user); the kernel spreads new connections between them

mitmproxy 12.3 opens a mode's TCP listener in one place,
``AsyncioServerInstance.listen`` (``asyncio.start_server(self.handle_stream, host, port)``),
with no way to pass socket options. We replace that one method: the TCP listener of
regular, transparent, upstream, reverse (http, https, tls, tcp) and socks5 modes is shared;
a reverse:https proxy's HTTP/3 (UDP) listener is not opened (clients fall back to TCP);
other modes are left to mitmproxy and ``supervisor.check_processes`` refuses them.
tests/test_reuseport.py pins the mitmproxy source this relies on.
"""

from __future__ import annotations

import asyncio

from mitmproxy.proxy import mode_servers

_original = mode_servers.AsyncioServerInstance.listen


async def _listen_shared(self, host: str, port: int):
    if self.mode.transport_protocol == "udp" or port == 0:
        return await _original(self, host, port)  # port 0: each process would get its own
    # "both" (reverse:https also offers HTTP/3 over UDP): mitmproxy_rs' UDP server takes no
    # socket options, so N processes cannot share it; clients use the TCP listener.
    return [await asyncio.start_server(self.handle_stream, host, port, reuse_port=True)]


def install() -> None:
    """Make every later TCP listener of mitmproxy's servers share its port (idempotent)."""
    mode_servers.AsyncioServerInstance.listen = _listen_shared  # type: ignore[method-assign]


def installed() -> bool:
    return mode_servers.AsyncioServerInstance.listen is _listen_shared
