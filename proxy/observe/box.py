"""One scrape for the whole box under `baomi run --processes N`.

    box = BoxMetrics(supervisor_metrics, multiproc_dir, processes_up=lambda: (2, 2))
    generate_latest(box.registry)   # traffic summed over the proxy processes + the supervisor's
    box.ready()                     # {"policy": True, "detector": True, ..., "processes": True}

Each proxy process writes its metrics to prometheus-client's multiprocess directory
(``PROMETHEUS_MULTIPROC_DIR``, set by the supervisor when it starts them); counters and
histograms are summed over the processes, dead ones included (a restart loses no count).
The supervisor decides which policy is in force and whether the box is ready, so the series
about those (``SUPERVISOR_OWNED``) come from its own registry instead of the files: the
policy's hash, reload counts, build and readiness, and process restarts.

Readiness: a component is ready when every live proxy process says so (their
``baomi_ready`` gauges, ``livemin``) and every process the supervisor runs is up.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from proxy.observe.metrics import COMPONENTS, Metrics

SUPERVISOR_OWNED = frozenset({
    "baomi_policy_reloads", "baomi_policy_info",
    "baomi_policy_last_reload_success_timestamp_seconds", "baomi_policy_last_reload_successful",
    "baomi_build_info", "baomi_ready", "baomi_process_restarts",
})  # fmt: skip


class BoxMetrics:
    def __init__(self, own: Metrics, multiproc_dir: Path,
                 processes_up: Callable[[], tuple[int, int]]):
        self.own = own
        self.children = MultiProcessCollector(None, path=str(multiproc_dir))
        self.processes_up = processes_up  # () -> (processes up, processes wanted)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Children(self))
        self.registry.register(_Own(self))

    @property
    def notes(self) -> dict[str, str]:
        return self.own.notes

    def ready(self) -> dict[str, bool]:
        """The box's readiness; also sets the supervisor's ``baomi_ready`` gauge to it."""
        up, wanted = self.processes_up()
        all_up = up >= wanted
        children = self.children_ready()
        self.own.set_ready("processes", all_up)
        for component in COMPONENTS[1:]:  # the policy is the supervisor's own
            self.own.set_ready(component, all_up and children.get(component, False))
        return self.own.ready()

    def children_ready(self) -> dict[str, bool]:
        """``baomi_ready`` of the live proxy processes (the minimum over them)."""
        state: dict[str, bool] = {}
        for family in self.children.collect():
            if family.name == "baomi_ready":
                for sample in family.samples:
                    state[sample.labels["component"]] = sample.value >= 1
        return state


class _Children:
    """The proxy processes' series, minus the ones the supervisor owns."""

    def __init__(self, box: BoxMetrics):
        self.box = box

    def collect(self) -> Iterable:
        return [f for f in self.box.children.collect() if f.name not in SUPERVISOR_OWNED]


class _Own:
    """The supervisor's series (readiness refreshed at every scrape)."""

    def __init__(self, box: BoxMetrics):
        self.box = box

    def collect(self) -> Iterable:
        self.box.ready()
        return [f for f in self.box.own.registry.collect() if f.name in SUPERVISOR_OWNED]


def reset_dir(path: Path) -> Path:
    """An empty multiprocess directory (files of a previous run would be summed in)."""
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.db"):
        old.unlink()
    os.chmod(path, 0o700)
    return path
