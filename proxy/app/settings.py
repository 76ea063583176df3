"""How baomi is run: one settings object for `baomi run` and `baomi doctor` (which checks
what `run` would do with the same flags and ``BAOMI_*`` environment).

    settings = RunSettings(policy=Path("policies/default.yaml"), mode="transparent")
    settings.transparent -> True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from proxy.hook.connections import (
    BODY_MIN_RATE,
    BODY_TIMEOUT,
    HEAD_TIMEOUT,
    IDLE_TIMEOUT,
    MAX_CONNECTIONS,
)
from proxy.record.approvals.links import DEFAULT_CONSOLE_URL
from proxy.record.decisions import DEFAULT_KEEP, DEFAULT_MAX_BYTES


@dataclass(frozen=True)
class RunSettings:
    policy: Path
    mode: str = "regular"
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    data_dir: Path = Path("var")
    sets: tuple[str, ...] = ()
    workers: int | None = None  # detector workers on the box (split between processes)
    processes: int | None = None  # proxy processes on the listening port (None: the cores)
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None  # None or 0: no metrics listener
    pac_proxy: str | None = None  # HOST:PORT that /proxy.pac names (default: listen address)
    decision_log_max_bytes: int = DEFAULT_MAX_BYTES  # decisions.jsonl rotates before passing it
    decision_log_keep: int = DEFAULT_KEEP  # rotated copies .1 (newest) .. .K
    console_url: str = DEFAULT_CONSOLE_URL  # where refusals' application links point
    head_timeout: int = HEAD_TIMEOUT  # seconds for a whole request head (proxy/hook/connections)
    idle_timeout: int = IDLE_TIMEOUT  # seconds a keep-alive connection may wait idle
    max_connections: int = MAX_CONNECTIONS  # open client connections per proxy process
    body_timeout: int = BODY_TIMEOUT  # seconds for a request body after its head ...
    body_min_rate: int = BODY_MIN_RATE  # ... plus 1 s per this many bytes received
    extra: dict = field(default_factory=dict)

    @property
    def transparent(self) -> bool:
        return self.mode.split(":", 1)[0] == "transparent"
