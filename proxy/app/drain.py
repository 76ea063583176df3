"""SIGTERM drains: stop accepting, let the requests in flight finish, then stop.

    drain = Drain(grace=10.0)
    master.addons.add(drain)
    loop.add_signal_handler(signal.SIGTERM, drain.begin, master)

A request is in flight from its head (``requestheaders``) until its ``response`` or
``error`` hook; an idle keep-alive connection is not waited for. A connection accepted less
than ``FRESH`` seconds ago that has sent no request yet is waited for too: the listener's
last accepts happen as it closes, and their requests are on the way (stopping at once closed
them unanswered: tests/test_e2e_drain_resets.py). ``grace`` bounds the wait
(a request stuck upstream must not keep a stopping proxy alive); a second signal stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

log = logging.getLogger("baomi.drain")
_KEY = "baomi_in_flight"
FRESH = 1.0  # seconds: a client connected this recently may still be sending its request


class Drain:
    def __init__(self, grace: float = 10.0):
        self.grace = grace
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task | None = None
        self._fresh: dict[str, float] = {}  # client id -> when it connected, until a request
        self._changed = asyncio.Event()

    def client_connected(self, client) -> None:
        self._fresh[client.id] = time.monotonic()

    def client_disconnected(self, client) -> None:
        if self._fresh.pop(client.id, None) is not None:
            self._changed.set()

    def requestheaders(self, flow) -> None:
        if self._fresh.pop(flow.client_conn.id, None) is not None:
            self._changed.set()
        if not flow.metadata.get(_KEY):
            flow.metadata[_KEY] = True
            self.in_flight += 1
            self._idle.clear()

    def response(self, flow) -> None:
        self._done(flow)

    def error(self, flow) -> None:
        self._done(flow)

    def _done(self, flow) -> None:
        if flow.metadata.pop(_KEY, False):
            self.in_flight -= 1
            if self.in_flight <= 0:
                self.in_flight = 0
                self._idle.set()

    @property
    def begun(self) -> bool:
        return self._task is not None

    def begin(self, master) -> None:
        """Signal handler: the first call drains, a second one stops at once."""
        if self._task is not None:
            master.shutdown()
            return
        self._task = asyncio.get_running_loop().create_task(self._drain(master))

    async def _drain(self, master) -> None:
        master.options.update(server=False)  # mitmproxy's proxyserver closes its listeners
        try:
            await asyncio.wait_for(self._settled(), self.grace)
        except TimeoutError:
            log.warning("stopping with %d requests still in flight after %.0fs",
                        self.in_flight, self.grace)
        master.shutdown()

    async def _settled(self) -> None:
        """No request in flight and no fresh connection without one."""
        while True:
            await self._idle.wait()
            now = time.monotonic()
            newest = max(self._fresh.values(), default=now - FRESH)
            if now - newest >= FRESH:
                return
            self._changed.clear()
            with contextlib.suppress(TimeoutError):  # it ages out, or sends, or closes
                await asyncio.wait_for(self._changed.wait(), FRESH - (now - newest))
