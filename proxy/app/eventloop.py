"""The event loop a proxy process runs on: uvloop when it is installed and works, else asyncio's.

    asyncio.run(serve(settings), loop_factory=loop_factory())

uvloop (libuv) runs mitmproxy's sockets, TLS and timers in C instead of asyncio's Python
selector loop. It is optional and fails safe: not installed, ``BAOMI_EVENT_LOOP=asyncio``
(an operator's way out should a mode misbehave under it; any other value than ``uvloop``
runs asyncio's loop too, with a warning), or a uvloop that cannot run
mitmproxy's eager tasks (uvloop 0.23 passes Python 3.13.0's ``eager_task_factory`` an
argument it does not take, and the master would die at start) all run the standard loop,
and the log says which and why, once.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable

log = logging.getLogger("baomi.loop")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's ``new_event_loop``, or None (asyncio's own loop)."""
    asked = os.environ.get("BAOMI_EVENT_LOOP", "uvloop").strip().lower()
    if asked == "asyncio":
        log.info("event loop: asyncio (BAOMI_EVENT_LOOP=asyncio)")
        return None
    if asked != "uvloop":  # a typo in the operator's way out must not run uvloop
        log.warning("event loop: asyncio (BAOMI_EVENT_LOOP=%r is neither asyncio nor uvloop)",
                    asked[:40])
        return None
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]  # optional
    except ImportError:
        log.info("event loop: asyncio (uvloop is not installed)")
        return None
    try:
        asyncio.run(_eager_task(), loop_factory=uvloop.new_event_loop)
    except Exception as e:  # noqa: BLE001 - any failure: the standard loop, said once
        log.warning("event loop: asyncio (uvloop %s cannot run mitmproxy's tasks: %s)",
                    uvloop.__version__, type(e).__name__)
        return None
    log.info("event loop: uvloop %s", uvloop.__version__)
    return uvloop.new_event_loop


async def _eager_task() -> None:
    """What mitmproxy's master does first: a task made by asyncio's eager task factory."""
    asyncio.get_running_loop().set_task_factory(asyncio.eager_task_factory)
    await asyncio.create_task(asyncio.sleep(0))
