"""`baomi run`: mitmproxy in-process with our addon.

    settings = RunSettings(policy=Path("policies/default.yaml"), mode="regular", ...)
    asyncio.run(serve(settings))

Start-up order matters: the policy is loaded and the detector workers are warm before
the listener opens, so the first request is inspected like every other.

``--processes N`` (N > 1) runs ``proxy/app/supervisor.py`` instead, which starts N of these
(``proxy/app/child.py``: ``serve(settings, link)``, the link being its line to the supervisor).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
from pathlib import Path

from detectors.config import DetectorConfig
from detectors.mask import use_fingerprint_key
from policies.load import load_policy
from proxy.act.application_link import use_application_links
from proxy.app import reuseport
from proxy.app.approval_watch import ApprovalWatcher
from proxy.app.ca import ca_paths, secure_ca_dir
from proxy.app.cpus import cores
from proxy.app.drain import Drain
from proxy.app.eventloop import loop_factory
from proxy.app.keys_at_rest import refuse_exposed_keys
from proxy.app.master import UNREAD_OPTIONS, lean_master
from proxy.app.reload import PolicyReloader
from proxy.app.settings import RunSettings
from proxy.app.supervisor import EXIT_RECORD_FAILURE
from proxy.errors import BaomiError, UsageError
from proxy.hook import httplayer
from proxy.hook.addon import BaomiAddon
from proxy.hook.connections import ClientConnections
from proxy.hook.ignored import IgnoredHosts
from proxy.hook.state import Runtime
from proxy.observe.health import serve as serve_health
from proxy.observe.metrics import Metrics
from proxy.observe.pac import pac_address, pac_source
from proxy.record.approvals.links import ensure_link_key
from proxy.record.decisions import DecisionLog, Recorders
from proxy.record.incidents import IncidentStore, ensure_keys
from proxy.record.incidents.keys import ensure_mask_key
from proxy.record.unseen import prepare as prepare_unseen
from proxy.workers.pool import InspectionPool

log = logging.getLogger("baomi")


def prepare_data_dir(data_dir: Path) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    return data_dir


async def serve(settings: RunSettings, link=None) -> int:
    """Run one proxy process until SIGTERM/SIGINT (drained) or, under a supervisor (``link``,
    see proxy/app/child.py), until it says stop or is gone."""
    from mitmproxy import options

    # a bad policy stops start-up here; under a supervisor, the bytes it validated
    policy = link.policy if link else load_policy(settings.policy)
    refuse_exposed_keys(settings.data_dir)  # before anything here chmods or reads a key
    data_dir = prepare_data_dir(settings.data_dir)
    confdir = secure_ca_dir(data_dir)

    opts = options.Options(
        listen_host=settings.listen_host,
        listen_port=settings.listen_port,
        mode=[settings.mode],
        confdir=str(confdir),
    )
    # request bodies limited and timed, responses never (before any stream exists)
    httplayer.install(httplayer.BodyDeadline(settings.body_timeout, settings.body_min_rate))
    master = lean_master(opts)
    opts.update(termlog_verbosity="warn")
    check_set_names(opts, settings.sets)
    try:
        if settings.sets:
            opts.set(*settings.sets)
    except Exception as e:  # noqa: BLE001 - mitmproxy's OptionsError: unknown option or bad value
        raise UsageError(f"--set: {e}") from None
    check_body_options(settings.sets, policy.limits.max_body_bytes)
    secure_ca_dir(data_dir)  # mitmproxy created the CA while configuring; re-check modes

    runtime = Runtime(policy=policy, mode=settings.mode)
    metrics = Metrics(mode=runtime.mode_kind)
    metrics.policy_reload("success", policy.hash, rules=[r.name for r in policy.rules])
    metrics.set_ready("policy", True)
    pac = pac_source(pac_address(settings.pac_proxy, settings.listen_host, settings.listen_port),
                     lambda: runtime.policy.internal_hosts)
    health = serve_health(settings.metrics_host, settings.metrics_port, metrics, pac=pac) \
        if settings.metrics_port and link is None else None  # the supervisor serves the box's

    # Bodies up to InspectionPool's default inline_body_bytes (16 KiB) are extracted in this
    # process, in every shape: measured on the 2-core box (CPU per request from /proc, clean
    # 4 KB JSON, 10 conns, --processes 1): extracting here costs this process 1.8 ms and the
    # workers nothing (540 req/s); sending the body to a worker (0) saves this process only
    # 0.2 ms but costs the worker 1.0 ms (pickling, a second process's wake-up) and the round
    # trip (410-420 req/s). With one mobile masked the two tie (250/260, 166/170 req/s). With
    # --processes = cores no core is spare, so the least total CPU wins: here too.
    prepare_unseen()  # the words refused requests' records may keep: now, not in a refusal's hook
    pool = InspectionPool(policy.detection, size=settings.workers or cores())
    await pool.start()
    metrics.set_ready("detector", True)
    private_key = ensure_keys(data_dir)
    if private_key:
        warn_private_key(private_key)
    use_fingerprint_key(ensure_mask_key(data_dir))  # records' masks: 11****...#7f3a2c
    decision_log = DecisionLog(data_dir, sync=False, max_bytes=settings.decision_log_max_bytes,
                               keep=settings.decision_log_keep, policy=lambda: runtime.policy)
    recorder = Recorders(decision_log, IncidentStore(data_dir))
    metrics.set_ready("incident_log", True)
    addon = BaomiAddon(runtime, pool, recorder, metrics)
    drain = Drain()
    addon.on_record_stop = stop = RecordStop(drain, master, supervised=link is not None)
    connections = ClientConnections(metrics, settings.head_timeout, settings.idle_timeout,
                                    settings.max_connections)  # before addon: refusals are cheap
    master.addons.add(connections, addon, IgnoredHosts(addon), drain,  # after NextLayer
                      link.announcer() if link else _Banner(settings, policy, confdir, health))
    if link:
        reuseport.install()  # the other proxy processes listen on the same port

    async def new_pool(config: DetectorConfig) -> InspectionPool:
        fresh = InspectionPool(config, size=settings.workers or cores())
        await fresh.start()
        return fresh

    reloader = PolicyReloader(settings.policy, runtime, addon, metrics, new_pool)
    approvals = ApprovalWatcher(data_dir, runtime)  # data-dir approvals, in force within ~1 s
    approvals.refresh()
    reloader.merge = approvals.merge  # a reloaded policy gets them at once, no gap
    use_application_links(settings.console_url, ensure_link_key(data_dir),
                          lambda: runtime.policy)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, drain.begin, master)
    loop.add_signal_handler(signal.SIGUSR1, reopen_log, decision_log)  # after an external logrotate
    if link:  # the supervisor validates and reloads every process together
        loop.add_signal_handler(signal.SIGHUP, lambda: None)
        watcher = loop.create_task(link.follow(reloader, drain, master))
    else:
        loop.add_signal_handler(signal.SIGHUP, reloader.trigger)
        watcher = loop.create_task(reloader.watch(interval=1.0))
    approval_watcher = loop.create_task(approvals.watch(interval=1.0))
    # Everything loaded so far (mitmproxy, Presidio's modules, the policy) lives as long as
    # the process: keep it out of the garbage collector's full passes on the hot path.
    gc.freeze()
    try:
        await master.run()
    finally:
        watcher.cancel()
        approval_watcher.cancel()
        addon.pool.close()
        close_recorder(recorder)
        if health:
            health.shutdown()
    return stop.code


class RecordStop:
    """The incident log takes no further record until the process restarts (a failed fsync:
    what was written may not be on the disk, and other writers' frames may follow it, so
    the file cannot be cut back): drain (requests in flight get their 503) and exit
    EXIT_RECORD_FAILURE. The supervisor restarts the process; with ``-p 1`` the service
    manager does (systemd ``Restart=on-failure``, compose ``restart: unless-stopped``, k8s):
    restarting in place would keep this process's state, which is what failed. The new
    process's log starts a segment of its own after the last whole frame."""

    def __init__(self, drain: Drain, master, supervised: bool):
        self.drain, self.master, self.supervised = drain, master, supervised
        self.code = 0

    def __call__(self, why: str) -> None:
        if self.code:
            return
        self.code = EXIT_RECORD_FAILURE
        who = "the supervisor restarts it" if self.supervised \
            else "run baomi under a service manager that restarts it (systemd Restart=on-failure)"
        log.error("incident log stopped (%s): no further record until restart; draining and "
                  "exiting %d: %s", why, EXIT_RECORD_FAILURE, who)
        if not self.drain.begun:  # a SIGTERM drain under way ends the same way
            self.drain.begin(self.master)


def close_recorder(recorder: Recorders) -> None:
    try:
        recorder.close()
    except BaomiError as e:  # a stopped log cannot sign its final checkpoint: say so, go on
        log.error("%s", e)


def reopen_log(decision_log: DecisionLog) -> None:
    """SIGUSR1: write to a fresh decisions.jsonl; on failure the old file stays in use."""
    try:
        decision_log.reopen()
    except BaomiError as e:
        log.error("%s", e)
        return
    log.info("decision log reopened: %s", decision_log.path)


# mitmproxy options baomi sets itself from the policy; a user's value would be overridden
# (or, for stream_large_bodies, let request bodies through uninspected).
OWNED_OPTIONS = {
    "body_size_limit": "baomi sets it from the policy's limits.max_body_bytes (requests only; "
                       "responses are streamed, never limited): change the policy instead",
    "stream_large_bodies": "it would stream request bodies upstream uninspected; the policy's "
                           "failure.on_oversize decides what happens to large requests",
}


def check_set_names(opts, sets: tuple[str, ...]) -> None:
    """Refuse a ``--set`` that this master would not act on, naming why (run before
    mitmproxy's own checks of the values)."""
    for item in sets:
        name = item.partition("=")[0].strip()
        if name in UNREAD_OPTIONS:
            raise UsageError(f"--set {name}: baomi does not load the mitmproxy addon that reads "
                             "this option (the console, flow dumper and content views); it "
                             "would be ignored")
        if name not in opts:
            raise UsageError(f"--set {name}: no such option in baomi: mitmproxy has none by "
                             "that name, or it belongs to a mitmproxy addon baomi does not load "
                             "(flow saving, scripts, replay, map/modify, the console and web UI)")


def check_body_options(sets: tuple[str, ...], max_body_bytes: int) -> None:
    """Refuse a ``--set`` that conflicts with the policy's limits instead of overriding it."""
    from mitmproxy.utils.human import parse_size

    for item in sets:
        name, _, value = (part.strip() for part in item.partition("="))
        if name not in OWNED_OPTIONS:
            continue
        try:
            same = name == "body_size_limit" and parse_size(value) == max_body_bytes
        except ValueError:
            same = False
        if not same:
            raise UsageError(f"--set {name}={value}: not accepted: {OWNED_OPTIONS[name]}")


def warn_private_key(path: Path) -> None:
    bar = "!" * 78
    print(
        f"{bar}\n"
        f"baomi created the reviewers' key pair. The PRIVATE key that decrypts incident evidence\n"
        f"was written once to {path} (mode 0600).\n"
        f"MOVE IT OFF THIS HOST now, to the security reviewers (e.g. a password manager or HSM);\n"
        f"the proxy only needs the public half (kept in {path.parent / 'keys'}).\n"
        f"{bar}",
        file=sys.stderr, flush=True,
    )


class _Banner:
    """Prints where the proxy listens once mitmproxy's servers are up."""

    def __init__(self, settings: RunSettings, policy, confdir: Path, health):
        self.settings, self.policy, self.confdir, self.health = settings, policy, confdir, health

    def running(self) -> None:
        s = self.settings
        pem, _ = ca_paths(self.confdir)
        print(
            f"baomi listening on {s.listen_host}:{s.listen_port} mode={s.mode}\n"
            f"  policy {self.policy.path} ({self.policy.hash})\n"
            f"  client CA certificate: {pem}\n"
            f"  decision log: {s.data_dir / 'decisions.jsonl'}\n"
            + (f"  metrics: http://{s.metrics_host}:{self.health.port}/metrics (/healthz, /readyz)"
               if self.health else "  metrics: off"),
            flush=True,
        )


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("mitmproxy").setLevel(logging.WARNING)  # no per-connection chatter


def run(settings: RunSettings) -> int:
    from proxy.app.supervisor import processes_wanted, supervise

    setup_logging()
    if processes_wanted(settings) > 1:
        return supervise(settings)
    try:
        return asyncio.run(serve(settings), loop_factory=loop_factory())
    except BaomiError:
        raise
    except KeyboardInterrupt:
        return 0
