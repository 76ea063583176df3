"""A record built without an inspection (refused before inspection, an inspection that failed,
an error) keeps no raw value of its URL path in clear: ``proxy.record.unseen`` withholds each
path segment the detector's selector picks, the whole path when it cannot judge.

The e2e case (a request cut by the body deadline) is R5's test in test_review_s19_records.py;
here each kind of uninspected record the addon builds, through the addon's hooks."""

from __future__ import annotations

import asyncio
import json

import pytest
from fakes import FakeDetector, InProcessInspector, MemoryRecorder
from harness import REPO
from mitmproxy import flow as mflow
from mitmproxy.test import taddons, tflow

from detectors.batch import SegmentSelector
from detectors.config import DetectorConfig
from policies.load import load_policy
from proxy.errors import DetectionTimeout
from proxy.hook.addon import BaomiAddon
from proxy.hook.state import Runtime
from proxy.record.unseen import (
    HOST_UNINSPECTED,
    PATH_UNINSPECTED,
    SEGMENT_WITHHELD,
    uninspected_host,
    uninspected_path,
)
from proxy.workers.triage import Triage

PHONE = "13912345678"
RESIDENT_ID = "11010519491231002X"
PATH = f"/c/{PHONE}/notes"
WITHHELD = f"/c/{SEGMENT_WITHHELD}/notes"
SELECTOR = SegmentSelector.for_config(DetectorConfig())


@pytest.mark.parametrize("path,expected", [
    ("/v1/orders/12345", "/v1/orders/12345"),  # route words and a quiet number: all of it
    ("/v1/orders/SO-1", "/v1/orders/SO-1"),  # no name word: kept
    ("/ldap-hangs/refused-trailers", "/ldap-hangs/refused-trailers"),  # any route's words
    ("/u/liuxiaoming/x", f"/u/{SEGMENT_WITHHELD}/x"),  # a pinyin surname and given name
    ("/u/Walker", f"/u/{SEGMENT_WITHHELD}"),  # a census surname
    ("/password/change", "/password/change"),  # a route word that reads as pinyin
    ("/customers/张伟/orders", f"/customers/{SEGMENT_WITHHELD}/orders"),  # a name alone
    ("/customers/%E5%BC%A0%E4%BC%9F/orders", f"/customers/{SEGMENT_WITHHELD}/orders"),
    ("/u/zhang.wei.1985", f"/u/{SEGMENT_WITHHELD}"),  # a pinyin user name
    ("/api/users/alice-walker/notes", f"/api/users/{SEGMENT_WITHHELD}/notes"),
    ("/", "/"),
    ("", ""),
    (PATH, WITHHELD),
    (f"/c/{RESIDENT_ID}/{PHONE}", f"/c/{SEGMENT_WITHHELD}/{SEGMENT_WITHHELD}"),
    ("/u/" + "".join(f"%{ord(c):02X}" for c in PHONE), f"/u/{SEGMENT_WITHHELD}"),
    ("/n/%D5%C5%CE%B0", PATH_UNINSPECTED),  # GB18030: read otherwise by the detector
])
def test_a_path_keeps_only_what_the_selector_leaves(path, expected):
    assert uninspected_path(path, SELECTOR) == expected


@pytest.mark.parametrize("host,expected", [
    ("api.partner.example", "api.partner.example"),  # a route word, then the destination
    ("11010519491231002x.example.com", f"{SEGMENT_WITHHELD}.example.com"),  # an ID
    ("zhangwei.github.io", f"{SEGMENT_WITHHELD}.github.io"),  # a name as a subdomain
    ("www.13800138000.com", f"www.{SEGMENT_WITHHELD}.com"),  # the selector, last two too
    ("127.0.0.1", "127.0.0.1"),
    ("localhost", "localhost"),
    ("", ""),
])
def test_a_host_keeps_route_words_and_its_quiet_destination(host, expected):
    assert uninspected_host(host, SELECTOR) == expected


def test_without_a_selector_the_host_is_withheld():
    assert uninspected_host("api.partner.example", None) == HOST_UNINSPECTED


def test_without_a_selector_the_whole_path_is_withheld():
    assert uninspected_path("/v1/orders", None) == PATH_UNINSPECTED
    everything = SegmentSelector(SELECTOR.prefilter, SELECTOR.dictionary, everything=True)
    assert uninspected_path("/v1/orders", everything) == PATH_UNINSPECTED


# -- every kind of uninspected record the addon builds --------------------------------------

@pytest.fixture(scope="module")
def policy():
    return load_policy(REPO / "policies" / "default.yaml")


def addon_with(policy, fail=None) -> tuple[BaomiAddon, MemoryRecorder]:
    pool = InProcessInspector(FakeDetector(), fail)
    pool.triage = Triage(SELECTOR)  # what InspectionPool.start() builds
    recorder = MemoryRecorder()
    return BaomiAddon(Runtime(policy), pool, recorder), recorder


def a_flow(path: str = PATH):
    f = tflow.tflow()
    f.request.scheme, f.request.host, f.request.port = "https", "api.partner.example", 443
    f.request.path, f.request.method = path + f"?tel={PHONE}", "POST"
    f.request.headers["host"] = "api.partner.example"
    f.request.headers["content-type"] = "application/json"
    f.request.raw_content = b'{"note": "hello"}'
    return f


def only_record(recorder: MemoryRecorder):
    (record,) = recorder.records
    assert PHONE not in json.dumps(record.public(), ensure_ascii=False)
    return record


@pytest.mark.parametrize("fail,rule", [(DetectionTimeout("slow"), "on_timeout"),
                                       (ZeroDivisionError(), "on_error")])
def test_an_inspection_that_failed_records_the_path_withheld(policy, fail, rule):
    addon, recorder = addon_with(policy, fail)
    flow = a_flow()
    with taddons.context(addon):
        asyncio.run(addon.request(flow))
    record = only_record(recorder)
    assert (record.rule, record.path) == (rule, WITHHELD)


def test_a_streamed_oversize_body_records_the_path_withheld(policy):
    addon, recorder = addon_with(policy)
    flow = a_flow()
    flow.request.stream = True  # what mitmproxy sets over stream_large_bodies
    with taddons.context(addon):
        asyncio.run(addon.request(flow))
    record = only_record(recorder)
    assert (record.uninspected, record.path) == ("oversize", WITHHELD)


def test_an_oversize_refusal_records_the_path_withheld(policy):
    addon, recorder = addon_with(policy)
    flow = a_flow()
    with taddons.context(addon):
        asyncio.run(addon.baomi_oversize(flow))
    record = only_record(recorder)
    assert (flow.response.status_code, record.uninspected, record.path) == \
        (403, "oversize", WITHHELD)


@pytest.mark.parametrize("message,uninspected", [
    ("Received HTTP/1.1 body over body_size_limit", "oversize"),  # mitmproxy refused it
    ("HTTP/1.1 chunked trailers are not supported", "undecodable"),  # a protocol refusal
    ("request body timeout", "undecodable"),  # proxy.hook.httplayer's body deadline
])
def test_a_refused_request_records_the_path_withheld(policy, message, uninspected):
    addon, recorder = addon_with(policy)
    flow = a_flow()
    flow.request.timestamp_end = None  # never read whole
    flow.response = None
    flow.error = mflow.Error(message)
    with taddons.context(addon):
        addon.error(flow)
    record = only_record(recorder)
    assert (record.uninspected, record.path) == (uninspected, WITHHELD)


def test_an_inspected_record_keeps_its_own_redaction(policy):
    """With an inspection the path is redact_record's (masked values), not withheld."""
    addon, recorder = addon_with(policy)
    flow = a_flow("/v1/orders/SO-1")
    with taddons.context(addon):
        asyncio.run(addon.request(flow))
    (record,) = recorder.records
    assert (record.action, record.path) == ("allow", "/v1/orders/SO-1")


def test_a_connect_whose_inspection_failed_records_its_host_withheld(policy):
    """The CONNECT target is inspected as text; when that fails the record has only the
    rule's view of the name (a resident ID as a subdomain is not kept)."""
    addon, recorder = addon_with(policy, DetectionTimeout("slow"))
    flow = tflow.tflow()
    flow.request.method, flow.request.path = "CONNECT", ""
    target = f"{RESIDENT_ID.lower()}.zhangwei.example.com"
    flow.request.host, flow.request.port = target, 443
    flow.request.authority = flow.request.headers["host"] = f"{target}:443"
    flow.client_conn.sni = None  # tflow names "address"
    with taddons.context(addon):
        asyncio.run(addon.http_connect(flow))
    (record,) = recorder.records
    assert (record.rule, record.host) == (
        "on_timeout", f"{SEGMENT_WITHHELD}.{SEGMENT_WITHHELD}.example.com")
    assert RESIDENT_ID.lower() not in json.dumps(record.public()).lower()
