"""The inspection pool never hands out a dead worker.

Unit level: a real pool of spawned workers whose detector carries the test recognizers of
baomi_test_plugins (hang, slow, exit). End to end: the real `baomi run` after a detection
timeout serves every following clean request.

The bug these pin down: a worker killed on timeout still looked alive (SIGKILL is not
instant), went back into the pool, and the next request failed on its closed pipe ("OSError").
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import ssl
from pathlib import Path

import httpx
import pytest
import yaml
from baomi_test_plugins import EXIT_MARKER, HANG_MARKER, SLOW_MARKER
from harness import REPO, BaomiProcess

from detectors.engine import DetectorConfig
from proxy.errors import DetectionFailed, DetectionTimeout
from proxy.extraction.extract import Limits, RawRequest
from proxy.workers.pool import InspectionPool

SIZE = 2
PLUGINS = ("baomi_test_plugins:HangOnMarker", "baomi_test_plugins:SlowOnMarker",
           "baomi_test_plugins:ExitOnMarker")
LIMITS = Limits()
CLEAN = "order SO-2026-000123, deliver after 6pm"


def request(text: str) -> RawRequest:
    return RawRequest("POST", "https://example.com/x", (("content-type", "text/plain"),),
                      text.encode())


@pytest.fixture(scope="module")
def _pools(loop_runner):
    """The module's pools: one, unless a test left it unhealthy (see ``pool``)."""
    held: list[InspectionPool] = []
    yield held
    for p in held:
        p.close()


@pytest.fixture
def pool(loop_runner, _pools):
    """A full pool whose every worker runs and is idle. Shared by the module (starting workers
    takes seconds), but a test that failed with a dead worker left in it gives the next test a
    new pool: a test kills only workers it has just seen running, and one failure is one."""
    if _pools and not healthy(loop_runner, _pools[-1]):
        _pools.pop().close()
    if not _pools:
        p = InspectionPool(DetectorConfig(extra_recognizers=PLUGINS), size=SIZE, start_timeout=120)
        _pools.append(p)
        loop_runner.run(p.start())
    return _pools[-1]


def healthy(loop_runner, pool) -> bool:
    """Back to full size (replacements started), every worker running and idle."""
    loop_runner.run(pool._until_full())
    return (len(pool._workers) == SIZE and pool.live == SIZE
            and set(pool._idle._queue) == pool._workers)


def inspect(runner, pool, text: str, timeout: float = 30):
    return runner.run(pool.inspect(request(text), LIMITS, timeout))


def assert_full(pool):
    assert pool.live == SIZE and len(pool._workers) == SIZE


def test_after_a_timeout_the_next_requests_meet_a_full_pool(loop_runner, pool):
    with pytest.raises(DetectionTimeout):
        inspect(loop_runner, pool, f"x {HANG_MARKER}", timeout=1)
    first = inspect(loop_runner, pool, CLEAN)
    assert first.findings == () and first.segments >= 1
    assert_full(pool)  # restored before the first request after the kill was served
    for _ in range(5):
        assert inspect(loop_runner, pool, CLEAN).findings == ()
    assert_full(pool)


def test_workers_killed_while_idle_are_never_handed_out(loop_runner, pool):
    victims = list(pool._workers)
    for w in victims:
        os.kill(w.process.pid, signal.SIGKILL)
        w.process.join(10)  # the process is really gone, and nobody in the pool knows yet
    assert pool.live == 0
    assert inspect(loop_runner, pool, CLEAN).findings == ()
    assert_full(pool)
    assert not set(victims) & pool._workers


def test_a_watched_worker_is_taken_without_asking_the_process(loop_runner, pool, monkeypatch):
    """Taking an idle worker makes no system call (is_alive: waitpid, which hands the GIL
    to the record writer thread): its pipe's EOF says whether it died."""
    async def take_all():
        taken = [await pool._take(asyncio.get_running_loop().time() + 5, 5) for _ in range(SIZE)]
        for w in taken:
            pool._idle.put_nowait(w)
        return taken

    every_worker_answers(loop_runner, pool)
    for w in list(pool._workers):
        monkeypatch.setattr(w.process, "is_alive", _no_system_call)
    assert len(loop_runner.run(take_all())) == SIZE
    assert loop_runner.run(pool.inspect(request(CLEAN), LIMITS, 30)).findings == ()


def every_worker_answers(loop_runner, pool) -> None:
    """Concurrent calls, each on another idle worker: every pipe's reader is registered."""
    async def each_once():
        await pool._until_full()
        await asyncio.gather(*(pool.inspect(request(CLEAN), LIMITS, 30) for _ in range(SIZE)))

    loop_runner.run(each_once())
    assert all(w.channel is not None for w in pool._workers)


def _no_system_call():
    raise AssertionError("is_alive() asked for a worker whose pipe is watched")


def test_a_worker_seen_dead_by_its_pipe_is_not_taken(loop_runner, pool, caplog):
    every_worker_answers(loop_runner, pool)
    victim = pool._idle._queue[0]  # the worker the next request takes (calls end in any order)
    os.kill(victim.process.pid, signal.SIGKILL)
    victim.process.join(10)

    async def until_eof():  # the loop's reader callback sees the pipe close
        deadline = asyncio.get_running_loop().time() + 30
        while not victim.channel.eof:
            assert asyncio.get_running_loop().time() < deadline, "EOF never seen"
            await asyncio.sleep(0)

    loop_runner.run(until_eof())
    assert not victim.seems_alive
    with caplog.at_level(logging.WARNING, logger="baomi.pool"):
        assert inspect(loop_runner, pool, CLEAN).findings == ()
    assert [r.getMessage() for r in caplog.records] == [
        "detector worker found dead while idle; replacing it"
    ]
    assert_full(pool)
    assert victim not in pool._workers


def test_workers_dead_before_the_loop_saw_it_cost_no_retry(loop_runner, pool, caplog):
    """Killed while the loop did not run: the job's send fails (EPIPE), the worker is
    replaced, and the request is served without spending its one retry."""
    victims = list(pool._workers)
    for w in victims:
        os.kill(w.process.pid, signal.SIGKILL)
        w.process.join(10)
    with caplog.at_level(logging.WARNING, logger="baomi.pool"):
        assert inspect(loop_runner, pool, CLEAN).findings == ()
    assert not [r for r in caplog.records if "retrying once" in r.getMessage()]
    assert_full(pool)
    assert not set(victims) & pool._workers


def test_worker_lost_under_a_call_is_retried_on_a_live_worker(loop_runner, pool, caplog):
    async def kill_busy_worker_during_call():
        call = asyncio.ensure_future(pool.inspect(request(f"x {SLOW_MARKER}"), LIMITS, 30))
        deadline = asyncio.get_running_loop().time() + 30
        while not (busy := [w for w in pool._workers if w not in pool._idle._queue]):
            assert asyncio.get_running_loop().time() < deadline, "the job never took a worker"
            await asyncio.sleep(0)  # yields until the job has taken a worker
        os.kill(busy[0].process.pid, signal.SIGKILL)
        return await call

    with caplog.at_level(logging.WARNING, logger="baomi.pool"):
        result = loop_runner.run(kill_busy_worker_during_call())
    assert result.findings == ()
    assert [r.getMessage() for r in caplog.records] == [
        "detector worker lost during a call; retrying once on a live worker"
    ]
    assert_full(pool)


def test_worker_that_dies_twice_gets_on_error_and_the_pool_recovers(loop_runner, pool, caplog):
    with caplog.at_level(logging.WARNING, logger="baomi.pool"), \
            pytest.raises(DetectionFailed) as e:
        inspect(loop_runner, pool, f"x {EXIT_MARKER}")
    assert type(e.value) is DetectionFailed  # -> the policy's on_error
    assert e.value.kind == "error"
    assert str(e.value) == "detector worker died (EOFError) (retried once)"
    assert EXIT_MARKER not in str(e.value)
    retries = [r for r in caplog.records if "retrying once" in r.getMessage()]
    assert len(retries) == 1
    assert inspect(loop_runner, pool, CLEAN).findings == ()
    assert_full(pool)


# -- end to end ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hanging_proxy(tmp_path_factory, upstream_ca):
    tmp = tmp_path_factory.mktemp("pool-e2e")
    data = yaml.safe_load((REPO / "policies" / "default.yaml").read_text())
    data["detection"]["extra_recognizers"] = ["baomi_test_plugins:HangOnMarker"]
    data["limits"]["timeout_seconds"] = 2
    policy = Path(tmp / "policy.yaml")
    policy.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    with BaomiProcess(policy, tmp / "data", upstream_ca=upstream_ca.pem, workers=1) as px:
        yield px


@pytest.mark.e2e
def test_timeout_then_twenty_clean_requests_all_pass(hanging_proxy, https_up):
    verify = ssl.create_default_context(cafile=hanging_proxy.ca_pem)
    with httpx.Client(proxy=hanging_proxy.url, verify=verify, timeout=60) as c:
        n = len(https_up.received)
        r = c.post(https_up.url("/hang"), content=f"hello {HANG_MARKER}".encode(),
                   headers={"content-type": "text/plain"})
        assert r.status_code == 403 and r.json()["rule"] == "on_timeout"
        statuses = []
        for i in range(20):
            statuses.append(c.post(https_up.url(f"/ok/{i}"), content=f"nothing to see {i}".encode(),
                                   headers={"content-type": "text/plain"}).status_code)
        assert statuses == [200] * 20
        assert [x.body for x in https_up.received[n:]] == [
            f"nothing to see {i}".encode() for i in range(20)
        ]


def test_signals_meant_for_the_proxy_do_not_kill_workers(loop_runner, pool):
    """`systemctl kill -s USR1` (logrotate) or -s HUP reaches every process of the unit."""
    import signal as signals

    assert_full(pool)
    for worker in list(pool._workers):
        for sig in (signals.SIGUSR1, signals.SIGHUP):
            os.kill(worker.process.pid, sig)
    for worker in pool._workers:
        worker.process.join(timeout=0.5)  # returns at once if the signal killed it
    assert all(w.process.is_alive() for w in pool._workers)
    assert inspect(loop_runner, pool, "plain text").findings == ()
