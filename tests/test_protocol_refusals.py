"""respond.block (proxy.act.refusal) answers gRPC and git push clients in their own protocol."""

from __future__ import annotations

from urllib.parse import unquote

from mitmproxy.test import tflow

from proxy.act.refusal import refusal_message
from proxy.hook.respond import block
from proxy.record.decisions import DecisionRecord

INCIDENT = "BM-20261205T213000Z-9f3a1c2b"
RECORD = DecisionRecord(
    time="2026-12-05T21:30:00Z", incident_id=INCIDENT, source="10.0.0.5", user=None,
    scheme="https", host="git.example.com", port=443, method="POST", path="/r.git/git-receive-pack",
    mode="regular", action="block", rule="block-ids-and-cards", enforced=True, would_be=None,
    reason="Resident ID numbers never leave the company (CN_RESIDENT_ID x1)",
    entity_counts={"CN_RESIDENT_ID": 1}, masked=["110105********002X"],
    locations=["git:data/c.csv:row2"], policy_hash="sha256:0", records=1,
)


def pkt(payload: bytes) -> bytes:
    return f"{len(payload) + 4:04x}".encode() + payload


def test_grpc_request_gets_permission_denied_trailers() -> None:
    flow = tflow.tflow()
    flow.request.path = "/shop.v1.Orders/Create"
    flow.request.headers["content-type"] = "application/grpc+proto"
    block(flow, RECORD)
    response = flow.response
    assert response is not None and response.status_code == 200
    assert response.headers["grpc-status"] == "7" and response.content == b""
    assert unquote(response.headers["grpc-message"]) == refusal_message(RECORD, "en")
    assert INCIDENT in unquote(response.headers["grpc-message"])
    assert response.headers["x-baomi-incident"] == INCIDENT


def test_git_push_gets_a_receive_pack_result() -> None:
    flow = tflow.tflow()
    flow.request.path = "/team/r.git/git-receive-pack"
    flow.request.headers["content-type"] = "application/x-git-receive-pack-request"
    flow.request.raw_content = pkt(
        b"0" * 40 + b" " + b"1" * 40 + b" refs/heads/main\x00report-status\n") + b"0000PACK"
    block(flow, RECORD)
    response = flow.response
    assert response is not None and response.status_code == 200
    assert response.headers["content-type"] == "application/x-git-receive-pack-result"
    reason = " ".join(refusal_message(RECORD, "en").split())
    assert response.content == (
        pkt(b"unpack ok\n") + pkt(f"ng refs/heads/main {reason}\n".encode()) + b"0000"
    )
    assert INCIDENT in reason


def test_other_requests_keep_the_json_refusal() -> None:
    flow = tflow.tflow()
    flow.request.headers["accept"] = "application/json"
    block(flow, RECORD)
    assert flow.response is not None and flow.response.status_code == 403
    assert flow.response.headers["content-type"].startswith("application/json")
