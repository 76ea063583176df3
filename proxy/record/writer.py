"""One thread that makes records durable for the event loop, in groups.

    writer = RecordWriter(recorder)
    await writer.write(record)      # returns once the record is durable; else IncidentLogError

The event loop prepares a record (``decisions.prepare``: the decision log's line encoded, the
incident frame's metadata built and its evidence sealed) and writes it at once where that
does not wait for the disk (``decisions.write_now``: the decision log's line appended, the
incident frame chained and written), then hands over what is left and awaits a future. The
writer thread takes every record queued since its last round as one group: one fsync for
all the frames written on the loop (``Pending.syncs``, each called once per group), and
``decisions.write_many`` for the records the loop could not write (a period to start,
another writer holding the log: chained and committed with one write and one fsync); then
it settles their futures with one ``call_soon_threadsafe`` per loop.

Why the loop writes: every system call of a thread gives up the GIL and then waits for a
busy loop to hand it back (a switch interval at worst); with the writes on the loop the
thread makes one such call per group, the fsync, instead of a dozen (locks, stats, writes).
An executor task per record cost a thread hop, a wake-up of the loop and hand-offs each.

Records reach the thread once per loop pass (``_hand_over``, scheduled by the pass's first
record): one wake-up for all the records the pass queued, not one each.

The thread starts with the first record and ends after ``IDLE_SECONDS`` without one (a
later record starts it again), so an idle proxy or a test's addon keeps no thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import defaultdict
from contextlib import suppress

from proxy.errors import IncidentLogError
from proxy.record.decisions import (
    NOT_WRITTEN,
    DecisionRecord,
    Recorder,
    prepare,
    write_many,
    write_now,
)

IDLE_SECONDS = 5.0

log = logging.getLogger("baomi.records")

# record, its prepared form, what is left of writing it (NOT_WRITTEN or a Pending), waiter
_Item = tuple[DecisionRecord, object, object, asyncio.Future, asyncio.AbstractEventLoop]


class RecordWriter:
    def __init__(self, recorder: Recorder):
        self.recorder = recorder
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._queue: list[_Item] = []  # handed over, for the thread's next group
        # per loop (a test may run several): queued since that loop's last hand-over
        self._this_pass: dict[asyncio.AbstractEventLoop, list[_Item]] = {}
        self._running = False  # a writer thread is alive and will see the queue
        self._waiting = False  # ... and is waiting for a record: only then is it woken

    async def write(self, record: DecisionRecord) -> None:
        """Durable on return; the recorder's error (IncidentLogError) is raised here."""
        loop = asyncio.get_running_loop()
        ready = prepare(self.recorder, record)  # encode and seal here: the thread only syncs
        left = self._write_now(record, ready)
        if left is None:
            return  # as durable as the recorder makes it already
        done = loop.create_future()
        with self._lock:  # uncontended but for the thread's hand-over: no GIL hand-off
            mine = self._this_pass.get(loop)
            if mine is None:
                self._this_pass[loop] = [(record, ready, left, done, loop)]
            else:
                mine.append((record, ready, left, done, loop))
        if mine is None:  # once per loop pass, after the callbacks ready now (more records)
            loop.call_soon(self._hand_over, loop)
        await done

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        """Give the thread every record queued during this loop pass with one wake-up:
        a woken thread takes the GIL from the loop (several times: the wake, the fsync,
        the settling), so one wake per pass, not per record, and larger groups."""
        with self._lock:
            self._queue += self._this_pass.pop(loop)
            if self._waiting:  # a busy thread takes the queue when its group is durable
                self._waiting = False  # one wake-up is enough for whatever queues meanwhile
                self._wake.notify()
            elif not self._running:
                self._running = True
                threading.Thread(target=self._run, name="baomi-records", daemon=True).start()

    def _write_now(self, record: DecisionRecord, ready: object) -> object:
        try:
            return write_now(self.recorder, record, ready)
        except IncidentLogError:
            raise
        except Exception as e:  # noqa: BLE001 - as write_many reports it: no message, no value
            raise IncidentLogError(f"cannot record ({type(e).__name__})") from None

    def _run(self) -> None:
        group: list[_Item] = []
        try:
            while group := self._next_group():
                try:
                    errors = self._write_group(group)
                except Exception as e:  # noqa: BLE001 - no waiter may wait forever
                    errors = [e] * len(group)
                _settle(group, errors)
                group = []
        except BaseException as e:  # noqa: BLE001 - rare (SystemExit in a library): never hang
            # the group being written fails (503 on_record_failure) and the thread ends; a
            # re-raise would only end it too (sys.exit in a thread), so log the kind instead
            failed = IncidentLogError("record writer thread died; the records were not written")
            _settle(group, [failed] * len(group))
            log.error("record writer thread died (%s); %d record(s) failed",
                      type(e).__name__, len(group))
            with self._lock:
                self._running = bool(self._queue)
                if self._running:
                    threading.Thread(target=self._run, name="baomi-records", daemon=True).start()

    def _write_group(self, group: list[_Item]) -> list:
        """Each record's error or None: the group's syncs once each, then write_many for
        what the loop left (the records it could not write in one group, then the rest of
        each record it wrote in part)."""
        errors: list = [None] * len(group)
        synced: dict = {}
        for i, (_, _, left, _, _) in enumerate(group):
            for sync in () if left is NOT_WRITTEN else left.syncs:  # type: ignore[attr-defined]
                if sync not in synced:
                    synced[sync] = _call(sync)
                errors[i] = errors[i] or synced[sync]
        unwritten = [i for i, item in enumerate(group) if item[2] is NOT_WRITTEN]
        if unwritten:
            outcome = write_many(self.recorder, [group[i][0] for i in unwritten],
                                 [group[i][1] for i in unwritten])
            for i, error in zip(unwritten, outcome, strict=True):
                errors[i] = error
        for i, (record, _, left, _, _) in enumerate(group):
            for recorder, ready in () if left is NOT_WRITTEN else left.rest:  # type: ignore[attr-defined]
                if errors[i] is None:
                    errors[i] = write_many(recorder, [record], [ready])[0]
        return errors

    def _next_group(self) -> list[_Item]:
        """Everything queued, after waiting up to IDLE_SECONDS; [] ends the thread."""
        with self._lock:
            if not self._queue:
                self._waiting = True
                self._wake.wait(IDLE_SECONDS)
                self._waiting = False
            group, self._queue = self._queue, []
            if not group:
                self._running = False
            return group


def _settle(group: list[_Item], errors: list) -> None:
    """One wake-up per event loop for the whole group (a test may run several loops)."""
    by_loop: dict[asyncio.AbstractEventLoop, list] = defaultdict(list)
    for (_, _, _, done, loop), error in zip(group, errors, strict=True):
        by_loop[loop].append((done, error))
    for loop, settled in by_loop.items():
        with suppress(RuntimeError):  # that loop is closed: nobody awaits its records any more
            loop.call_soon_threadsafe(_resolve, settled)


def _call(sync) -> Exception | None:
    try:
        sync()
    except IncidentLogError as e:
        return e
    except Exception as e:  # noqa: BLE001 - by its type only: a message might quote a value
        return IncidentLogError(f"cannot record ({type(e).__name__})")
    return None


def _resolve(settled: list) -> None:
    for done, error in settled:
        if done.done():  # cancelled, or settled already (a dying thread settles its group)
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)
