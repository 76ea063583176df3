"""grpcio through the real baomi: a TLS gRPC server on 127.0.0.1 (generic handler, raw bytes,
hand-encoded protobuf: field 1 order, field 2 note) and a client whose channel goes through
baomi (``grpc.http_proxy``) and trusts baomi's CA.

A clean call reaches the server; a call carrying a resident ID is refused the gRPC way
(PERMISSION_DENIED, details with the incident id) and the server gets nothing.
"""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from apps import GrpcServer, decisions, last_block, pb_string
from harness import REPO, BaomiProcess, UpstreamCA

pytestmark = pytest.mark.e2e

RESIDENT_ID = "11010519491231002X"
TIMEOUT = 30  # seconds per call; the first one also warms the detectors


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return UpstreamCA(tmp_path_factory.mktemp("grpc-ca"))


@pytest.fixture(scope="module")
def server(ca):
    with GrpcServer(ca) as s:
        yield s


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, ca):
    data = tmp_path_factory.mktemp("grpc-data")
    with BaomiProcess(REPO / "policies" / "default.yaml", data, upstream_ca=ca.pem) as px:
        yield px


@pytest.fixture(scope="module")
def send(proxy, server):
    """The unary method, called through baomi with raw bytes in and out."""
    creds = grpc.ssl_channel_credentials(root_certificates=Path(proxy.ca_pem).read_bytes())
    channel = grpc.secure_channel(f"127.0.0.1:{server.port}", creds,
                                  options=[("grpc.http_proxy", proxy.url)])
    try:
        yield channel.unary_unary(server.method_path)
    finally:
        channel.close()


def test_clean_call_reaches_the_server(send, server, proxy):
    message = pb_string(1, "SO-2026-0042") + pb_string(2, "请明天发货 ship tomorrow")
    assert send(message, timeout=TIMEOUT) == pb_string(1, "stored")
    assert server.received[-1] == message
    through = [r for r in decisions(proxy.data_dir) if r["path"] == server.method_path]
    assert through and through[-1]["action"] == "allow"  # it did go through baomi


def test_call_with_resident_id_is_permission_denied(send, server, proxy):
    before, logged = len(server.received), len(decisions(proxy.data_dir))
    message = pb_string(1, "SO-2026-0043") + pb_string(2, f"客户身份证 {RESIDENT_ID}")
    with pytest.raises(grpc.RpcError) as refused:
        send(message, timeout=TIMEOUT)
    record = last_block(proxy.data_dir, server.method_path, after=logged)
    assert len(server.received) == before
    assert record["rule"] == "block-ids-and-cards"
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert record["incident_id"] in refused.value.details()
    assert record["rule"] in refused.value.details()
    assert RESIDENT_ID not in refused.value.details()
