"""How many CPUs this process may use: affinity, capped by a cgroup CPU quota.

    cores()   # 2 in a container limited to cpu: "1.5" on a 16-core node

A container's CPU limit is a quota (``cpu.max``: 150000 per 100000 µs), not an affinity mask:
``os.sched_getaffinity`` still shows every core of the node, and N proxy processes plus N
detector workers per core would be throttled by the kernel. Read by hand: two small files,
the format the kernel documents (cgroup v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


def quota_cpus(quota: str, period: str) -> int | None:
    """CPUs a quota allows, rounded up; None when there is no quota.

    >>> quota_cpus("150000", "100000"), quota_cpus("max", "100000"), quota_cpus("-1", "100000")
    (2, None, None)
    """
    if quota.strip() in ("max", "-1"):
        return None
    q, p = int(quota), int(period)
    return max(1, math.ceil(q / p)) if q > 0 and p > 0 else None


def cgroup_cpus(root: Path = CGROUP, own: str | None = None) -> int | None:
    """The CPU quota of this process's cgroup (v2, else v1), or None if none or unreadable."""
    try:
        path = own if own is not None else _own_cgroup()
        for directory in (root / path.lstrip("/"), root):  # a container sees its own at root
            v2 = directory / "cpu.max"
            if v2.is_file():
                return quota_cpus(*v2.read_text().split()[:2])
        v1 = root / "cpu"
        if (v1 / "cpu.cfs_quota_us").is_file():
            return quota_cpus((v1 / "cpu.cfs_quota_us").read_text(),
                              (v1 / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError, TypeError):
        return None  # no cgroup file we understand: no cap
    return None


def _own_cgroup() -> str:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            return line[3:]
    return "/"


def cores() -> int:
    """The CPUs the default process and worker counts use."""
    found = len(os.sched_getaffinity(0)) or os.cpu_count() or 1
    quota = cgroup_cpus()
    return min(found, quota) if quota else found
