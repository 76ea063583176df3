"""One thread that makes records durable for the event loop, in groups.

    writer = RecordWriter(recorder)
    await writer.write(record)      # returns once the record is durable; else IncidentLogError

The event loop prepares a record (``decisions.prepare``: the decision log's line encoded, the
incident frame's metadata built and its evidence sealed), hands it over and awaits a future;
the writer thread takes every record queued since its last round and writes them as one
group (``decisions.write_many``: the incident store chains them and commits them with one
write and one fsync), then settles their futures with one ``call_soon_threadsafe`` per loop.
The thread's own Python work per record is small, so it seldom holds the GIL the loop needs,
and it prepares nothing while a group's fsync is under way. Per record, an executor task cost a thread hop, a
wake-up of the loop and GIL hand-offs each; under masked load the group holds several.

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
from proxy.record.decisions import DecisionRecord, Recorder, prepare, write_many

IDLE_SECONDS = 5.0

log = logging.getLogger("baomi.records")

_Item = tuple[DecisionRecord, object, asyncio.Future, asyncio.AbstractEventLoop]


class RecordWriter:
    def __init__(self, recorder: Recorder):
        self.recorder = recorder
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._queue: list[_Item] = []
        self._running = False  # a writer thread is alive and will see the queue
        self._waiting = False  # ... and is waiting for a record: only then is it woken

    async def write(self, record: DecisionRecord) -> None:
        """Durable on return; the recorder's error (IncidentLogError) is raised here."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        ready = prepare(self.recorder, record)  # encode and seal here: the thread only writes
        with self._lock:
            self._queue.append((record, ready, done, loop))
            if self._waiting:  # a busy thread takes the queue when its group is durable
                self._waiting = False  # one wake-up is enough for whatever queues meanwhile
                self._wake.notify()
            elif not self._running:
                self._running = True
                threading.Thread(target=self._run, name="baomi-records", daemon=True).start()
        await done

    def _run(self) -> None:
        group: list[_Item] = []
        try:
            while group := self._next_group():
                try:
                    errors = write_many(self.recorder, [item[0] for item in group],
                                        [item[1] for item in group])
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
    for (_, _, done, loop), error in zip(group, errors, strict=True):
        by_loop[loop].append((done, error))
    for loop, settled in by_loop.items():
        with suppress(RuntimeError):  # that loop is closed: nobody awaits its records any more
            loop.call_soon_threadsafe(_resolve, settled)


def _resolve(settled: list) -> None:
    for done, error in settled:
        if done.done():  # cancelled, or settled already (a dying thread settles its group)
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)
