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
from apps import GrpcServer, last_block, pb_string

pytestmark = pytest.mark.e2e

RESIDENT_ID = "11010519491231002X"
TIMEOUT = 30  # seconds per call; the first one also warms the detectors


@pytest.fixture(scope="module")
def server(upstream_ca):
    with GrpcServer(upstream_ca) as s:
        yield s


@pytest.fixture(scope="module")
def channel(default_proxy, server):
    """A channel to the server through baomi, trusting baomi's CA."""
    creds = grpc.ssl_channel_credentials(root_certificates=Path(default_proxy.ca_pem).read_bytes())
    with grpc.secure_channel(f"127.0.0.1:{server.port}", creds,
                             options=[("grpc.http_proxy", default_proxy.url)]) as ch:
        yield ch


@pytest.fixture(scope="module")
def send(channel, server):
    """The unary method, raw bytes in and out."""
    return channel.unary_unary(server.method_path)


@pytest.fixture(scope="module")
def collect(channel, server):
    """The client-streaming method, raw bytes in and out."""
    return channel.stream_unary(server.stream_path)


def refused_call(call, proxy, path: str, request) -> tuple[grpc.RpcError, dict]:
    """Make a call that baomi must refuse: (the client's error, baomi's block record)."""
    logged = len(proxy.decisions())
    with pytest.raises(grpc.RpcError) as refused:
        call(request, timeout=TIMEOUT)
    return refused.value, last_block(proxy.data_dir, path, after=logged)


def assert_denied(error: grpc.RpcError, record: dict) -> None:
    assert record["rule"] == "block-ids-and-cards"
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert record["incident_id"] in error.details()
    assert record["rule"] in error.details()
    assert RESIDENT_ID not in error.details()


def test_clean_call_reaches_the_server(send, server, default_proxy):
    message = pb_string(1, "SO-2026-0042") + pb_string(2, "请明天发货 ship tomorrow")
    assert send(message, timeout=TIMEOUT) == pb_string(1, "stored")
    assert server.received[-1] == message
    through = [r for r in default_proxy.decisions() if r["path"] == server.method_path]
    assert through and through[-1]["action"] == "allow"  # it did go through baomi


def test_call_with_resident_id_is_permission_denied(send, server, default_proxy):
    before = len(server.received)
    message = pb_string(1, "SO-2026-0043") + pb_string(2, f"客户身份证 {RESIDENT_ID}")
    error, record = refused_call(send, default_proxy, server.method_path, message)
    assert len(server.received) == before
    assert_denied(error, record)


def test_clean_gzip_compressed_call_reaches_the_server(send, server):
    message = pb_string(1, "SO-2026-0044") + pb_string(2, "gzip on the wire " * 20)
    reply = send(message, timeout=TIMEOUT, compression=grpc.Compression.Gzip)
    assert reply == pb_string(1, "stored")
    assert server.received[-1] == message


def test_gzip_compressed_call_with_resident_id_is_permission_denied(send, server, default_proxy):
    before = len(server.received)
    message = pb_string(1, "SO-2026-0045") + pb_string(2, f"客户身份证 {RESIDENT_ID} " * 10)
    error, record = refused_call(
        lambda m, timeout: send(m, timeout=timeout, compression=grpc.Compression.Gzip),
        default_proxy, server.method_path, message)
    assert len(server.received) == before
    assert_denied(error, record)


def test_clean_client_stream_reaches_the_server(collect, server):
    messages = [pb_string(1, f"SO-2026-01{i:02d}") for i in range(3)]
    assert collect(iter(messages), timeout=TIMEOUT) == pb_string(1, "stored")
    assert server.streams[-1] == messages


def test_client_stream_with_resident_id_in_third_message_is_denied(collect, server, default_proxy):
    before = len(server.streams)
    messages = [pb_string(1, "SO-2026-0201"), pb_string(1, "SO-2026-0202"),
                pb_string(1, "SO-2026-0203") + pb_string(2, f"身份证 {RESIDENT_ID}")]
    error, record = refused_call(collect, default_proxy, server.stream_path, iter(messages))
    assert len(server.streams) == before
    assert_denied(error, record)
