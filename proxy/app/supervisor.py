"""`baomi run --processes N` (N > 1): one supervisor, N proxy processes on one port.

    supervise(RunSettings(policy=Path("policies/default.yaml"), processes=2))

The `baomi run` process becomes the supervisor; it serves no traffic itself. It

- validates the policy and starts N proxy processes (``python -m proxy.app.child``), the
  first alone (it creates the CA and the keys on a fresh data directory), then the others;
  each binds the listening port with ``SO_REUSEPORT`` (proxy/app/reuseport.py) and the
  kernel spreads connections between them;
- serves /metrics (one scrape for the box, proxy/observe/box.py), /healthz, /readyz and
  /proxy.pac on the metrics port;
- on SIGHUP or a change of the policy file, validates the new policy and moves every process
  to it or none (prepare everywhere, then commit everywhere; any failure aborts everywhere
  and counts a rejected reload);
- restarts a process that dies (back-off 0.5 s doubling to 30 s, reset after a minute
  up), counting ``baomi_process_restarts_total``;
- on SIGTERM/SIGINT drains every process (they stop accepting, finish what is in flight)
  and exits 0; SIGUSR1 (reopen the decision log) is passed on to every process.

``--workers`` is the total number of detector workers on the box (default: the cores),
split between the processes (at least one each), so N processes do not oversubscribe the
CPU; with one process it means what it always did. Without ``--processes``, a mode the
processes cannot share (wireguard, dns, local, ...) or ``--listen-port 0`` runs one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from prometheus_client.multiprocess import mark_process_dead

from policies.load import parse_policy
from proxy.app.control import Line, encode, settings_to_json
from proxy.app.cpus import cores
from proxy.app.keys_at_rest import refuse_exposed_keys
from proxy.app.reload import accepted, fingerprint, read_policy_file, rejected, watch_file
from proxy.app.settings import RunSettings
from proxy.errors import UsageError
from proxy.observe.box import BoxMetrics, reset_dir
from proxy.observe.health import serve as serve_health
from proxy.observe.metrics import SUPERVISOR_COMPONENTS, Metrics
from proxy.observe.pac import pac_address, pac_source

log = logging.getLogger("baomi.supervisor")

# Modes whose listener is one TCP socket mitmproxy opens through AsyncioServerInstance.listen.
SHARED_PORT_MODES = ("regular", "transparent", "upstream", "reverse", "socks5")
UDP_SCHEMES = ("http3", "dtls", "udp", "quic", "dns")  # reverse modes with no TCP listener to share
BACKOFF_FIRST, BACKOFF_MAX, STABLE_AFTER = 0.5, 30.0, 60.0
PREPARE_TIMEOUT = 300.0  # a new detector (spaCy model) may take minutes on a busy box
STOP_TIMEOUT = 30.0  # after SIGTERM: the drain's grace (10 s) and the shutdown
# A proxy process whose incident log stopped (a failed fsync) drains and exits with this
# (sysexits' EX_TEMPFAIL: try again); restarted like any other death. `-p 1` exits with it
# too, for the service manager (systemd's Restart=on-failure) to restart.
EXIT_RECORD_FAILURE = 75


def processes_wanted(settings: RunSettings) -> int:
    """``--processes``, else the cores; by default a mode N processes cannot share runs in one.

    >>> processes_wanted(RunSettings(policy=Path("p"), mode="wireguard"))
    1
    """
    if settings.processes:
        return settings.processes
    try:
        check_processes(settings, 2)
    except UsageError:
        return 1
    return cores()


def workers_of(settings: RunSettings, processes: int, index: int) -> int:
    """Process ``index``'s share of the box's detector workers (at least one).

    >>> [workers_of(RunSettings(policy=Path("p"), workers=5), 2, i) for i in (0, 1)]
    [3, 2]
    >>> workers_of(RunSettings(policy=Path("p"), workers=1), 2, 1)
    1
    """
    total = settings.workers or cores()
    return max(1, total // processes + (1 if index < total % processes else 0))


def check_processes(settings: RunSettings, processes: int) -> None:
    """Refuse what several processes cannot share: a mode not on one TCP port, port 0."""
    from mitmproxy.proxy.mode_specs import ProxyMode

    try:
        mode = ProxyMode.parse(settings.mode)
    except ValueError as e:
        raise UsageError(f"--mode {settings.mode}: {e}") from None
    scheme = getattr(mode, "scheme", "")
    if mode.type_name not in SHARED_PORT_MODES or scheme in UDP_SCHEMES:
        raise UsageError(f"--processes {processes}: mode {settings.mode.split(':')[0]}"
                         f"{':' + scheme if scheme else ''} cannot share its listener between "
                         f"processes; use --processes 1 (shared: {', '.join(SHARED_PORT_MODES)}"
                         " over TCP)")
    if mode.listen_port(settings.listen_port) == 0:
        where = f"--mode {settings.mode}" if mode.custom_listen_port is not None \
            else "--listen-port 0"
        raise UsageError(f"--processes {processes}: {where} would give each process "
                         "its own port; name one")


def listen_address(settings: RunSettings) -> tuple[str, int]:
    """Where the processes listen: a ``@[host:]port`` in ``--mode`` wins, as in mitmproxy.

    >>> listen_address(RunSettings(policy=Path("p"), mode="regular@9001", listen_port=8080))
    ('127.0.0.1', 9001)
    """
    from mitmproxy.proxy.mode_specs import ProxyMode

    mode = ProxyMode.parse(settings.mode)
    return mode.listen_host(settings.listen_host), mode.listen_port(settings.listen_port) or 0


def refuse_port_in_use(host: str, port: int) -> None:
    """SO_REUSEPORT would let our processes join another program's (same user) listener:
    make sure the port is free first, as a single process would."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # as asyncio's listener does: old TIME_WAIT connections do not count, a listener does
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            raise UsageError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None


@dataclass
class Child:
    proc: asyncio.subprocess.Process
    line: Line
    running: asyncio.Event = field(default_factory=asyncio.Event)
    replies: asyncio.Queue = field(default_factory=asyncio.Queue)
    hash: str = ""
    started: float = field(default_factory=time.monotonic)

    async def ask(self, message: dict, answer: str, timeout: float) -> dict:
        """Send and wait for the reply ``answer``; {"ok": False, ...} if none comes."""
        exited = False
        while not self.replies.empty():  # late replies to earlier, timed-out questions go,
            exited = self.replies.get_nowait() is None or exited  # the end of the line stays
        if exited:
            self.replies.put_nowait(None)
        try:
            await self.line.send(message)
            while True:
                reply = await asyncio.wait_for(self.replies.get(), timeout)
                if reply is None:
                    return {"ok": False, "error": f"process {self.proc.pid} exited"}
                if reply.get("op") == answer:
                    return reply
        except (TimeoutError, ConnectionError) as e:
            return {"ok": False, "error": f"process {self.proc.pid} did not answer ({e!r})"}


class StartupFailed(Exception):
    def __init__(self, code: int):
        self.code = code


class Supervisor:
    def __init__(self, settings: RunSettings, processes: int):
        self.settings, self.processes = settings, processes
        self.pac = pac_source(  # a bad --pac-proxy stops start-up before anything is logged
            pac_address(settings.pac_proxy, settings.listen_host, settings.listen_port),
            lambda: self.policy.internal_hosts)
        self.path = Path(settings.policy)
        self.raw = _read_policy(self.path)
        self.policy = parse_policy(self.raw, str(self.path))  # a bad policy stops start-up
        self.multiproc = reset_dir(settings.data_dir / "metrics.d")
        self.metrics = Metrics(mode=settings.mode, components=SUPERVISOR_COMPONENTS)
        self.metrics.policy_reload("success", self.policy.hash,
                                   rules=[r.name for r in self.policy.rules])
        self.metrics.set_ready("policy", True)
        self.box = BoxMetrics(self.metrics, self.multiproc, self.up)
        self.children: list[Child | None] = [None] * processes
        self.stopping = asyncio.Event()
        self.started = False
        self._lock = asyncio.Lock()
        self._seen: str | None = hashlib.sha256(self.raw).hexdigest()
        self._tasks: set[asyncio.Task] = set()

    def up(self) -> tuple[int, int]:
        live = sum(1 for c in self.children if c and c.running.is_set()
                   and c.proc.returncode is None)
        return live, self.processes

    # -- processes ---------------------------------------------------------------------------

    async def spawn(self, index: int) -> Child:
        parent_end, child_end = socket.socketpair()
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(self.multiproc)}
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "proxy.app.child", str(child_end.fileno()), str(os.getpid()),
                pass_fds=(child_end.fileno(),), env=env,
                start_new_session=True,  # a terminal's Ctrl-C reaches the supervisor only
            )
        finally:
            child_end.close()
        child = Child(proc, await Line.open(parent_end))
        settings = replace(self.settings, processes=1,
                           workers=workers_of(self.settings, self.processes, index))
        await child.line.send({"op": "start", "settings": settings_to_json(settings),
                               "policy": encode(self.raw)})
        self._background(self._listen(child))
        return child

    async def _listen(self, child: Child) -> None:
        while (message := await child.line.receive()) is not None:
            if message.get("op") == "running":
                child.hash = message.get("hash", "")
                child.running.set()
                if child.hash != self.policy.hash and self.started:
                    self._background(self._align(child))
            else:
                child.replies.put_nowait(message)
        child.replies.put_nowait(None)

    async def start(self, index: int) -> Child:
        """Start process ``index`` and wait until it listens; StartupFailed if it exits."""
        child = await self.spawn(index)
        self.children[index] = child
        running = asyncio.ensure_future(child.running.wait())
        exited = asyncio.ensure_future(child.proc.wait())
        stopping = asyncio.ensure_future(self.stopping.wait())  # SIGTERM while starting
        await asyncio.wait((running, exited, stopping), return_when=asyncio.FIRST_COMPLETED)
        running.cancel()
        stopping.cancel()
        if self.stopping.is_set():
            exited.cancel()
            return child  # stop_all ends it
        if not child.running.is_set():
            await exited
            self._reap(index, child)
            raise StartupFailed(child.proc.returncode or 1)
        exited.cancel()
        return child

    async def keep(self, index: int) -> None:
        """Restart process ``index`` whenever it dies, with back-off, until stopping."""
        delay = 0.0
        while True:
            child, up = self.children[index], 0.0
            if child is not None:
                code = await child.proc.wait()
                self._reap(index, child)
                if self.stopping.is_set():
                    return
                up = time.monotonic() - child.started
                log.error("proxy process %d exited (%s)%s; restarting it", child.proc.pid, code,
                          ": its incident log stopped" if code == EXIT_RECORD_FAILURE else "")
                self.metrics.process_restarted()
            delay = BACKOFF_FIRST if up > STABLE_AFTER or not delay \
                else min(delay * 2, BACKOFF_MAX)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)
            if self.stopping.is_set():
                return
            try:
                await self.start(index)
            except StartupFailed as e:
                log.error("proxy process #%d of %d failed to start (exit %d)", index + 1,
                          self.processes, e.code)

    def _reap(self, index: int, child: Child) -> None:
        mark_process_dead(child.proc.pid, str(self.multiproc))  # its live gauges go
        child.line.close()
        if self.children[index] is child:
            self.children[index] = None

    async def stop_all(self) -> None:
        live = [c for c in self.children if c and c.proc.returncode is None]
        for child in live:
            with contextlib.suppress(ProcessLookupError):
                child.proc.send_signal(signal.SIGTERM)
        for child in live:
            try:
                await asyncio.wait_for(child.proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                log.error("proxy process %d did not stop; killing it", child.proc.pid)
                child.proc.kill()
                await child.proc.wait()
        for child in live:
            child.line.close()

    def forward(self, sig: int) -> None:
        for child in self.children:
            if child and child.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    child.proc.send_signal(sig)

    def _background(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- reloads -----------------------------------------------------------------------------

    def trigger(self) -> None:
        self._background(self.reload("SIGHUP"))

    async def watch(self, interval: float = 1.0) -> None:
        await watch_file(lambda: fingerprint(self.path), lambda: self._seen, self.reload,
                         interval)

    async def reload(self, why: str) -> bool:
        """Validate the file, then move every process to it, or none."""
        async with self._lock:
            read = read_policy_file(self.path)
            if read.raw is not None:
                self._seen = read.seen  # a bad file is not retried every poll
            if read.raw is None or read.policy is None:
                return self._reject(why, read.errors)
            raw, policy = read.raw, read.policy
            if policy.hash == self.policy.hash:
                accepted(self.metrics, why, policy, "unchanged")
                return True
            errors = await self._everywhere(raw, [c for c in self.children if c])
            if errors:
                return self._reject(why, errors)
            self.raw, self.policy = raw, policy
            accepted(self.metrics, why, policy, "reloaded")
            return True

    async def _everywhere(self, raw: bytes, children: list[Child]) -> list[str]:
        """Prepare ``raw`` in every child, then commit in all or abort in all; the errors."""
        prepare = {"op": "prepare", "policy": encode(raw)}
        replies = await asyncio.gather(*(c.ask(prepare, "prepared", PREPARE_TIMEOUT)
                                         for c in children))
        errors = [r.get("error", "not prepared") for r in replies if not r.get("ok")]
        if errors:
            for child in children:
                with contextlib.suppress(ConnectionError):
                    await child.line.send({"op": "abort"})
            return errors
        # Every process holds the new policy ready: the swap itself cannot fail. A process
        # that does not confirm it (gone, hung) is restarted, with the policy in force.
        replies = await asyncio.gather(*(c.ask({"op": "commit"}, "committed", 30)
                                         for c in children))
        for child, reply in zip(children, replies, strict=True):
            if reply.get("op") != "committed" and child.proc.returncode is None:
                log.error("proxy process %d did not commit the policy (%s); restarting it",
                          child.proc.pid, reply.get("error", "no reply"))
                child.proc.terminate()
        return []

    async def _align(self, child: Child) -> None:
        """A process started while a reload committed: bring it to the policy in force."""
        async with self._lock:
            if child.hash != self.policy.hash and child.proc.returncode is None:
                errors = await self._everywhere(self.raw, [child])
                if errors:
                    log.error("proxy process %d stays on %s: %s", child.proc.pid, child.hash,
                              errors[0])
                    child.proc.terminate()  # restarted with the policy in force

    def _reject(self, why: str, errors: list[str] | tuple[str, ...]) -> bool:
        return rejected(self.metrics, why, errors, self.policy.hash)

    # -- the whole run -----------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, self.trigger)
        # logrotate's postrotate signals the main pid: every process reopens its decision log
        loop.add_signal_handler(signal.SIGUSR1, self.forward, signal.SIGUSR1)
        health = self._serve_health()
        try:
            return await self._run()
        finally:
            await self.stop_all()
            if health:
                health.shutdown()

    async def _run(self) -> int:
        try:
            await self.start(0)  # alone: a fresh data dir gets its CA and keys once
            await asyncio.gather(*(self.start(i) for i in range(1, self.processes)))
        except StartupFailed as e:
            return e.code
        if self.stopping.is_set():
            return 0
        self.started = True
        for index in range(self.processes):
            self._background(self.keep(index))
        self._background(self.watch(interval=1.0))
        self._banner()
        if warning := migration_warning():  # once started: a refused start-up says only why
            log.warning("%s", warning)
        await self.stopping.wait()
        return 0

    def _serve_health(self):
        s = self.settings
        if not s.metrics_port:
            return None
        return serve_health(s.metrics_host, s.metrics_port, self.box, pac=self.pac)

    def _banner(self) -> None:
        s = self.settings
        pids = ", ".join(str(c.proc.pid) for c in self.children if c)
        print(
            f"baomi listening on {s.listen_host}:{s.listen_port} mode={s.mode} "
            f"processes={self.processes}\n"
            f"  proxy processes: {pids}\n"
            f"  policy {self.policy.path} ({self.policy.hash})\n"
            f"  client CA certificate: {s.data_dir / 'ca' / 'mitmproxy-ca-cert.pem'}\n"
            f"  decision log: {s.data_dir / 'decisions.jsonl'}\n"
            + (f"  metrics: http://{s.metrics_host}:{s.metrics_port}/metrics (/healthz, /readyz)"
               if s.metrics_port else "  metrics: off"),
            flush=True,
        )


def _read_policy(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        from policies.load import load_policy

        load_policy(path)  # raises the loader's own error for a file it cannot read
        raise


MIGRATE_REQ = Path("/proc/sys/net/ipv4/tcp_migrate_req")


def migration_warning(path: Path = MIGRATE_REQ) -> str | None:
    """What to say at start when a closing listener's queued connections would be reset (a
    drain or restart of one process) rather than moved to another process's socket
    (deploy/sysctl.d/90-baomi.conf); None when they move."""
    try:
        on = path.read_text().strip() == "1"
    except OSError:
        return ("this kernel cannot move a closing listener's queued connections to another "
                "process (net.ipv4.tcp_migrate_req, Linux 5.14+): a drain or restart of one "
                "proxy process resets the connections queued on it")
    if on:
        return None
    return ("net.ipv4.tcp_migrate_req is 0: a drain or restart of one proxy process resets "
            "the connections queued on it; set it to 1 (deploy/sysctl.d/90-baomi.conf)")


def supervise(settings: RunSettings) -> int:
    processes = processes_wanted(settings)
    check_processes(settings, processes)
    refuse_exposed_keys(settings.data_dir)  # before anything reads a key
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.data_dir, 0o700)
    refuse_port_in_use(*listen_address(settings))

    async def main() -> int:
        return await Supervisor(settings, processes).run()

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        return 0
