"""A file system whose fsync fails for real: ext4 on a loop device over a small, fillable tmpfs.

    with failing_disk(tmp_path / "data") as disk:
        ...                  # writes and fsyncs work
        disk.fail()          # from now on write-back of new blocks fails: fsync says ENOSPC
        disk.heal()          # and works again

Writes go to the page cache and succeed either way; only the write-back through the loop
device, into blocks of the sparse image the tmpfs has no room for, fails, and the kernel
reports it to the next fsync of the file (and to every descriptor open on it then). No
LD_PRELOAD and no patched ``os.fsync``: the process under test sees what a dying disk or a
thin-provisioned volume out of space shows. 1 KiB blocks, so each record needs a new block.

Needs root, loop devices and ext4 (as the suite has here and in CI); else the test is skipped.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fulldisk import fill, tmpfs, unmount


class FailingDisk:
    def __init__(self, backing: Path):
        self.filler = backing / "filler"

    def fail(self) -> None:
        fill(self.filler)

    def heal(self) -> None:
        self.filler.unlink()


@contextmanager
def failing_disk(at: Path, image_size: int = 256 << 20, room: str = "96m") -> Iterator[FailingDisk]:
    """ext4 mounted at ``at``, its image sparse on a tmpfs of ``room`` (for what is written
    before ``fail()``: the CA, keys, metrics files, records)."""
    backing = at.with_name(at.name + ".backing")
    with tmpfs(backing, room):
        image = backing / "disk.img"
        with open(image, "wb") as f:
            f.truncate(image_size)
        _run(["mkfs.ext4", "-q", "-F", "-b", "1024", "-O", "^has_journal",
              "-E", "nodiscard", str(image)], "mkfs.ext4")
        loop = _run(["losetup", "--find", "--show", str(image)], "a loop device").strip()
        try:
            at.mkdir(parents=True, exist_ok=True)
            _run(["mount", "-t", "ext4", "-o", "errors=continue", loop, str(at)], "mount ext4")
            try:
                yield FailingDisk(backing)
            finally:
                unmount(at)
        finally:
            subprocess.run(["losetup", "-d", loop], check=True)


def _run(argv: list[str], what: str) -> str:
    out = subprocess.run(argv, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        pytest.skip(f"cannot set up {what} here: {out.stderr.strip()}")
    return out.stdout

