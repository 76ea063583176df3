"""SIGTERM drains: stop accepting, let the requests in flight finish, then stop.

    drain = Drain(grace=10.0)
    master.addons.add(drain)
    loop.add_signal_handler(signal.SIGTERM, drain.begin, master)

A request is in flight from its head (``requestheaders``) until its ``response`` or
``error`` hook; an idle keep-alive connection is not waited for. ``grace`` bounds the wait
(a request stuck upstream must not keep a stopping proxy alive); a second signal stops at once.
"""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("baomi.drain")
_KEY = "baomi_in_flight"


class Drain:
    def __init__(self, grace: float = 10.0):
        self.grace = grace
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task | None = None

    def requestheaders(self, flow) -> None:
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
            await asyncio.wait_for(self._idle.wait(), self.grace)
        except TimeoutError:
            log.warning("stopping with %d requests still in flight after %.0fs",
                        self.in_flight, self.grace)
        master.shutdown()
