"""Clean traffic is decided in the proxy process; only candidates reach a worker, and a masked
request costs exactly one worker call (issue 12 §2, §3).

Unit level against a real started pool (spawned workers, the real Detector): which calls
reach a worker, what they carry, and that the answers equal the old path's (the full detector
on every segment; the separate mask call). The exactness test runs the proxy's selection and
the full detector over the quality corpus and requires identical findings.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import signal
import socket
import sys
import threading
from pathlib import Path

import pytest
from detection_support import shared_detector

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.quality.generate import corpus
from detectors.batch import SegmentSelector
from detectors.config import DetectorConfig
from detectors.engine import Detector
from proxy.extraction.extract import Limits, RawRequest, extract
from proxy.workers.channel import Channel
from proxy.workers.inspection import detect_segments, inspect_request, mask_request
from proxy.workers.pool import InspectionPool
from proxy.workers.triage import INLINE_BODY_BYTES, Clean, Triage

LIMITS = Limits()
MOBILE = "13800138000"
PHONES = (frozenset({"PHONE_NUMBER", "EMAIL_ADDRESS"}),)  # the seed policy's mask rule


def json_request(body: object, url: str = "https://api.example.com/v1/orders") -> RawRequest:
    return RawRequest("POST", url, (("content-type", "application/json"),),
                      json.dumps(body, ensure_ascii=False).encode(), hosts=("api.example.com",))


def clean_4k() -> RawRequest:
    items = [{"sku": f"SKU-{i:05d}", "qty": i % 7, "price": f"{i * 3.25:.2f}",
              "note": "deliver to the loading dock"} for i in range(40)]
    return json_request({"order": "SO-2026-000123", "items": items})


def with_mobile() -> RawRequest:
    return json_request({"order": "SO-2026-000123", "customer": {"mobile": MOBILE},
                         "items": [{"sku": f"SKU-{i:05d}", "qty": i} for i in range(40)]})


GET = RawRequest("GET", "https://api.example.com/v1/orders?page=2&sort=created",
                 (("accept", "application/json"), ("x-request-id", "7f3a9c")),
                 hosts=("api.example.com",))


@pytest.fixture(scope="module")
def pool(loop_runner):
    p = InspectionPool(DetectorConfig(), size=1, start_timeout=120)
    loop_runner.run(p.start())
    yield p
    p.close()


@pytest.fixture
def calls(pool, monkeypatch):
    """Every worker call the pool makes: (op, args)."""
    made: list[tuple[str, tuple]] = []
    real = pool._call

    async def recording(op, args, timeout):
        made.append((op, args))
        return await real(op, args, timeout)

    monkeypatch.setattr(pool, "_call", recording)
    return made


def inspect(runner, pool, raw, maskable=PHONES):
    return runner.run(pool.inspect(raw, LIMITS, 30, maskable))


# -- which requests reach a worker ------------------------------------------------------------

@pytest.mark.parametrize("raw", [GET, clean_4k()], ids=["get", "clean-4k-json"])
def test_clean_requests_are_decided_without_any_worker_call(loop_runner, pool, calls, raw):
    inspection = inspect(loop_runner, pool, raw)
    assert calls == []
    assert inspection.findings == ()
    assert inspection.segments == len(extract(raw, LIMITS).segments)
    assert inspection.bytes_inspected == len(raw.body)


def test_a_candidate_sends_only_its_busy_segments_and_findings_keep_their_indices(
        loop_runner, pool, calls):
    raw = with_mobile()
    segments = extract(raw, LIMITS).segments
    inspection = inspect(loop_runner, pool, raw)
    [(op, (sent,))] = calls
    assert op == "detect"
    phone = next(i for i, s in enumerate(segments) if s.text == MOBILE)
    assert phone in [i for i, *_ in sent]
    assert len(sent) < len(segments) // 4  # SKUs and quantities stay here
    # each as plain (index, text, location, context): pickled in C, not as a dataclass
    assert list(sent) == [(i, segments[i].text, segments[i].location, segments[i].context)
                          for i, *_ in sent]
    expected = tuple(shared_detector().analyze(list(segments)))
    assert inspection.findings == expected
    assert [f.segment for f in inspection.findings] == [phone]
    assert inspection.contexts == (MOBILE,)


def test_mask_needs_no_second_call_and_equals_the_two_step_rewrite(loop_runner, pool, calls):
    raw = with_mobile()
    inspection = inspect(loop_runner, pool, raw)
    to_mask = tuple(f for f in inspection.findings if f.entity in PHONES[0])
    rewritten = inspection.rewrite(to_mask)
    assert len(calls) == 1
    assert rewritten == mask_request(raw, LIMITS, to_mask)
    assert MOBILE.encode() not in rewritten.body and b"\"138********\"" in rewritten.body


def big_with_mobile() -> RawRequest:
    filler = [{"sku": f"SKU-{i:06d}", "note": "pallet " * 8} for i in range(1200)]
    return json_request({"customer": {"mobile": MOBILE}, "items": filler})


def test_a_big_body_is_extracted_by_the_worker_which_prepares_the_mask(loop_runner, pool, calls):
    raw = big_with_mobile()
    assert len(raw.body) > INLINE_BODY_BYTES
    inspection = inspect(loop_runner, pool, raw)
    [(op, args)] = calls
    assert op == "inspect" and args == (raw, LIMITS, PHONES)
    to_mask = tuple(f for f in inspection.findings if f.entity in PHONES[0])
    assert len(to_mask) == 1
    rewritten = inspection.rewrite(to_mask)
    assert len(calls) == 1  # prepared by the worker that detected
    assert rewritten == mask_request(raw, LIMITS, to_mask)
    # A mask the worker was not asked to prepare is not guessed: the caller asks again.
    assert inspection.rewrite(()) is None


# -- what is never extracted on the event loop ---------------------------------------------

def gzip_bomb() -> RawRequest:
    body = gzip.compress(b'{"a":"' + b"0" * (8 << 20) + b'"}')  # 8 MB of JSON from ~8 KB
    assert len(body) < INLINE_BODY_BYTES
    return RawRequest("POST", "https://api.example.com/up",
                      (("content-type", "application/json"), ("content-encoding", "gzip")), body)


def deep_json() -> RawRequest:
    return RawRequest("POST", "https://api.example.com/up", (("content-type", "application/json"),),
                      b"[" * 30000 + b"]" * 30000)


def binary_10mb() -> RawRequest:
    return RawRequest("POST", "https://api.example.com/up",
                      (("content-type", "application/octet-stream"),), os.urandom(10 << 20))


def many_items() -> RawRequest:
    body = b"[" + b",".join([b"1"] * 5000) + b"]"  # 10 KB: small, but 5,000 JSON elements
    assert len(body) < INLINE_BODY_BYTES
    return RawRequest("POST", "https://api.example.com/up", (("content-type", "application/json"),),
                      body)


def zip_file() -> RawRequest:
    return RawRequest("POST", "https://api.example.com/up", (("content-type", "application/zip"),),
                      b"PK\x03\x04" + b"\x00" * 200)


@pytest.fixture(scope="module")
def triage():
    return Triage(SegmentSelector.for_config(DetectorConfig()))


@pytest.mark.parametrize("make", [gzip_bomb, deep_json, binary_10mb, zip_file, many_items])
def test_pathological_bodies_go_to_a_worker_raw(triage, make):
    raw = make()
    assert triage.local(raw, LIMITS) is None  # a worker extracts it, with the policy's limits


def test_a_worker_gets_the_bomb_and_its_failure_is_todays(loop_runner, pool, calls):
    from proxy.errors import InspectionError

    raw = gzip_bomb()
    small = Limits(max_decoded_bytes=1 << 20)
    with pytest.raises(InspectionError) as local_error:
        extract(raw, small)
    with pytest.raises(InspectionError) as pool_error:
        loop_runner.run(pool.inspect(raw, small, 30))
    assert [op for op, _ in calls] == ["inspect"]
    assert (type(pool_error.value), pool_error.value.kind) == (type(local_error.value),
                                                               local_error.value.kind)


def test_with_no_inline_bodies_only_bodiless_requests_are_extracted_here():
    triage = Triage(SegmentSelector.for_config(DetectorConfig()), body_bytes=0)
    assert triage.local(clean_4k(), LIMITS) is None
    local = triage.local(GET, LIMITS)
    assert local is not None and local.selected == []


def test_an_admin_recognizer_sees_every_segment_so_the_worker_extracts():
    triage = Triage(SegmentSelector.for_config(
        DetectorConfig(extra_recognizers=("baomi_test_plugins:HangOnMarker",))))
    assert triage.local(GET, LIMITS) is None


# -- exactness -----------------------------------------------------------------------------------

def corpus_requests() -> list[RawRequest]:
    return [sample.request for sample in corpus(seed=12, payloads=300)]


@pytest.mark.parametrize("config", [
    DetectorConfig(),
    DetectorConfig(confidential_terms=("Project Falcon",),
                   deny_values=(("PHONE_NUMBER", ("4001234567",)),),
                   allow_values=("13900139000",)),
], ids=["default", "terms-deny-allow"])
def test_the_in_process_decision_finds_exactly_what_the_full_detector_finds(config):
    detector = shared_detector() if config == DetectorConfig() else Detector(config)
    triage = Triage(SegmentSelector.for_config(config))
    requests = corpus_requests() + [GET, clean_4k(), with_mobile(), json_request(
        {"title": "Project Falcon plan", "hotline": "4001234567", "tel": "13900139000"})]
    local_count = clean = 0
    for raw in requests:
        local = triage.local(raw, LIMITS)
        if local is None:
            continue
        local_count += 1
        if isinstance(local, Clean):  # proved clean unextracted: the full path agrees
            assert SegmentSelector.for_config(config).select(extract(raw, LIMITS).segments) == []
            clean += 1
            continue
        segments = extract(raw, LIMITS).segments  # the full path's (Scanned builds only some)
        full = tuple(detector.analyze(list(segments)))
        assert {f.segment for f in full} <= set(local.selected), raw
        assert detect_segments(detector, local.to_detect()) == (full, 0)
        clean += not local.selected
    assert local_count >= len(requests) * 0.9  # the corpus is mostly small API calls
    assert 0 < clean < local_count  # both paths were exercised


def test_scan_and_the_pool_agree(loop_runner, pool):
    for raw in (GET, clean_4k(), with_mobile(), big_with_mobile()):
        via_pool = inspect(loop_runner, pool, raw, ())
        in_process = inspect_request(shared_detector(), raw, LIMITS)
        assert (via_pool.findings, via_pool.segments, via_pool.bytes_inspected,
                via_pool.contexts) == (in_process.findings, in_process.segments,
                                       in_process.bytes_inspected, in_process.contexts)


# -- the pipe never blocks the loop --------------------------------------------------------------

def test_a_large_message_is_sent_while_the_loop_keeps_serving():
    """A message far larger than the socket buffer: the peer reads only after the loop has
    run another task, so a blocking write would never finish (the test would fail on the
    event's timeout instead of hanging)."""
    ours, theirs = socket.socketpair()
    loop_ran = threading.Event()
    received: list[object] = []

    def peer():
        from multiprocessing.connection import Connection

        conn = Connection(theirs.detach())
        try:
            if loop_ran.wait(30):
                received.append(conn.recv())
                conn.send(("ok", len(received[0][1])))
        finally:
            conn.close()

    async def main():
        from multiprocessing.connection import Connection

        conn = Connection(ours.detach())
        try:
            channel = Channel(conn)
            reader = threading.Thread(target=peer)
            reader.start()
            ticker = asyncio.get_running_loop().call_soon(loop_ran.set)
            await asyncio.wait_for(channel.send(("detect", b"x" * (8 << 20))), 30)
            reply = await asyncio.wait_for(channel.receive(), 30)
            reader.join(30)
            ticker.cancel()
            return reply
        finally:
            conn.close()

    assert asyncio.run(main()) == ("ok", 8 << 20)
    assert received[0][0] == "detect"


def test_a_worker_that_dies_mid_reply_is_lost_not_hung():
    """EOF on the channel is a lost worker (retried once by the pool), never a wait."""
    ours, theirs = socket.socketpair()

    async def main():
        from multiprocessing.connection import Connection

        conn = Connection(ours.detach())
        try:
            channel = Channel(conn)
            theirs.sendall(b"\x00\x00\x10\x00partial")  # a 4 KB frame, cut short
            theirs.close()
            with pytest.raises(EOFError):
                await asyncio.wait_for(channel.receive(), 30)
        finally:
            conn.close()

    asyncio.run(main())


# -- last: kills the module pool's workers -------------------------------------------------------

def test_clean_requests_are_answered_with_every_worker_dead(loop_runner, pool):
    for worker in list(pool._workers):
        os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.join(10)
    assert pool.live == 0
    for raw in (GET, clean_4k()):
        assert inspect(loop_runner, pool, raw).findings == ()
    assert pool.live == 0  # nothing asked for a worker, so none was even replaced
