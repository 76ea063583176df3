"""The proxy's event loop: uvloop when installed and able to run mitmproxy's eager tasks, the
standard loop otherwise, said once in the log (proxy/app/eventloop.py)."""

from __future__ import annotations

import asyncio
import logging
import sys
import types

import pytest

from proxy.app.eventloop import loop_factory


def test_the_operator_can_ask_for_the_standard_loop(monkeypatch, caplog):
    monkeypatch.setenv("BAOMI_EVENT_LOOP", "asyncio")
    with caplog.at_level(logging.INFO, "baomi.loop"):
        assert loop_factory() is None
    assert caplog.messages == ["event loop: asyncio (BAOMI_EVENT_LOOP=asyncio)"]


def test_without_uvloop_the_standard_loop_runs(monkeypatch, caplog):
    monkeypatch.delenv("BAOMI_EVENT_LOOP", raising=False)
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import raises ImportError
    with caplog.at_level(logging.INFO, "baomi.loop"):
        assert loop_factory() is None
    assert caplog.messages == ["event loop: asyncio (uvloop is not installed)"]


class _NoEagerTasks(asyncio.SelectorEventLoop):
    """Like uvloop 0.23 under Python 3.13.0: the eager task factory cannot make a task."""

    def create_task(self, coro, **kwargs):
        if self.get_task_factory() is not None:
            coro.close()
            raise TypeError("factory() got an unexpected keyword argument 'eager_start'")
        return super().create_task(coro, **kwargs)


def test_a_uvloop_that_cannot_run_mitmproxys_tasks_falls_back(monkeypatch, caplog):
    monkeypatch.delenv("BAOMI_EVENT_LOOP", raising=False)
    monkeypatch.setitem(sys.modules, "uvloop",
                        types.SimpleNamespace(new_event_loop=_NoEagerTasks, __version__="0.23.0"))
    with caplog.at_level(logging.INFO, "baomi.loop"):
        assert loop_factory() is None
    assert caplog.messages == [
        "event loop: asyncio (uvloop 0.23.0 cannot run mitmproxy's tasks: TypeError)"]


def test_a_working_uvloop_is_used(monkeypatch):
    uvloop = pytest.importorskip("uvloop")
    monkeypatch.delenv("BAOMI_EVENT_LOOP", raising=False)
    factory = loop_factory()
    assert factory is uvloop.new_event_loop

    async def eager_echo():
        asyncio.get_running_loop().set_task_factory(asyncio.eager_task_factory)
        return await asyncio.create_task(asyncio.sleep(0, "served"))

    assert asyncio.run(eager_echo(), loop_factory=factory) == "served"
