"""`baomi run`: mitmproxy in-process with our addon.

    settings = RunSettings(policy=Path("policies/default.yaml"), mode="regular", ...)
    asyncio.run(serve(settings))

Start-up order matters: the policy is loaded and the detector workers are warm before
the listener opens, so the first request is inspected like every other.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from detectors.engine import DetectorConfig
from policies.load import load_policy
from proxy.addon import BaomiAddon
from proxy.ca import ca_paths, secure_ca_dir
from proxy.errors import BaomiError, UsageError
from proxy.pool import InspectionPool
from proxy.record import DecisionLog
from proxy.state import Runtime

log = logging.getLogger("baomi")


@dataclass(frozen=True)
class RunSettings:
    policy: Path
    mode: str = "regular"
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    data_dir: Path = Path("var")
    sets: tuple[str, ...] = ()
    workers: int | None = None
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None
    extra: dict = field(default_factory=dict)


def detector_config(policy) -> DetectorConfig:
    d = policy.detection
    return DetectorConfig(
        score_threshold=d.score_threshold,
        allow_values=tuple(d.allow_values),
        extra_recognizers=tuple(d.extra_recognizers),
    )


def prepare_data_dir(data_dir: Path) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    return data_dir


async def serve(settings: RunSettings) -> int:
    from mitmproxy import options
    from mitmproxy.tools.dump import DumpMaster

    policy = load_policy(settings.policy)  # a bad policy stops start-up here
    data_dir = prepare_data_dir(settings.data_dir)
    confdir = secure_ca_dir(data_dir)

    opts = options.Options(
        listen_host=settings.listen_host,
        listen_port=settings.listen_port,
        mode=[settings.mode],
        confdir=str(confdir),
    )
    master = DumpMaster(opts, with_termlog=True, with_dumper=False)
    opts.update(termlog_verbosity="warn")
    try:
        if settings.sets:
            opts.set(*settings.sets)
    except Exception as e:  # mitmproxy's OptionsError: unknown option or bad value
        raise UsageError(f"--set: {e}") from None
    secure_ca_dir(data_dir)  # mitmproxy created the CA while configuring; re-check modes

    pool = InspectionPool(detector_config(policy), size=settings.workers)
    await pool.start()
    runtime = Runtime(policy=policy, mode=settings.mode)
    recorder = DecisionLog(data_dir)
    addon = BaomiAddon(runtime, pool, recorder)
    master.addons.add(addon, _Banner(settings, policy, confdir))

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, master.shutdown)
    try:
        await master.run()
    finally:
        pool.close()
        recorder.close()
    return 0


class _Banner:
    """Prints where the proxy listens once mitmproxy's servers are up."""

    def __init__(self, settings: RunSettings, policy, confdir: Path):
        self.settings, self.policy, self.confdir = settings, policy, confdir

    def running(self) -> None:
        s = self.settings
        pem, _ = ca_paths(self.confdir)
        print(
            f"baomi listening on {s.listen_host}:{s.listen_port} mode={s.mode}\n"
            f"  policy {self.policy.path} ({self.policy.hash})\n"
            f"  client CA certificate: {pem}\n"
            f"  decision log: {s.data_dir / 'decisions.jsonl'}",
            flush=True,
        )


def run(settings: RunSettings) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(serve(settings))
    except BaomiError:
        raise
    except KeyboardInterrupt:
        return 0
