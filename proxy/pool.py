"""Inspection off the event loop: a pool of worker processes that extract and detect.

CPU work in a mitmproxy hook blocks every connection, and a thread cannot be killed
when it hangs, so each worker is a process (both cores get used). A call that runs
past its timeout kills that worker and starts a fresh one; the caller gets
DetectionTimeout and applies the policy's ``on_timeout`` action.

    pool = InspectionPool(DetectorConfig(), size=2)
    await pool.start()
    result = await pool.inspect(raw_request, limits, timeout=5)   # -> Inspection
    rewritten = await pool.mask(raw_request, limits, findings, timeout=5)
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

from detectors.engine import DetectorConfig
from detectors.model import Finding
from proxy.inspection import Inspection, inspect_request, mask_request
from proxy.errors import BaomiError, DetectionFailed, DetectionTimeout, InspectionError
from proxy.extract import Limits, RawRequest

log = logging.getLogger("baomi.pool")

# Workers are spawned, never forked: the parent runs an event loop and threads.
_CTX = multiprocessing.get_context("spawn")


def _worker_main(conn: Connection, config: DetectorConfig) -> None:
    from detectors.engine import Detector

    try:
        detector = Detector(config)
    except BaseException as e:  # report why we could not start, then exit
        conn.send(("err", _portable(e)))
        return
    conn.send(("ok", "ready"))
    while True:
        try:
            op, args = conn.recv()
        except EOFError:
            return
        try:
            if op == "inspect":
                result: Any = inspect_request(detector, *args)
            elif op == "mask":
                result = mask_request(*args)
            else:
                raise ValueError(f"unknown op {op!r}")
            conn.send(("ok", result))
        except BaseException as e:  # the parent decides what a failure means
            conn.send(("err", _portable(e)))


def _portable(e: BaseException) -> BaseException:
    """Exceptions cross the pipe; keep ours, flatten others to a message without data."""
    if isinstance(e, BaomiError):
        return e
    return DetectionFailed(f"{type(e).__name__} in detector worker")


class _Worker:
    def __init__(self, config: DetectorConfig):
        self.conn, child = _CTX.Pipe()
        self.process = _CTX.Process(
            target=_worker_main, args=(child, config), name="baomi-inspect", daemon=True
        )
        self.process.start()
        child.close()

    def wait_ready(self, timeout: float) -> None:
        if not self.conn.poll(timeout):
            self.kill()
            raise DetectionFailed(f"detector worker did not start within {timeout:.0f}s")
        status, payload = self.conn.recv()
        if status != "ok":
            self.kill()
            raise DetectionFailed(f"detector worker failed to start: {payload}")

    async def call(self, op: str, args: tuple, timeout: float) -> Any:
        """Send one job and await its answer on the event loop (no thread hop per request).

        Raises DetectionTimeout (the worker is killed: a thread or a hung recognizer cannot
        be interrupted any other way) or DetectionFailed, or re-raises the worker's error.
        """
        loop = asyncio.get_running_loop()
        answered = loop.create_future()
        fd = self.conn.fileno()
        try:
            self.conn.send((op, args))
        except (OSError, ValueError):
            self.kill()
            raise DetectionFailed("detector worker died (send)") from None
        # Readable means a reply, or EOF when the worker died; recv() tells which.
        loop.add_reader(fd, lambda: answered.done() or answered.set_result(None))
        try:
            await asyncio.wait_for(answered, timeout)
        except TimeoutError:
            self.kill()
            raise DetectionTimeout(f"inspection took longer than {timeout:g}s") from None
        finally:
            loop.remove_reader(fd)
        try:
            status, payload = self.conn.recv()
        except (EOFError, OSError) as e:
            self.kill()
            raise DetectionFailed(f"detector worker died ({type(e).__name__})") from None
        if status == "err":
            raise payload
        return payload

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        """SIGKILL; the zombie is reaped by multiprocessing later (no blocking join here:
        this runs on the event loop)."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=0)
        self.conn.close()


class InspectionPool:
    def __init__(self, config: DetectorConfig, size: int | None = None, start_timeout: float = 120):
        self.config = config
        self.size = size or max(1, os.cpu_count() or 1)
        self.start_timeout = start_timeout
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._threads = ThreadPoolExecutor(self.size + 1, thread_name_prefix="baomi-inspect")
        self._workers: set[_Worker] = set()
        self._inflight = 0
        self._waiting = 0
        self._closing = False
        self.ready = False

    async def start(self) -> None:
        """Start every worker and wait until each has built its detector."""
        loop = asyncio.get_running_loop()
        t0 = time.monotonic()
        workers = [_Worker(self.config) for _ in range(self.size)]
        try:
            await asyncio.gather(
                *(loop.run_in_executor(self._threads, w.wait_ready, self.start_timeout) for w in workers)
            )
        except BaseException:
            for w in workers:
                w.kill()
            raise
        for w in workers:
            self._workers.add(w)
            self._idle.put_nowait(w)
        self.ready = True
        log.info("detector ready: %d workers in %.1fs", self.size, time.monotonic() - t0)

    async def inspect(self, raw: RawRequest, limits: Limits, timeout: float) -> Inspection:
        return await self._call("inspect", (raw, limits), timeout)

    async def mask(self, raw: RawRequest, limits: Limits, findings: tuple[Finding, ...], timeout: float):
        return await self._call("mask", (raw, limits, findings), timeout)

    async def _call(self, op: str, args: tuple, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        self._waiting += 1
        try:
            # Waiting for a free worker counts against the same deadline: under overload the
            # policy's on_timeout action applies rather than an unbounded queue.
            worker = await asyncio.wait_for(self._idle.get(), timeout)
        except TimeoutError:
            raise DetectionTimeout(f"no detector worker free within {timeout:g}s") from None
        finally:
            self._waiting -= 1
        loop = asyncio.get_running_loop()
        remaining = max(0.05, deadline - time.monotonic())
        self._inflight += 1
        call = loop.create_task(worker.call(op, args, remaining))
        # The worker goes back only when its call has really finished, even if our caller was
        # cancelled meanwhile (a client that hangs up must not hand a busy worker to another).
        call.add_done_callback(lambda task: self._release(worker, task))
        return await asyncio.shield(call)

    def _release(self, worker: _Worker, call: asyncio.Task) -> None:
        self._inflight -= 1
        if not call.cancelled():
            call.exception()  # retrieved: a caller that went away must not leave it unhandled
        if worker.alive:
            self._idle.put_nowait(worker)
        else:  # killed on timeout or died: keep the pool at full size
            self._replace(worker)

    def close_when_idle(self, grace: float = 60) -> None:
        """Retire this pool after a reload: finish calls under way, then stop the workers."""
        self._closing = True

        async def drain():
            deadline = time.monotonic() + grace
            # Requests that took this pool before the swap (running or still queued) finish on it.
            while (self._inflight or self._waiting) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            self.close()

        asyncio.get_running_loop().create_task(drain())

    def _replace(self, dead: _Worker) -> None:
        self._workers.discard(dead)
        if self._closing:
            return
        asyncio.get_running_loop().create_task(self._spawn_one())

    async def _spawn_one(self) -> None:
        loop = asyncio.get_running_loop()
        worker = _Worker(self.config)
        try:
            await loop.run_in_executor(self._threads, worker.wait_ready, self.start_timeout)
        except InspectionError:
            log.error("could not restart a detector worker; retrying in 5s")
            await asyncio.sleep(5)
            loop.create_task(self._spawn_one())
            return
        self._workers.add(worker)
        self._idle.put_nowait(worker)

    def close(self) -> None:
        self.ready = False
        for w in list(self._workers):
            w.kill()
        self._workers.clear()
        self._threads.shutdown(wait=False, cancel_futures=True)
