"""A failed fsync loses the frames it covered on the disk, though the file still shows them.

Root cause of the CI failure of test_e2e_fsync_failure's ``-p 2`` test (verify: a damaged
frame and a seq missing after it). After a failed write-back the kernel marks the pages
clean: the frames stay readable from the page cache, but nothing writes them again, and
once the pages are evicted (memory pressure: the test's full tmpfs is RAM) the file reads
zeros where they were. The restarted process's new segment chained after the last frame it
saw, so the chain had a hole before it (and would after any reboot). A writer that starts
a segment now writes the newest file's whole frames again and fsyncs them first
(``log._rewrite``). POSIX_FADV_DONTNEED stands in for the memory pressure; without the
rewrite this test fails with exactly CI's two problems.
"""

from __future__ import annotations

import os
from pathlib import Path

from faultydisk import failing_disk
from incidents_cli import keyed_dir

from proxy.errors import IncidentLogError
from proxy.record.incidents.keys import Keyring, load_private_keys
from proxy.record.incidents.log import IncidentLog, incidents_dir, log_files
from proxy.record.incidents.verify import verify

INCIDENT = {"incident": "i-1", "entities": ["CN_RESIDENT_ID"]}


def evict(data_dir: Path) -> None:
    """Drop the log's clean pages from the page cache, as memory pressure does."""
    for file in log_files(incidents_dir(data_dir)):
        fd = os.open(file.path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def fail_a_sync(log: IncidentLog) -> None:
    """Write and sync until an fsync fails: a frame that fits in a block the image already
    has on the tmpfs still reaches the disk (1 KiB blocks, so the next one does not)."""
    for _ in range(10):
        assert log.append_unsynced([("incident", INCIDENT)]) is not None
        try:
            log.sync()
        except IncidentLogError:
            assert log.stopped
            return
    raise AssertionError("ten frames were made durable on a full disk")


def test_a_restarted_writer_does_not_chain_after_frames_whose_fsync_failed(tmp_path):
    with failing_disk(tmp_path / "var") as disk:
        data_dir, key = keyed_dir(tmp_path)
        first = IncidentLog(data_dir, Keyring.load(data_dir))
        first.append("incident", INCIDENT)  # durable
        disk.fail()
        fail_a_sync(first)
        first.close()  # a stopped log signs no final checkpoint
        disk.heal()
        again = IncidentLog(data_dir, Keyring.load(data_dir))  # the restarted process
        again.append("incident", INCIDENT)
        again.close()
        evict(data_dir)
        report = verify(data_dir, load_private_keys([key]))
        assert report.ok, [str(p) for p in report.problems]
