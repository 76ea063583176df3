"""`baomi run --processes N` without starting baomi: the flag, what N processes cannot share,
the drain, and the box's one scrape over real per-process metric files.

The end-to-end tests are tests/test_e2e_processes.py (and _transparent.py).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from harness import free_port
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from proxy import cli
from proxy.app.control import settings_from_json, settings_to_json
from proxy.app.cpus import cores
from proxy.app.drain import Drain
from proxy.app.settings import RunSettings
from proxy.app.supervisor import check_processes, processes_wanted, refuse_port_in_use, workers_of
from proxy.errors import UsageError
from proxy.observe.box import BoxMetrics, reset_dir
from proxy.observe.metrics import SUPERVISOR_COMPONENTS, Metrics


def settings(**kw) -> RunSettings:
    return RunSettings(policy=Path("policies/default.yaml"), **kw)


# -- the flag ----------------------------------------------------------------------------------

def parsed(monkeypatch, argv: list[str], env: dict | None = None) -> RunSettings:
    from proxy.app import run

    monkeypatch.delenv("BAOMI_PROCESSES", raising=False)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    captured: list[RunSettings] = []
    monkeypatch.setattr(run, "run", lambda s: captured.append(s) or 0)
    assert cli.main(["run", *argv]) == 0
    return captured[0]


def test_processes_flag_environment_and_default(monkeypatch):
    assert parsed(monkeypatch, []).processes is None  # the cores, decided at start
    assert parsed(monkeypatch, [], {"BAOMI_PROCESSES": "3"}).processes == 3
    assert parsed(monkeypatch, ["--processes", "1"], {"BAOMI_PROCESSES": "3"}).processes == 1
    assert processes_wanted(settings()) == cores()  # affinity, capped by a cgroup quota


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_processes_must_be_a_whole_number_from_1(monkeypatch, capsys, value):
    monkeypatch.delenv("BAOMI_PROCESSES", raising=False)
    assert cli.main(["run", "--processes", value]) == 2
    assert capsys.readouterr().err == f"Error: --processes must be a whole number >= 1, got {value!r}\n"


def test_workers_is_the_box_total_split_between_processes():
    assert [workers_of(settings(workers=4), 2, i) for i in (0, 1)] == [2, 2]
    assert [workers_of(settings(workers=3), 2, i) for i in (0, 1)] == [2, 1]
    assert [workers_of(settings(workers=1), 3, i) for i in (0, 1, 2)] == [1, 1, 1]


def test_settings_cross_the_line_unchanged():
    s = settings(mode="upstream:http://10.0.0.1:3128", sets=("connection_strategy=lazy",),
                 workers=3, processes=1, metrics_port=9464, data_dir=Path("/var/lib/baomi"))
    assert settings_from_json(settings_to_json(s)) == s


# -- what N processes cannot share --------------------------------------------------------------

@pytest.mark.parametrize("mode", ["regular", "transparent", "upstream:http://10.0.0.1:3128",
                                  "reverse:https://example.com", "reverse:http://10.0.0.2:80",
                                  "socks5"])
def test_modes_on_one_tcp_port_are_shared(mode):
    check_processes(settings(mode=mode, listen_port=8080), 2)


@pytest.mark.parametrize("mode", ["wireguard", "dns", "reverse:quic://example.com",
                                  "reverse:dns://8.8.8.8", "local", "tun"])
def test_other_modes_need_one_process(mode):
    with pytest.raises(UsageError, match=r"--processes 2: mode .* cannot share its listener"):
        check_processes(settings(mode=mode, listen_port=8080), 2)


@pytest.mark.parametrize("kw", [{"mode": "wireguard"}, {"listen_port": 0}])
def test_by_default_what_cannot_be_shared_runs_in_one_process(kw):
    assert processes_wanted(settings(**kw)) == 1
    with pytest.raises(UsageError):
        check_processes(settings(**kw, processes=2), 2)  # asked for by name: refused


def test_port_0_would_give_each_process_its_own():
    with pytest.raises(UsageError, match="--listen-port 0"):
        check_processes(settings(listen_port=0), 2)


def test_a_port_in_use_is_refused_not_joined():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(UsageError, match=f"cannot listen on 127.0.0.1:{port}"):
            refuse_port_in_use("127.0.0.1", port)
    refuse_port_in_use("127.0.0.1", free_port())


# -- the drain --------------------------------------------------------------------------------------

class _Flow:
    def __init__(self):
        self.metadata: dict = {}
        self.client_conn = SimpleNamespace(id=str(id(self)))  # the drain reads its id


class _Master:
    def __init__(self):
        self.options = self
        self.updates: list[dict] = []
        self.stopped = asyncio.Event()

    def update(self, **kw):
        self.updates.append(kw)

    def shutdown(self):
        self.stopped.set()


def test_drain_stops_accepting_then_waits_for_requests_in_flight():
    async def main():
        drain, master = Drain(grace=60), _Master()
        a, b = _Flow(), _Flow()
        drain.requestheaders(a)
        drain.requestheaders(b)
        drain.begin(master)
        await asyncio.sleep(0)
        assert master.updates == [{"server": False}] and not master.stopped.is_set()
        drain.response(a)
        drain.response(a)  # a second hook for one flow does not count twice
        await asyncio.sleep(0)
        assert not master.stopped.is_set()
        drain.error(b)
        await asyncio.wait_for(master.stopped.wait(), 10)
        assert drain.in_flight == 0

    asyncio.run(main())


def test_drain_gives_up_after_its_grace_and_a_second_signal_stops_at_once():
    async def main():
        drain, master = Drain(grace=0.05), _Master()
        drain.requestheaders(_Flow())  # never answered
        drain.begin(master)
        await asyncio.wait_for(master.stopped.wait(), 10)
        again = _Master()
        drain.begin(again)
        assert again.stopped.is_set()

    asyncio.run(main())


# -- one scrape for the box ---------------------------------------------------------------------

CHILD = textwrap.dedent("""
    import sys
    from proxy.observe.metrics import Metrics
    from proxy.record.decisions import DecisionRecord
    m = Metrics(mode="regular")
    m.policy_reload("success", "sha256:child", rules=["r"])
    for c in ("policy", "detector", "incident_log"):
        m.set_ready(c, True)
    if sys.argv[2] == "sick":
        m.set_ready("incident_log", False)
    for _ in range(int(sys.argv[1])):
        m.requests.labels("block", "regular").inc()
    m.inspection_duration.observe(0.01)
""")


def child_metrics(directory: Path, blocks: int, state: str = "well") -> int:
    done = subprocess.run([sys.executable, "-c", CHILD, str(blocks), state], check=True,
                          env={"PROMETHEUS_MULTIPROC_DIR": str(directory), "PATH": "/usr/bin"},
                          cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True)
    return done.returncode


def scrape(box: BoxMetrics) -> dict:
    text = generate_latest(box.registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def test_one_scrape_sums_the_processes_and_the_supervisor_owns_the_policy(tmp_path):
    directory = reset_dir(tmp_path / "metrics.d")
    child_metrics(directory, 3)
    child_metrics(directory, 4)
    own = Metrics(mode="regular", components=SUPERVISOR_COMPONENTS)
    own.policy_reload("success", "sha256:box")
    own.set_ready("policy", True)
    box = BoxMetrics(own, directory, lambda: (2, 2))
    got = scrape(box)
    assert got[("baomi_requests_total", (("action", "block"), ("mode", "regular")))] == 7
    assert got[("baomi_inspection_duration_seconds_count", ())] == 2
    assert [k for k in got if k[0] == "baomi_policy_info"] == [
        ("baomi_policy_info", (("hash", "sha256:box"),))]  # the children's hash is not shown
    assert got[("baomi_policy_reloads_total", (("result", "success"),))] == 1
    assert got[("baomi_process_restarts_total", ())] == 0
    assert got[("baomi_ready", (("component", "processes"),))] == 1
    assert box.ready() == dict.fromkeys(SUPERVISOR_COMPONENTS, True)


def test_the_box_is_not_ready_if_a_process_is_not(tmp_path):
    directory = reset_dir(tmp_path / "metrics.d")
    child_metrics(directory, 1)
    child_metrics(directory, 1, "sick")
    own = Metrics(mode="regular", components=SUPERVISOR_COMPONENTS)
    own.set_ready("policy", True)
    assert BoxMetrics(own, directory, lambda: (2, 2)).ready() == {
        "policy": True, "detector": True, "incident_log": False, "processes": True}
    down = BoxMetrics(own, directory, lambda: (1, 2)).ready()
    assert down == {"policy": True, "detector": False, "incident_log": False, "processes": False}


def test_reset_dir_drops_the_files_of_a_previous_run(tmp_path):
    directory = reset_dir(tmp_path / "metrics.d")
    child_metrics(directory, 5)
    assert list(directory.glob("*.db"))
    assert not list(reset_dir(directory).glob("*.db"))


# -- children die with the supervisor -----------------------------------------------------------

GRANDCHILD = textwrap.dedent("""
    import signal, sys, time
    from proxy.app.child import die_with_parent
    signal.signal(signal.SIGTERM, lambda *_: (print("SIGTERM", flush=True), sys.exit(0)))
    print("armed" if die_with_parent(int(sys.argv[1])) else "parent gone", flush=True)
    time.sleep(120)
""")
PARENT = textwrap.dedent("""
    import os, subprocess, sys
    child = subprocess.Popen([sys.executable, "-c", sys.argv[1], str(os.getpid())])
    print(child.pid, flush=True)
    child.wait()
""")


def test_a_proxy_process_gets_sigterm_when_the_supervisor_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", PARENT, GRANDCHILD], stdout=subprocess.PIPE,
                              text=True, cwd=Path(__file__).resolve().parents[1])
    with parent.stdout:
        grandchild = int(parent.stdout.readline())
        assert parent.stdout.readline() == "armed\n"
        parent.kill()  # kill -9: no chance to pass anything on
        parent.wait()
        assert parent.stdout.read() == "SIGTERM\n"  # then EOF: it is exiting
    deadline = time.monotonic() + 30
    while _alive(grandchild):  # its exit, after the EOF
        assert time.monotonic() < deadline, "the proxy process outlived its supervisor"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_proxy_process_whose_supervisor_is_already_gone_does_not_start():
    """(in a process of its own: the death signal must not be armed on pytest itself)"""
    code = "import sys; from proxy.app.child import die_with_parent; " \
           "print(die_with_parent(int(sys.argv[1])))"
    out = [subprocess.run([sys.executable, "-c", code, str(pid)], capture_output=True, text=True,
                          check=True, cwd=Path(__file__).resolve().parents[1]).stdout
           for pid in (os.getpid(), os.getpid() + 1_000_000)]
    assert out == ["True\n", "False\n"]


def _ignored_signals(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return int(line.split()[1], 16)
    return 0


def test_sigusr1_and_sighup_do_not_kill_a_proxy_process_still_starting():
    """The supervisor forwards SIGUSR1 to every process, including one not yet serving."""
    import signal

    parent_end, child_end = socket.socketpair()
    with parent_end:
        child = subprocess.Popen(
            [sys.executable, "-m", "proxy.app.child", str(child_end.fileno()), str(os.getpid())],
            pass_fds=(child_end.fileno(),), cwd=Path(__file__).resolve().parents[1])
        child_end.close()
        wanted = (1 << (signal.SIGUSR1 - 1)) | (1 << (signal.SIGHUP - 1))
        deadline = time.monotonic() + 60
        while _ignored_signals(child.pid) & wanted != wanted:  # set before it imports much
            assert child.poll() is None and time.monotonic() < deadline, "never ignored them"
            time.sleep(0.01)
        child.send_signal(signal.SIGUSR1)
        child.send_signal(signal.SIGHUP)
    # the supervisor's end closed with no "start": the process gives up as it should, alive
    # until then (the signals' default action would have ended it with -10 / -1)
    assert child.wait(60) == 1


def test_a_port_in_mode_is_checked_like_listen_port(monkeypatch, tmp_path):
    from proxy.app import supervisor

    monkeypatch.setattr(supervisor.asyncio, "run", lambda main: main.close() or 99)  # no start
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(UsageError, match=f"cannot listen on 127.0.0.1:{port}"):
            supervisor.supervise(settings(mode=f"regular@{port}", listen_port=free_port(),
                                          processes=2, data_dir=tmp_path / "data"))
    with pytest.raises(UsageError, match="--processes 2: --mode regular@0 would give each"):
        check_processes(settings(mode="regular@0", listen_port=8080), 2)
