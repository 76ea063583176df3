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
"""

from __future__ import annotations

import json
import socket
from functools import partial

import pytest
from rawhttp import read_response

from detectors.batch import SegmentSelector
from detectors.config import DetectorConfig
from proxy.extraction.extract import Limits
from proxy.hook.addon import _opens
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
