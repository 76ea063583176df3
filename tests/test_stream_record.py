"""A body over ``max_body_bytes`` with ``on_oversize: allow`` streams upstream uninspected:
its record is written (and awaited) in the ``baomi_stream`` hook, before any byte goes
upstream (proxy.hook.httplayer runs it where mitmproxy starts streaming); a failed write
answers 503 on_record_failure there, and ``request`` at the body's end writes nothing more.

The e2e cases (a full disk refuses the stream; a streamed body that arrives is recorded
once) are R5's in test_review_s19_records.py."""

from __future__ import annotations

import asyncio

import pytest
from fakes import FakeDetector, InProcessInspector, MemoryRecorder
from harness import REPO
from mitmproxy.test import taddons, tflow

from policies.load import load_policy
from proxy.hook.addon import BaomiAddon
from proxy.hook.state import Runtime


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    text = (REPO / "policies" / "default.yaml").read_text()
    path = tmp_path_factory.mktemp("stream") / "policy.yaml"
    path.write_text(text.replace("on_oversize: block", "on_oversize: allow"))
    assert "on_oversize: allow" in path.read_text()
    return load_policy(path)


def streamed_flow():
    f = tflow.tflow()
    f.request.scheme, f.request.host, f.request.port = "https", "api.partner.example", 443
    f.request.path, f.request.method = "/upload", "POST"
    f.request.headers["host"] = "api.partner.example"
    f.request.stream = True  # what mitmproxy sets over stream_large_bodies
    return f


def run(addon: BaomiAddon, *hooks) -> None:
    with taddons.context(addon):
        for hook in hooks:
            asyncio.run(hook())


def test_a_streamed_body_is_recorded_before_it_goes_and_once(policy):
    recorder = MemoryRecorder()
    addon = BaomiAddon(Runtime(policy), InProcessInspector(FakeDetector()), recorder)
    flow = streamed_flow()
    run(addon, lambda: addon.baomi_stream(flow))
    (record,) = recorder.records
    assert (record.action, record.rule, record.uninspected) == ("allow", "on_oversize", "oversize")
    assert flow.response is None  # nothing refuses it: mitmproxy streams the body now
    run(addon, lambda: addon.request(flow))  # the body's end
    assert recorder.records == [record]


def test_a_record_that_cannot_be_written_refuses_the_stream(policy):
    addon = BaomiAddon(Runtime(policy), InProcessInspector(FakeDetector()),
                       MemoryRecorder(fail=True))
    flow = streamed_flow()
    run(addon, lambda: addon.baomi_stream(flow))
    assert flow.response is not None and flow.response.status_code == 503
    assert flow.metadata["baomi"].rule == "on_record_failure"


def test_without_the_stream_hook_the_body_end_still_records_it(policy):
    """An HTTP layer that ran no baomi_stream (none installed): recorded at the body's end."""
    recorder = MemoryRecorder()
    addon = BaomiAddon(Runtime(policy), InProcessInspector(FakeDetector()), recorder)
    run(addon, lambda: addon.request(streamed_flow()))
    (record,) = recorder.records
    assert (record.action, record.uninspected) == ("allow", "oversize")
