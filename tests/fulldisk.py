"""A small file system that fills up: the full-disk tests' tmpfs and filler.

Mounting needs root (the suite runs as root here and in CI); where it cannot mount, the test
is skipped with the reason.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def tmpfs(at: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (mount's syntax: 64k, 2m) mounted at ``at`` for the block."""
    at.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                          str(at)], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {out.stderr.strip()}")
    try:
        yield at
    finally:
        unmount(at)


def unmount(at: Path) -> None:
    """Never leave a mount behind; a busy one (an fd still open) is detached, and that fails."""
    if subprocess.run(["umount", str(at)], capture_output=True, check=False).returncode != 0:
        subprocess.run(["umount", "-l", str(at)], check=True)
        raise AssertionError(f"{at} was still busy at teardown (a file left open)")


def fill(filler: Path) -> Path:
    """Write ``filler`` until the file system says ENOSPC, down to the last byte."""
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 16, 1 << 12, 1 << 8, 1):
            while True:
                try:
                    os.write(fd, bytes(size))
                except OSError as e:
                    assert e.errno == errno.ENOSPC
                    break
    finally:
        os.close(fd)
    return filler
