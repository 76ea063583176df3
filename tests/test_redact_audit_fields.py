"""redact_record keeps the audit trail: fields baomi fills itself are never blanked because a
value found in the request happens to equal them; the host is masked only by a value found
in a host name."""

from __future__ import annotations

from incidents_cli import RAW_ID, record

from proxy.record.incidents.redact import redact_record

CLIENT = "127.0.0.1"
REFERER_IP = {"entity": "IP_ADDRESS", "location": "header:referer", "value": CLIENT}


def test_a_found_value_equal_to_the_client_address_leaves_source_and_host_alone():
    out = redact_record(record(source=CLIENT, host=CLIENT, evidence=(REFERER_IP,)))
    assert (out.source, out.host) == (CLIENT, CLIENT)


def test_a_value_found_in_the_host_name_is_masked_there():
    host = f"{RAW_ID.lower()}.example.com"
    out = redact_record(record(host=host, evidence=(
        {"entity": "CN_RESIDENT_ID", "location": "host", "value": RAW_ID.lower()},)))
    assert RAW_ID.lower() not in out.host and out.host.endswith(".example.com")


def test_a_value_found_elsewhere_does_not_rewrite_the_host():
    host = "api.example.com"
    out = redact_record(record(host=host, evidence=(
        {"entity": "PERSON", "location": "json:$.name", "value": "example"},)))
    assert out.host == host
