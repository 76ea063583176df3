"""Inspection off the event loop: a pool of worker processes that extract and detect.

Clean traffic never reaches a worker: ``inspect`` first extracts a small request here and
runs the detector's own segment selector on it (``proxy.workers.triage``); a request with no
segment that can hold a finding is decided without IPC. Otherwise a worker runs the detector
on the selected segments only, or extracts and detects a request too big to extract here,
and also prepares the masked rewrite when the policy could mask (one round trip).

CPU work in a mitmproxy hook blocks every connection, and a thread cannot be killed
when it hangs, so each worker is a process (both cores get used). A call that runs
past its timeout kills that worker and starts a fresh one; the caller gets
DetectionTimeout and applies the policy's ``on_timeout`` action.

The pool never hands out a dead worker: a worker that is killed or dies (OOM killer, crash)
is replaced at once, and the next request waits until the pool is back to full size (that
wait is bounded by the start timeout, not by the request's detection timeout: a one-worker
pool would otherwise time out every request while its replacement starts). A request whose
worker dies under it is retried once on a live worker, then gets the policy's ``on_error``.

    pool = InspectionPool(DetectorConfig(), size=2)
    await pool.start()
    result = await pool.inspect(raw_request, limits, timeout=5)   # -> Inspection
    result.rewrite(findings_to_mask)                   # the masked request, prepared
    rewritten = await pool.mask(raw_request, limits, findings, timeout=5)   # when not prepared

The event loop never blocks on a pipe (``proxy.workers.channel``).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

from detectors.batch import SegmentSelector
from detectors.config import DetectorConfig
from detectors.model import Finding
from proxy.errors import BaomiError, DetectionFailed, DetectionTimeout, StartupError
from proxy.extraction.extract import Limits, RawRequest
from proxy.workers.channel import Channel
from proxy.workers.inspection import (
    Inspection,
    detect_job,
    detect_plain,
    findings_of,
    inspect_request,
    mask_request,
)
from proxy.workers.triage import INLINE_BODY_BYTES, Triage

log = logging.getLogger("baomi.pool")

# Workers are spawned, never forked: the parent runs an event loop and threads.
_CTX = multiprocessing.get_context("spawn")


# Signals meant for the proxy (SIGHUP: reload the policy; SIGUSR1: reopen the decision log;
# SIGINT: Ctrl-C) also reach workers when sent to the whole group or unit (`systemctl kill`);
# their default action would kill the worker mid-request. The parent stops workers itself.
_WORKER_IGNORES = (signal.SIGHUP, signal.SIGUSR1, signal.SIGINT)


def _worker_main(conn: Connection, config: DetectorConfig) -> None:
    from detectors.engine import Detector

    for sig in _WORKER_IGNORES:
        signal.signal(sig, signal.SIG_IGN)
    try:
        detector = Detector(config)
        detector.warm_up()  # libraries' first-use set-up now, not in the first requests
    except BaseException as e:  # noqa: BLE001 - report why we could not start, then exit
        conn.send(("err", _why_not_started(e, config)))
        return
    conn.send(("ok", "ready"))
    while True:
        try:
            op, args = conn.recv()
        except EOFError:
            return
        try:
            if op == "detect":
                result: Any = detect_plain(detector, *args)
            elif op == "inspect":
                result = inspect_request(detector, *args)
            elif op == "mask":
                result = mask_request(*args)
            else:
                raise ValueError(f"unknown op {op!r}")
            conn.send(("ok", result))
        except BaseException as e:  # noqa: BLE001 - the parent decides what a failure means
            conn.send(("err", _portable(e)))


def _portable(e: BaseException) -> BaseException:
    """Exceptions cross the pipe; keep ours, flatten others to a message without data."""
    if isinstance(e, BaomiError):
        return e
    return DetectionFailed(f"{type(e).__name__} in detector worker")


def _why_not_started(e: BaseException, config: DetectorConfig) -> str:
    """What the admin must fix: ``extra recognizer 'nope:Missing': ModuleNotFoundError: No
    module named 'nope'``, ``OSError: [E050] Can't find model 'zh_core_web_sm'...``.

    Start-up reads only the policy's detection settings (never a request), so the error's own
    message is safe to show; a missing module gets the policy entry that names it.
    """
    text = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    if isinstance(e, ImportError) and e.name:
        missing = e.name
        for spec in config.extra_recognizers:
            module = spec.partition(":")[0]
            if module == missing or module.startswith(missing + "."):
                text = f"extra recognizer {spec!r}: {text}"
                break
    return text[:500]


class _WorkerLost(DetectionFailed):
    """The worker process is gone (killed, crashed): the job may be retried on another."""


class _FoundDead(_WorkerLost):
    """The job could not even be sent: the worker died while idle. It never ran the job,
    so taking another worker is no retry (``_take`` would have skipped this one)."""


class _Worker:
    def __init__(self, config: DetectorConfig):
        self.killed = False
        self.channel: Channel | None = None  # once started: the non-blocking end of the pipe
        self.conn, child = _CTX.Pipe()
        self.process = _CTX.Process(
            target=_worker_main, args=(child, config), name="baomi-inspect", daemon=True
        )
        self.process.start()
        child.close()

    def wait_ready(self, timeout: float) -> None:
        if not self.conn.poll(timeout):
            self.kill()
            raise StartupError(f"detector worker did not start within {timeout:.0f}s")
        try:
            status, payload = self.conn.recv()
        except (EOFError, OSError):  # died while building its detector (crash, OOM killer)
            self.kill()
            raise StartupError("detector worker died while starting") from None
        if status != "ok":
            self.kill()
            raise StartupError(f"detector worker failed to start: {payload}")

    async def call(self, op: str, args: tuple, timeout: float) -> Any:
        """Send one job and await its answer on the event loop (no thread hop per request,
        no blocking read or write: ``Channel``).

        Raises DetectionTimeout (the worker is killed: a thread or a hung recognizer cannot
        be interrupted any other way) or _WorkerLost, or re-raises the worker's error.
        """
        if not self.usable:  # _take looked a moment ago
            self.kill()
            raise _WorkerLost("detector worker died (not running)")
        if self.channel is None:
            self.channel = Channel(self.conn)
        try:
            status, payload = await asyncio.wait_for(self._exchange(self.channel, op, args),
                                                     timeout)
        except TimeoutError:
            self.kill()  # also when the timeout struck mid-frame: the pipe is unusable
            raise DetectionTimeout(f"inspection took longer than {timeout:g}s") from None
        except _FoundDead:
            self.kill()
            raise
        except (EOFError, OSError) as e:
            self.kill()
            raise _WorkerLost(f"detector worker died ({type(e).__name__})") from None
        if status == "err":
            raise payload
        return payload

    @staticmethod
    async def _exchange(channel: Channel, op: str, args: tuple) -> tuple[str, Any]:
        try:
            await channel.send((op, args))
        except OSError as e:  # EPIPE: nobody reads the other end, the job never started
            raise _FoundDead(f"detector worker died ({type(e).__name__})") from None
        return await channel.receive()

    @property
    def alive(self) -> bool:
        # A SIGKILLed process stays "alive" until the kernel has torn it down and it is
        # reaped; ``killed`` makes our own kill final at once (the bug: a killed worker went
        # back into the pool and the next request failed on its closed pipe).
        return self.usable and self.process.is_alive()

    @property
    def seems_alive(self) -> bool:
        """``alive`` without a system call once the pipe is watched: a dead worker's pipe
        reads EOF, which the loop's reader callback notes (``Channel.eof``). One that died
        since the loop's last poll is found when its job cannot be sent (``_FoundDead``)."""
        if self.channel is not None and (self.channel.eof or self.channel.watching):
            return self.usable and not self.channel.eof
        return self.alive

    @property
    def usable(self) -> bool:
        """Not killed by us, its pipe open: enough for ``call`` and ``_release``. Whether the
        process runs costs two system calls (``is_alive``: getpid, waitpid, which hands the GIL
        to the record writer); it is asked once per call, when the worker is taken."""
        return not self.killed and not self.conn.closed

    def kill(self) -> None:
        """SIGKILL; the zombie is reaped by multiprocessing later (no blocking join here:
        this runs on the event loop)."""
        self.killed = True
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=0)
        if self.channel is not None:
            self.channel.close()  # before the descriptor goes: the loop watches it
        self.conn.close()


class InspectionPool:
    def __init__(self, config: DetectorConfig, size: int | None = None, start_timeout: float = 120,
                 inline_body_bytes: int = INLINE_BODY_BYTES):
        self.config = config
        self.inline_body_bytes = inline_body_bytes  # bodies extracted here at most (Triage)
        self.size = size or max(1, os.cpu_count() or 1)
        self.start_timeout = start_timeout
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._threads = ThreadPoolExecutor(self.size + 1, thread_name_prefix="baomi-inspect")
        self._workers: set[_Worker] = set()
        self._starting = 0  # replacements on their way
        self._full = asyncio.Event()  # set when no replacement is starting
        self._full.set()
        self._inflight = 0
        self._waiting = 0
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()  # the loop keeps only weak references
        self.triage: Triage | None = None  # built by start(): decides clean requests here
        self.ready = False

    @property
    def live(self) -> int:
        """Workers that are started and running (busy or idle)."""
        return sum(w.alive for w in self._workers)

    async def start(self) -> None:
        """Start every worker and wait until each has built its detector."""
        loop = asyncio.get_running_loop()
        t0 = time.monotonic()
        workers = [_Worker(self.config) for _ in range(self.size)]
        try:
            triage, *_ = await asyncio.gather(
                loop.run_in_executor(self._threads, self._triage),
                *(loop.run_in_executor(self._threads, w.wait_ready, self.start_timeout) for w in workers)
            )
        except BaseException:
            for w in workers:
                w.kill()
            raise
        for w in workers:
            self._workers.add(w)
            self._idle.put_nowait(w)
        self.triage = triage
        self.ready = True
        log.info("detector ready: %d workers in %.1fs", self.size, time.monotonic() - t0)

    def _triage(self) -> Triage:
        """The detector's segment selector, built here too (hyperscan compiles in ms)."""
        return Triage(SegmentSelector.for_config(self.config), edm=self.config.edm_index is not None,
                      body_bytes=self.inline_body_bytes)

    async def inspect(self, raw: RawRequest, limits: Limits, timeout: float,
                      maskable: Iterable[frozenset[str]] = ()) -> Inspection:
        """Findings of ``raw``; ``maskable``: the entity sets the policy's mask rules mask,
        whose rewrites a worker that extracts prepares (``Inspection.rewrite``)."""
        local = self.triage.local(raw, limits) if self.triage is not None else None
        if local is None:
            return await self._call("inspect", (raw, limits, tuple(maskable)), timeout)
        if not local.selected:
            return local.inspection()  # clean: decided here, no IPC
        plain, ner_skipped = await self._call("detect", (detect_job(local.to_detect()),), timeout)
        return replace(local.inspection(findings_of(plain)), ner_skipped_bytes=ner_skipped)

    async def mask(self, raw: RawRequest, limits: Limits, findings: tuple[Finding, ...], timeout: float):
        return await self._call("mask", (raw, limits, findings), timeout)

    async def _call(self, op: str, args: tuple, timeout: float) -> Any:
        """Run one job; a worker lost under it costs one retry on a live worker, then on_error.

        The retry gets a fresh timeout: the first attempt's time went to a dead process.
        """
        try:
            return await self._attempt(op, args, timeout)
        except _WorkerLost:
            log.warning("detector worker lost during a call; retrying once on a live worker")
        try:
            return await self._attempt(op, args, timeout)
        except _WorkerLost as e:
            raise DetectionFailed(f"{e} (retried once)") from None

    async def _attempt(self, op: str, args: tuple, timeout: float) -> Any:
        """One attempt; a worker found dead when its job is sent is skipped like one
        ``_take`` finds dead (it never ran the job), at most once per worker of the pool."""
        for _ in range(self.size):
            try:
                return await self._attempt_one(op, args, timeout)
            except _FoundDead:
                log.warning("detector worker found dead while idle; replacing it")
        return await self._attempt_one(op, args, timeout)

    async def _attempt_one(self, op: str, args: tuple, timeout: float) -> Any:
        self._waiting += 1  # a retiring pool drains its waiters too
        try:
            await self._until_full()
            deadline = time.monotonic() + timeout
            worker = await self._take(deadline, timeout)
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

    async def _until_full(self) -> None:
        """Wait while replacements start, so no request is served by a pool one worker short."""
        if self._full.is_set():
            return
        try:
            await asyncio.wait_for(self._full.wait(), self.start_timeout)
        except TimeoutError:
            raise DetectionFailed(
                f"detector workers not back within {self.start_timeout:g}s after a restart"
            ) from None

    async def _take(self, deadline: float, timeout: float) -> _Worker:
        """The next idle worker that is alive; a dead one is replaced, never handed out."""
        while True:
            if not self._idle.empty():  # as Queue.get() takes it, without a timeout to arm
                worker = self._idle.get_nowait()
            else:
                try:
                    # Waiting for a free worker counts against the same deadline: under
                    # overload the policy's on_timeout action applies, not an unbounded queue.
                    worker = await asyncio.wait_for(
                        self._idle.get(), max(0.0, deadline - time.monotonic())
                    )
                except TimeoutError:
                    raise DetectionTimeout(f"no detector worker free within {timeout:g}s") from None
            if worker.seems_alive:  # no system call per request (is_alive: waitpid)
                return worker
            log.warning("detector worker found dead while idle; replacing it")
            self._replace(worker)
            await self._until_full()

    def _release(self, worker: _Worker, call: asyncio.Task) -> None:
        self._inflight -= 1
        if not call.cancelled():
            call.exception()  # retrieved: a caller that went away must not leave it unhandled
        if worker.usable:  # one that died since its answer is found by the next _take
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

        self._background(drain())

    def _replace(self, dead: _Worker) -> None:
        dead.kill()  # idempotent; closes its pipe and reaps it when it has exited
        self._workers.discard(dead)
        if self._closing:
            return
        self._starting += 1
        self._full.clear()
        self._background(self._spawn_one())

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run `coro` as a task held until it ends (an unreferenced task can be collected)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _spawn_one(self) -> None:
        loop = asyncio.get_running_loop()
        worker = _Worker(self.config)
        try:
            await loop.run_in_executor(self._threads, worker.wait_ready, self.start_timeout)
        except StartupError:
            if not self._closing:
                log.error("could not restart a detector worker; retrying in 5s")
                await asyncio.sleep(5)
                self._background(self._spawn_one())
                return
        else:
            if self._closing:
                worker.kill()
            else:
                self._workers.add(worker)
                self._idle.put_nowait(worker)
        self._starting -= 1
        if not self._starting:
            self._full.set()

    def close(self) -> None:
        self.ready = False
        for w in list(self._workers):
            w.kill()
        self._workers.clear()
        self._threads.shutdown(wait=False, cancel_futures=True)
