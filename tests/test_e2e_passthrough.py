"""End to end: hosts listed under ``passthrough:`` are tunnelled, not inspected, and counted.

The upstream answers as ``localhost`` (policy ``passthrough: [localhost]``) and as
``127.0.0.1`` (not listed), with a certificate from its own test CA. Through baomi (explicit
mode), the listed name must show the upstream's own certificate and deliver the body untouched;
the address must still be intercepted. Each tunnelled connection leaves a decision record and
a ``baomi_uninspected_total{reason="passthrough"}`` count.
"""

from __future__ import annotations

import json
import socket
import ssl

import httpx
import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID
from harness import REPO, BaomiProcess, free_port

pytestmark = pytest.mark.e2e

RESIDENT_ID = "11010519491231002X"
PINNED = "localhost"  # the upstream's name in the policy's passthrough list
BODY = json.dumps({"id_no": RESIDENT_ID, "note": "pinned app"}).encode()


@pytest.fixture(scope="module")
def upstream(https_up):
    return https_up


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, upstream_ca):
    tmp = tmp_path_factory.mktemp("baomi-passthrough")
    data = yaml.safe_load((REPO / "policies" / "default.yaml").read_text())
    data["passthrough"] = [PINNED]
    policy = tmp / "policy.yaml"
    policy.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    with BaomiProcess(policy, tmp / "data", upstream_ca=upstream_ca.pem,
                      metrics_port=free_port()) as px:
        yield px


def issuer_through(proxy: BaomiProcess, host: str, port: int) -> str:
    """CONNECT through baomi and return the common name of the certificate's issuer."""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=20) as raw:
        raw.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        reply = raw.recv(4096)
        assert reply.startswith(b"HTTP/1.1 200"), reply
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # we only look
        sni = host if not host[0].isdigit() else None
        with context.wrap_socket(raw, server_hostname=sni) as tls:
            der = tls.getpeercert(binary_form=True)
    issuer = x509.load_der_x509_certificate(der).issuer
    return issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def passthrough_count(proxy: BaomiProcess) -> float:
    return proxy.metric("baomi_uninspected_total", reason="passthrough")


@pytest.mark.parametrize("host,issuer", [
    (PINNED, "baomi test upstream CA"),  # tunnelled: the upstream's own certificate
    ("127.0.0.1", "mitmproxy"),  # not listed: baomi's interception certificate
])
def test_client_sees_upstream_certificate_only_for_listed_hosts(proxy, upstream, host, issuer):
    assert issuer_through(proxy, host, upstream.port) == issuer


def test_pinned_client_body_arrives_unmodified_recorded_and_counted(proxy, upstream, upstream_ca):
    before_count, before_records = passthrough_count(proxy), len(proxy.decisions())
    n = len(upstream.received)
    # The client trusts only the upstream's CA, as a certificate-pinning app would.
    with httpx.Client(proxy=proxy.url, verify=ssl.create_default_context(cafile=upstream_ca.pem),
                      timeout=30) as client:
        r = client.post(upstream.url("/sync", host=PINNED), content=BODY,
                        headers={"content-type": "application/json"})
    assert r.status_code == 200
    assert [got.body for got in upstream.received[n:]] == [BODY]  # resident ID and all
    [record] = proxy.decisions()[before_records:]
    assert (record["rule"], record["uninspected"], record["action"]) == (
        "passthrough", "passthrough", "allow")
    assert (record["host"], record["port"]) == (PINNED, upstream.port)
    assert RESIDENT_ID not in json.dumps(record)
    assert passthrough_count(proxy) == before_count + 1


def test_unlisted_address_of_the_same_server_is_still_inspected(proxy, upstream):
    n, before_count = len(upstream.received), passthrough_count(proxy)
    with httpx.Client(proxy=proxy.url, verify=ssl.create_default_context(cafile=proxy.ca_pem),
                      timeout=30) as client:
        r = client.post(upstream.url("/sync"), content=BODY,
                        headers={"content-type": "application/json"})
    assert r.status_code == 403
    assert len(upstream.received) == n
    assert proxy.decisions()[-1]["rule"] == "block-ids-and-cards"
    assert passthrough_count(proxy) == before_count


def test_pinned_client_refuses_baomi_certificate_for_unlisted_address(proxy, upstream, upstream_ca):
    # The control for the test above: without passthrough, a pinning client cannot connect.
    with httpx.Client(proxy=proxy.url, verify=ssl.create_default_context(cafile=upstream_ca.pem),
                      timeout=30) as client, pytest.raises(httpx.ConnectError):
        client.get(upstream.url("/"))
