"""The supervisor's coordinated reload, with scripted proxy processes (no real children).

    commit not confirmed -> that process is restarted (terminated; `keep` starts it again)
    a validator that crashes -> a rejected reload, counted, last good policy kept
    a stale reply is dropped before a question, the end-of-line marker is not
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from policies.load import load_policy
from proxy.app import reload
from proxy.app.supervisor import Child, Supervisor
from proxy.observe.metrics import SUPERVISOR_COMPONENTS, Metrics

REPO = Path(__file__).resolve().parents[1]


class Proc:
    def __init__(self, pid: int):
        self.pid, self.returncode, self.terminated = pid, None, False

    def terminate(self):
        self.terminated = True


class ScriptedLine:
    """Answers each op from a script: {op: reply or None (no answer)}."""

    def __init__(self, script: dict):
        self.script, self.child, self.sent = script, None, []

    async def send(self, message: dict) -> None:
        self.sent.append(message["op"])
        reply = self.script.get(message["op"])
        if reply is not None:
            self.child.replies.put_nowait(reply)


def child(pid: int, script: dict) -> Child:
    line = ScriptedLine(script)
    c = Child(Proc(pid), line)  # type: ignore[arg-type]
    line.child = c
    return c


def test_a_process_that_does_not_confirm_the_commit_is_restarted(monkeypatch):
    ok = {"prepare": {"op": "prepared", "ok": True}, "commit": {"op": "committed", "hash": "h"}}
    silent = {"prepare": {"op": "prepared", "ok": True}}  # commit: no answer
    good, hung = child(1, ok), child(2, silent)

    ask = Child.ask

    async def fast_ask(self, message, answer, timeout):  # the 30 s commit timeout, shortened
        return await ask(self, message, answer, 0.2)

    monkeypatch.setattr(Child, "ask", fast_ask, raising=True)
    errors = asyncio.run(Supervisor._everywhere(None, b"policy", [good, hung]))  # type: ignore[arg-type]
    assert errors == []
    assert (good.proc.terminated, hung.proc.terminated) == (False, True)
    assert good.line.sent == hung.line.sent == ["prepare", "commit"]


def test_ask_drops_stale_replies_but_not_the_end_of_the_line():
    async def scenario():
        c = child(3, {})
        c.replies.put_nowait({"op": "prepared", "ok": True})  # late, for an earlier question
        c.replies.put_nowait(None)  # the process has exited
        return await c.ask({"op": "prepare"}, "prepared", 5)

    assert asyncio.run(scenario()) == {"ok": False, "error": "process 3 exited"}


def test_ask_drops_a_stale_reply_and_waits_for_the_new_one():
    async def scenario():
        c = child(4, {"commit": {"op": "committed", "hash": "new"}})
        c.replies.put_nowait({"op": "committed", "hash": "old"})
        return await c.ask({"op": "commit"}, "committed", 5)

    assert asyncio.run(scenario()) == {"op": "committed", "hash": "new"}


def test_a_validator_crash_is_a_rejected_reload(monkeypatch, tmp_path):
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_bytes((REPO / "policies" / "default.yaml").read_bytes())
    sup = Supervisor.__new__(Supervisor)
    sup.path, sup.policy = policy_file, load_policy(policy_file)
    sup.metrics = Metrics(mode="regular", components=SUPERVISOR_COMPONENTS)
    sup._lock, sup._seen, sup.children = asyncio.Lock(), "", []

    def crash(raw, name):
        raise KeyError("a validator bug")

    monkeypatch.setattr(reload, "parse_policy", crash)  # the reader both reloaders share
    assert asyncio.run(sup.reload("SIGHUP")) is False
    assert sup.metrics.policy_reloads.labels("failure")._value.get() == 1
    assert sup.metrics.notes["policy_reload"] == (
        f"last reload rejected: {policy_file}: validation failed (KeyError)")
