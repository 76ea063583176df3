"""Review R9 of session 21's data-plane changes (issue 12), as a hostile sender would try them.

Findings, each a test that failed before its fix:

1. A raw ``#`` in the request target hid whatever followed it: extraction reads the URL
   without its fragment, mitmproxy forwards the target whole, so ``GET /v1/x#13800138000``
   reached the upstream with nothing inspected and its record kept the number in clear. Now
   refused (on_protocol_error; RFC 9112's request-target has no fragment).
2. Records of uninspected requests (F8's route-word rule) kept a path segment or host label
   that the selector does not read but extraction opens: ``/v1/3133383030313338303030`` is
   13800138000 in hex, ``%2531%2533...`` the same twice percent-encoded. Such a segment is
   withheld now (the proxy hands ``unseen`` the fast paths' layer probe).
3. The addon read the policy before the sender's lookup (an await: LDAP, a proxy login) and
   the detector pool after it: a reload that changed detection settings in between had the
   request decided by the old policy and inspected by the new policy's detector, a pair no
   policy file ever said (the new one may allow a value the old one's rules would mask,
   the old one's rules send it where the new one blocks). Both are read together now.
"""

from __future__ import annotations

import asyncio
import json
import socket
from functools import partial

import pytest
from fakes import FakeDetector, InProcessInspector, MemoryRecorder
from harness import REPO
from mitmproxy.test import taddons, tflow
from rawhttp import read_response

from detectors.batch import SegmentSelector
from detectors.config import DetectorConfig
from policies.load import load_policy
from proxy.extraction.extract import Limits
from proxy.hook.addon import BaomiAddon, _opens
from proxy.hook.state import Runtime
from proxy.record.unseen import SEGMENT_WITHHELD, uninspected_host, uninspected_path

PHONE = "13912340587"
RESIDENT_ID = "11010519491231002X"
HEX_ID = RESIDENT_ID.encode().hex()  # digits only: no letter for the route-word rule to refuse
SELECTOR = SegmentSelector.for_config(DetectorConfig())
OPENS = partial(_opens, limits=Limits())


# -- finding 1: a fragment in the request target, through `baomi run` ------------------------


def send_raw(px, up, path: str) -> bytes:
    """One HTTP/1.1 request in absolute form through the proxy, its target sent as written."""
    authority = up.url("/").split("/")[2]
    head = (f"GET http://{authority}{path} HTTP/1.1\r\nHost: {authority}\r\n"
            "Connection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", px.port), timeout=60) as s:
        s.sendall(head)
        return read_response(s)


@pytest.fixture(scope="module")
def fragment_refused(default_proxy, http_up):
    """(response, record, upstream requests before, after) of a phone behind a '#'."""
    before = len(http_up.received)
    response = send_raw(default_proxy, http_up, f"/v1/orders#{PHONE}")
    return response, default_proxy.last_decision(), before, len(http_up.received)


def test_a_fragment_is_refused_not_forwarded(fragment_refused):
    response, record, before, after = fragment_refused
    assert response.startswith(b"HTTP/1.1 403 ")
    assert after == before  # nothing went upstream
    assert (record["action"], record["rule"]) == ("block", "on_protocol_error")


def test_the_refusals_record_keeps_no_raw_value(fragment_refused, default_proxy):
    _, record, _, _ = fragment_refused
    assert record["path"] == f"/v1/{SEGMENT_WITHHELD}"
    assert PHONE not in json.dumps(record, ensure_ascii=False)
    assert PHONE not in default_proxy.log_text()


def test_hex_behind_a_fragment_is_withheld_in_the_record(default_proxy, http_up):
    response = send_raw(default_proxy, http_up, f"/v1/{HEX_ID}#top")
    assert response.startswith(b"HTTP/1.1 403 ")
    record = default_proxy.last_decision()
    assert record["path"] == f"/v1/{SEGMENT_WITHHELD}"
    assert HEX_ID not in json.dumps(record)


def test_an_encoded_hash_is_an_ordinary_path(default_proxy, http_up):
    """The control: ``%23`` is how a path carries '#'; it is inspected and forwarded."""
    before = len(http_up.received)
    response = send_raw(default_proxy, http_up, "/v1/orders%23top")
    assert response.startswith(b"HTTP/1.1 200 ")
    assert [r.path for r in http_up.received[before:]] == ["/v1/orders%23top"]


# -- finding 2: layers the selector does not read, in an uninspected record -------------------


@pytest.mark.parametrize("path", [
    f"/v1/{HEX_ID}",  # a resident ID in hex
    f"/v1/{PHONE.encode().hex()}",  # a phone in hex
    "/v1/" + "".join(f"%25{b:02X}" for b in PHONE.encode()),  # percent-encoded twice
])
def test_a_segment_extraction_would_open_is_withheld(path):
    assert uninspected_path(path, SELECTOR, OPENS) == f"/v1/{SEGMENT_WITHHELD}"


@pytest.mark.parametrize("path", ["/v1/orders/12345", "/api/v2/items/20261206/detail"])
def test_quiet_numbers_stay_for_the_reviewer(path):
    assert uninspected_path(path, SELECTOR, OPENS) == path


def test_a_host_label_extraction_would_open_is_withheld():
    host = f"{PHONE.encode().hex()}.example.com"
    assert uninspected_host(host, SELECTOR, OPENS) == f"{SEGMENT_WITHHELD}.example.com"
    assert uninspected_host("cdn1.example.com", SELECTOR, OPENS) == "cdn1.example.com"


# -- finding 3: a reload while the sender is looked up ----------------------------------------


def a_phone_post():
    f = tflow.tflow()
    f.request.scheme, f.request.host, f.request.port = "https", "api.partner.example", 443
    f.request.path, f.request.method = "/tickets", "POST"
    f.request.headers["host"] = "api.partner.example"
    f.request.headers["content-type"] = "application/json"
    f.request.raw_content = json.dumps({"phone": "13800138000"}).encode()
    return f


def test_a_reload_during_the_senders_lookup_keeps_policy_and_detector_together():
    policy = load_policy(REPO / "policies" / "default.yaml")
    before, after = FakeDetector(), FakeDetector(markers={})  # the reload allows the value
    old, new = InProcessInspector(before), InProcessInspector(after)
    old.triage = new.triage = None  # every request goes to the "worker" (its detector)
    addon = BaomiAddon(Runtime(policy), old, MemoryRecorder())
    identify = addon._identify

    async def a_reload_meanwhile(flow, facts, started):
        # what PolicyReloader does while an LDAP lookup awaits: the pool, then the policy
        addon.pool = new
        addon.runtime.policy = load_policy(REPO / "policies" / "default.yaml")
        return await identify(flow, facts, started)

    addon._identify = a_reload_meanwhile  # type: ignore[method-assign]
    flow = a_phone_post()
    with taddons.context(addon):
        asyncio.run(addon.request(flow))
    assert "13800138000" in before.seen  # the detector of the policy read first
    assert after.seen == []
    assert b"13800138000" not in flow.request.raw_content  # masked, as that policy says
