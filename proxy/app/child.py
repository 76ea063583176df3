"""One proxy process of `baomi run --processes N`, started by the supervisor.

    python -m proxy.app.child FD PARENT_PID     # FD: its end of the supervisor's socket pair

The supervisor sends ``{"op": "start", "settings": {...}, "policy": <base64>}`` first: the
policy bytes it validated (not the file, which may have changed since). The process then
serves like a single `baomi run` (``run.serve``) on the shared port, says ``running`` once
listening, and follows the supervisor's coordinated reloads (``prepare`` / ``commit`` /
``abort``). It dies with the supervisor: ``PR_SET_PDEATHSIG`` asks the kernel for a SIGTERM
(a drain) when the supervisor goes, and the end of the line (EOF) drains it too.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import socket
import sys

from policies.load import parse_policy
from proxy.app.control import Line, decode, settings_from_json
from proxy.app.eventloop import loop_factory
from proxy.errors import BaomiError, PolicyError

log = logging.getLogger("baomi.child")
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int) -> bool:
    """Ask for SIGTERM when the parent exits; False if it is already gone (a race at start)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    return os.getppid() == parent


class Link:
    """What `run.serve` needs from the supervisor: the policy, and the line to follow."""

    def __init__(self, line: Line, policy):
        self.line = line
        self.policy = policy
        self._tasks: set[asyncio.Task] = set()

    def announcer(self):
        return _Announce(self)

    def announce_running(self) -> None:
        task = asyncio.get_running_loop().create_task(
            self.line.send({"op": "running", "pid": os.getpid(), "hash": self.policy.hash})
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def follow(self, reloader, drain, master) -> None:
        """Obey the supervisor until it is gone (EOF), then drain and stop."""
        staged = None
        while (message := await self.line.receive()) is not None:
            op = message.get("op")
            if staged is not None and op in ("prepare", "abort"):
                reloader.abort(staged)
                staged = None
            if op == "prepare":
                staged, reply = await _prepare(reloader, decode(message["policy"]))
                await self.line.send(reply)
            elif op == "commit" and staged is not None:
                reloader.commit(staged)
                self.policy, staged = staged.policy, None
                await self.line.send({"op": "committed", "hash": self.policy.hash})
        log.warning("the supervisor is gone: stopping")
        drain.begin(master)


async def _prepare(reloader, raw: bytes):
    try:
        staged = await reloader.prepare(raw)
    except PolicyError as e:
        return None, {"op": "prepared", "ok": False, "error": e.errors[0]}
    except Exception as e:  # noqa: BLE001 - a detector that cannot start: report, keep the old
        return None, {"op": "prepared", "ok": False, "error": f"detector could not start: {e}"}
    return staged, {"op": "prepared", "ok": True, "hash": staged.policy.hash}


class _Announce:
    """mitmproxy's ``running`` hook: the listener is up."""

    def __init__(self, link: Link):
        self.link = link

    def running(self) -> None:
        self.link.announce_running()


async def _main(sock: socket.socket) -> int:
    from proxy.app.run import serve

    line = await Line.open(sock)
    start = await line.receive()
    if start is None or start.get("op") != "start":
        return 1
    settings = settings_from_json(start["settings"])
    policy = parse_policy(decode(start["policy"]), str(settings.policy))
    return await serve(settings, Link(line, policy))


def main(argv: list[str]) -> int:
    from proxy.app.run import setup_logging

    # The supervisor passes SIGUSR1 (reopen the log) and may send SIGHUP to every process at
    # any time; their default action kills a process still starting. run.serve installs the
    # real handlers once its event loop runs.
    for sig in (signal.SIGUSR1, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    fd, parent = int(argv[0]), int(argv[1])
    if not die_with_parent(parent):
        return 1
    setup_logging()
    try:
        return asyncio.run(_main(socket.socket(fileno=fd)), loop_factory=loop_factory())
    except PolicyError as e:
        for line in e.errors:
            print(f"Error: {line}", file=sys.stderr)
        return 2
    except BaomiError as e:
        print(f"Error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
