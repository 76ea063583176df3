"""`baomi scan` and `baomi policy check`: the commands, flags and outputs the issue names."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from harness import BAOMI, REPO
from mitmproxy import io as mitmio
from mitmproxy.test import tflow

from proxy.cli import main

RESIDENT_ID = "11010519491231002X"
MOBILE = "13800138000"
DEFAULT = str(REPO / "policies" / "default.yaml")


def scan_json(capsys, *args) -> list[dict]:
    assert main(["scan", "--policy", DEFAULT, "--json", *args]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.fixture
def body_file(tmp_path):
    path = tmp_path / "body.json"
    path.write_text(json.dumps({"customer": {"phone": MOBILE, "id_no": RESIDENT_ID}}))
    return path


def test_scan_raw_body_masks_values_by_default(capsys, body_file):
    [result] = scan_json(capsys, "--content-type", "application/json", str(body_file))
    assert result["input"] == str(body_file)
    by_entity = {f["entity"]: f for f in result["findings"]}
    assert by_entity["CN_RESIDENT_ID"]["location"] == "json:$.customer.id_no"
    assert by_entity["PHONE_NUMBER"]["location"] == "json:$.customer.phone"
    assert all("value" not in f for f in result["findings"])
    assert by_entity["PHONE_NUMBER"]["masked"] == "138********"
    assert result["decision"]["action"] == "block"
    assert result["decision"]["rule"] == "block-ids-and-cards"
    assert RESIDENT_ID not in json.dumps(result) and MOBILE not in json.dumps(result)


def test_scan_show_values(capsys, body_file):
    [result] = scan_json(capsys, "--show-values", "--content-type", "application/json", str(body_file))
    assert {f["value"] for f in result["findings"]} >= {MOBILE, RESIDENT_ID}


def test_scan_stdin(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(f"call me {MOBILE}".encode())))
    [result] = scan_json(capsys, "--content-type", "text/plain", "-")
    assert result["input"] == "-"
    assert [f["entity"] for f in result["findings"]] == ["PHONE_NUMBER"]


def test_scan_har_scans_every_request_with_its_url(capsys, tmp_path):
    def entry(url, text, mime):
        return {"request": {"method": "POST", "url": url, "headers": [],
                            "postData": {"mimeType": mime, "text": text}}}

    har = {"log": {"entries": [
        entry("https://api.partner.example/a", json.dumps({"note": "hello"}), "application/json"),
        entry("http://crm.example/b", f"mobile={MOBILE}", "application/x-www-form-urlencoded"),
    ]}}
    path = tmp_path / "capture.har"
    path.write_text(json.dumps(har))
    first, second = scan_json(capsys, str(path))
    assert first["url"] == "https://api.partner.example/a" and first["findings"] == []
    assert first["decision"]["action"] == "allow"
    assert second["url"] == "http://crm.example/b"
    assert second["findings"][0]["location"] == "form:mobile"
    assert second["decision"] == {"action": "block", "rule": "block-plain-http",
                                  "reason": second["decision"]["reason"]}


def test_scan_mitmproxy_flow_file(capsys, tmp_path):
    path = tmp_path / "flows.mitm"
    with open(path, "wb") as f:
        writer = mitmio.FlowWriter(f)
        for body in (b'{"ok": true}', json.dumps({"card_no": "6222021234567890123"}).encode()):
            flow = tflow.tflow()
            flow.request.url = "https://pay.example/charge"
            flow.request.method = "POST"
            flow.request.headers["content-type"] = "application/json"
            flow.request.content = body
            writer.add(flow)
    clean, card = scan_json(capsys, str(path))
    assert clean["findings"] == [] and clean["url"] == "https://pay.example/charge"
    assert [f["entity"] for f in card["findings"]] == ["CREDIT_CARD"]
    assert card["decision"]["action"] == "block"


def test_scan_missing_input_is_a_clear_error(capsys, tmp_path):
    assert main(["scan", "--policy", DEFAULT, str(tmp_path / "nope.json")]) == 2
    assert "Error:" in capsys.readouterr().err


def test_policy_check_valid_prints_summary():
    out = subprocess.run([BAOMI, "policy", "check", DEFAULT], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "valid" in out.stdout and "sha256:" in out.stdout
    assert "block-ids-and-cards" in out.stdout


def test_policy_check_invalid_names_line_and_column(tmp_path):
    bad = tmp_path / "bad.yaml"
    text = (REPO / "policies" / "default.yaml").read_text()
    bad.write_text(text.replace("action: mask", "action: scramble", 1))
    line = text[: text.index("action: mask")].count("\n") + 1
    out = subprocess.run([BAOMI, "policy", "check", str(bad)], capture_output=True, text=True)
    assert out.returncode == 2  # a policy error
    assert f"{bad}:{line}:" in out.stderr
    assert "Traceback" not in out.stderr
