"""End to end: the incident store behind the real `baomi run` process.

What the reviewer CLI (`baomi incidents ...`, a subprocess) finds after real clients sent
customer data through the proxy is the assertion: every acknowledged block is an incident,
evidence is only ever in clear for `reveal` (and that is logged), nothing in the data dir
holds a raw value, `kill -9` loses no acknowledged incident, and a full disk blocks traffic
that needs a record instead of letting it through unrecorded.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Self
from urllib.parse import quote, unquote_to_bytes

import httpx
import pytest
from fulldisk import fill, tmpfs
from harness import BAOMI, REPO, BaomiProcess, Upstream, free_port, process_alive

pytestmark = pytest.mark.e2e

POLICY = REPO / "policies" / "default.yaml"
RESIDENT_ID = "11010519491231002X"
MOBILE = "13800138000"
EMAIL = "zhang.wei@example.com"
CARD = "6222021234567890123"  # UnionPay 62, Luhn-valid
RAW = {"RESIDENT_ID": RESIDENT_ID, "MOBILE": MOBILE, "EMAIL": EMAIL, "CARD": CARD}
# What a masked body carries; records add "#" and the value's keyed fingerprint (recorded()).
MASKED = {"RESIDENT_ID": "11****************", "MOBILE": "138********", "EMAIL": "z***@example.com",
          "CARD": "***************0123"}
ENTITY = {"RESIDENT_ID": "CN_RESIDENT_ID", "MOBILE": "PHONE_NUMBER", "EMAIL": "EMAIL_ADDRESS",
          "CARD": "CREDIT_CARD"}


# -- helpers -----------------------------------------------------------------------------------

def recorded(px: BaomiProcess, name: str) -> str:
    """The mask records carry for RAW[name], under this proxy's fingerprint key."""
    from detectors.mask import masked_with
    from proxy.record.incidents.keys import load_mask_key

    return masked_with(ENTITY[name], RAW[name], load_mask_key(px.data_dir))


def baomi(*args: str, data_dir: Path, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run([BAOMI, *args, "--data-dir", str(data_dir)], cwd=REPO,
                         capture_output=True, text=True, timeout=120, check=False)
    if check:
        assert out.returncode == 0, f"baomi {' '.join(args)}: {out.returncode}\n{out.stderr}"
    return out


def incidents(data_dir: Path) -> dict[str, dict]:
    out = baomi("incidents", "list", "--json", data_dir=data_dir)
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    return {row["id"]: row for row in rows}


def private_key(px: BaomiProcess) -> Path:
    """The reviewers' key the proxy wrote on its first start (and warned about)."""
    key = px.data_dir / "reviewer-private-key.pem"
    assert key.exists() and str(key) in px.log_text()
    return key


def client_for(px: BaomiProcess, timeout: float = 30) -> httpx.Client:
    return httpx.Client(proxy=px.url, verify=ssl.create_default_context(cafile=px.ca_pem),
                        timeout=timeout)


def decisions(data_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (data_dir / "decisions.jsonl").read_text().splitlines()]


def metrics_get(px: BaomiProcess, path: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{px.metrics_port}{path}", timeout=10)


def incident_log_failures(px: BaomiProcess) -> float:
    text = metrics_get(px, "/metrics").text
    match = re.search(r"^baomi_incident_log_failures_total (\S+)$", text, re.MULTILINE)
    assert match, "baomi_incident_log_failures_total missing from /metrics"
    return float(match.group(1))


# -- looking for raw values at rest --------------------------------------------------------------

def _base64_cores(raw: bytes) -> dict[str, bytes]:
    """The base64 characters that depend only on ``raw``, at each of the 3 alignments."""
    cores = {}
    for lead in range(3):
        encoded = base64.b64encode(bytes(lead) + raw)
        start = (lead * 4 + 2) // 3  # characters that also carry the leading bytes' bits
        cores[f"base64@{lead}"] = encoded[start: 4 * ((lead + len(raw)) // 3)]
    return cores


def encodings(value: str) -> dict[str, bytes]:
    """How a value could sit in a file: as text in several encodings, or base64'd."""
    forms = {enc: value.encode(enc) for enc in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le")}
    forms["percent-encoded"] = quote(value, safe="").encode()
    return forms | _base64_cores(value.encode())


def views(data: bytes) -> dict[str, bytes]:
    """The file as stored, and with JSON \\uXXXX and URL %XX escapes undone (any mix of them)."""
    unescaped = re.sub(rb"\\u([0-9a-fA-F]{4})",
                       lambda m: chr(int(m.group(1), 16)).encode("utf-8", "surrogatepass"), data)
    return {"as stored": data, "JSON-unescaped": unescaped.replace(b"\\/", b"/"),
            "URL-decoded": unquote_to_bytes(data)}


def raw_values_at_rest(root: Path, only: str | None = None) -> list[str]:
    """Every (file, value name, form) where a raw value sits under ``root``; names only."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = str(path.relative_to(root))
        if only and not (rel == only or rel.startswith(only + "/")):
            continue
        data = path.read_bytes()
        for view_name, view in views(data).items():
            for name, value in RAW.items():
                for form, needle in encodings(value).items():
                    if needle in view:
                        found.append(f"{rel}: {name} ({MASKED[name]}) {form}, {view_name}")
    return found


def test_the_search_finds_what_it_looks_for(tmp_path):
    """The leak search itself: each way of writing a value is found (a blind search passes all)."""
    samples = {
        "plain.txt": f"id={RESIDENT_ID}".encode(),
        "u16.bin": b"\x00\x01" + f"tel {MOBILE}".encode("utf-16-le"),
        "esc.json": json.dumps({"e": EMAIL}, ensure_ascii=True).replace("@", "\\u0040").encode(),
        "b64.txt": base64.b64encode(b"xy" + CARD.encode()),
        "pct.txt": quote(f"mail={EMAIL}", safe="=").encode(),
    }
    for name, data in samples.items():
        (tmp_path / name).write_bytes(data)
        assert raw_values_at_rest(tmp_path, only=name), name
    (tmp_path / "masked.json").write_text(json.dumps(list(MASKED.values())))
    assert not raw_values_at_rest(tmp_path, only="masked.json")


# -- fixtures --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def proxy(tmp_path_factory, upstream_ca):
    data = tmp_path_factory.mktemp("baomi-incidents")
    with BaomiProcess(POLICY, data, upstream_ca=upstream_ca.pem) as px:
        yield px


@pytest.fixture
def client(proxy):
    with client_for(proxy) as c:
        yield c


# -- 1. blocked and masked requests become incidents a reviewer can work with ----------------------

def test_blocked_request_is_listed_under_the_id_the_client_got(client, proxy, https_up):
    n = len(https_up.received)
    r = client.post(https_up.url("/api/customers"), json={"name": "张伟", "id_no": RESIDENT_ID})
    assert r.status_code == 403 and len(https_up.received) == n
    incident_id = r.headers["x-baomi-incident"]
    row = incidents(proxy.data_dir)[incident_id]
    assert (row["action"], row["rule"], row["path"]) == ("block", "block-ids-and-cards", "/api/customers")
    assert row["entity_counts"]["CN_RESIDENT_ID"] == 1
    assert recorded(proxy, "RESIDENT_ID") in row["masked"]
    assert row["status"] == "new"


@pytest.mark.parametrize("as_json", [False, True])
def test_show_is_masked(client, proxy, https_up, as_json):
    r = client.post(https_up.url("/api/cards"), json={"card": CARD, "mobile": MOBILE})
    incident_id = r.headers["x-baomi-incident"]
    out = baomi("incidents", "show", incident_id, *(["--json"] if as_json else []),
                data_dir=proxy.data_dir).stdout
    assert incident_id in out
    assert CARD not in out and MOBILE not in out
    assert recorded(proxy, "CARD") in out
    if as_json:
        assert json.loads(out)["evidence_items"] == 2
    else:
        assert "2 item(s), encrypted (baomi incidents reveal)" in out


def test_masked_request_is_an_incident(client, proxy, https_up):
    r = client.post(https_up.url("/api/tickets"), json={"customer": {"phone": MOBILE}})
    assert r.status_code == 200
    assert json.loads(https_up.received[-1].body) == {"customer": {"phone": MASKED["MOBILE"]}}
    record = decisions(proxy.data_dir)[-1]
    assert record["action"] == "mask" and record["path"] == "/api/tickets"
    row = incidents(proxy.data_dir)[record["incident_id"]]
    assert row["action"] == "mask" and row["masked"] == [recorded(proxy, "MOBILE")]


def test_masked_response_names_its_incident(client, proxy, https_up):
    r = client.post(https_up.url("/api/tickets"), json={"customer": {"phone": MOBILE}})
    assert r.status_code == 200
    assert r.headers["x-baomi-incident"] in incidents(proxy.data_dir)


def test_reveal_shows_the_raw_value_and_is_logged(client, proxy, https_up):
    r = client.post(https_up.url("/api/customers"), json={"id_no": RESIDENT_ID})
    incident_id = r.headers["x-baomi-incident"]
    reason = "ticket SEC-42: e2e reveal"
    out = baomi("incidents", "reveal", incident_id, "--key", str(private_key(proxy)),
                "--reason", reason, data_dir=proxy.data_dir)
    revealed = json.loads(out.stdout)
    assert revealed["incident"]["incident"] == incident_id
    assert [e["value"] for e in revealed["evidence"]] == [RESIDENT_ID]
    log = baomi("incidents", "list", "--access-log", "--json", data_dir=proxy.data_dir).stdout
    accesses = [json.loads(line) for line in log.splitlines()]
    assert any(a["incident"] == incident_id and a["reason"] == reason and a["who"]
               for a in accesses)


def test_reveal_with_another_key_shows_nothing(client, proxy, https_up, tmp_path):
    r = client.post(https_up.url("/api/customers"), json={"id_no": RESIDENT_ID})
    other = tmp_path / "other"
    baomi("keys", "init", "--private-key-out", str(tmp_path / "other.pem"), data_dir=other)
    out = baomi("incidents", "reveal", r.headers["x-baomi-incident"], "--key",
                str(tmp_path / "other.pem"), "--reason", "wrong key", data_dir=proxy.data_dir,
                check=False)
    # the wrong --key is bad command-line input: exit 2, and which key would open it
    assert out.returncode == 2 and out.stderr.startswith("Error: "), out.stderr
    assert "is sealed to reviewer key" in out.stderr
    assert RESIDENT_ID not in out.stdout + out.stderr


def test_verify_passes_and_catches_a_flipped_byte(client, proxy, https_up, tmp_path):
    client.post(https_up.url("/api/customers"), json={"id_no": RESIDENT_ID})
    key = str(private_key(proxy))
    out = baomi("incidents", "verify", "--key", key, data_dir=proxy.data_dir)
    assert out.stdout.splitlines()[-1].startswith("verify: OK: "), out.stdout  # after any notes
    assert re.search(r"[1-9]\d* MACs checked", out.stdout)
    copy = tmp_path / "copy"
    shutil.copytree(proxy.data_dir, copy)
    segment = min((copy / "incidents").glob("log-*.bin"))
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0x01
    segment.write_bytes(bytes(data))
    bad = baomi("incidents", "verify", "--key", key, data_dir=copy, check=False)
    assert bad.returncode == 1 and "PROBLEM" in bad.stdout
    assert bad.stdout.splitlines()[-1].startswith("verify: FAILED: "), bad.stdout


# -- 2. evidence never in clear ---------------------------------------------------------------------

CARRIERS = [  # (path, request kwargs, expected status)
    ("/leak/json", {"json": {"customer": {"id_no": RESIDENT_ID, "mobile": MOBILE, "email": EMAIL,
                                          "card": CARD}}}, 403),
    ("/leak/form", {"data": {"id_no": RESIDENT_ID, "mobile": MOBILE, "email": EMAIL, "card": CARD}},
     403),
    ("/leak/text", {"content": f"身份证号 {RESIDENT_ID} 手机 {MOBILE} 邮箱 {EMAIL} 卡号 {CARD}".encode(),
                    "headers": {"content-type": "text/plain; charset=utf-8"}}, 403),
    (f"/leak/query?mobile={MOBILE}&email={quote(EMAIL)}", {"content": b"-"}, 200),
    ("/leak/contact", {"json": {"contact": {"mobile": MOBILE, "email": EMAIL}}}, 200),
]


def test_no_raw_value_anywhere_in_the_data_dir(client, proxy, https_up):
    for path, kwargs, status in CARRIERS:
        r = client.post(https_up.url(path), **kwargs)
        assert r.status_code == status, path
    for got in https_up.received:
        assert not any(v.encode() in got.body or v in unquote_to_bytes(got.path).decode()
                       for v in RAW.values())
    # Every value was recorded (encrypted): a reviewer can get each one back.
    rows = [row for row in incidents(proxy.data_dir).values() if row["path"].startswith("/leak/")]
    assert len(rows) == len(CARRIERS)
    key = str(private_key(proxy))
    revealed = set()
    for row in rows:
        out = baomi("incidents", "reveal", row["id"], "--key", key, "--reason", "leak test",
                    data_dir=proxy.data_dir)
        revealed |= {e["value"] for e in json.loads(out.stdout)["evidence"]}
    assert set(RAW.values()) <= revealed
    # ... and nowhere else: not the logs, the index, checkpoints, keys, the CA.
    assert raw_values_at_rest(proxy.data_dir) == []
    stored = (proxy.data_dir / "decisions.jsonl").read_text()
    assert all(recorded(proxy, name) in stored for name in RAW)  # metadata: masked forms only


@pytest.fixture(scope="module")
def path_proxy(tmp_path_factory, upstream_ca, https_up):
    """A proxy whose only incident came from a resident ID in the URL path (a REST id)."""
    data = tmp_path_factory.mktemp("baomi-path")
    with BaomiProcess(POLICY, data, upstream_ca=upstream_ca.pem) as px, client_for(px) as c:
        r = c.post(https_up.url(f"/api/customers/{RESIDENT_ID}/notes"), json={"note": "hi"})
        assert r.status_code == 403
        incidents(data)  # builds index.sqlite, which must be clean too
        yield px, r.headers["x-baomi-incident"]


def test_value_in_url_path_is_masked_in_the_incident(path_proxy):
    px, incident_id = path_proxy
    assert incidents(px.data_dir)[incident_id]["path"] == (
        f"/api/customers/{recorded(px, 'RESIDENT_ID')}/notes")
    assert raw_values_at_rest(px.data_dir, only="incidents") == []


def test_value_in_url_path_is_not_in_the_decision_log(path_proxy):
    px, _ = path_proxy
    assert raw_values_at_rest(px.data_dir, only="decisions.jsonl") == []


# -- 3. kill -9 under load ---------------------------------------------------------------------------

KILLS = 3
PER_THREAD = 400  # answered requests per client thread, at most
THREADS = 3


def child_pids(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        children += [int(c) for c in task.read_text().split()]
    return children


def reap(pids: list[int], grace: float = 15) -> None:
    """Inspection workers exit when their parent's pipe closes; kill any that linger (by pid)."""
    deadline = time.monotonic() + grace
    for pid in pids:
        while process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if process_alive(pid):
            os.kill(pid, signal.SIGKILL)


class BlockedTraffic:
    """Client threads sending blocked requests; keeps every incident id answered with a 403."""

    def __init__(self, px: BaomiProcess, url: str):
        self.px, self.url = px, url
        self.acked: list[str] = []
        self.other: list[int] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(THREADS)]

    def __enter__(self) -> Self:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(60)

    def _run(self) -> None:
        answered = 0
        with client_for(self.px, timeout=20) as c:
            while answered < PER_THREAD and not self.stop.is_set():
                try:
                    r = c.post(self.url, json={"customer": {"id_no": RESIDENT_ID}})
                except httpx.TransportError:  # the proxy is down or was killed mid-request
                    time.sleep(0.05)
                    continue
                answered += 1
                if r.status_code == 403:
                    self.acked.append(r.headers["x-baomi-incident"])
                else:
                    self.other.append(r.status_code)

    def wait_for(self, count: int, timeout: float = 120) -> None:
        """Until ``count`` incidents are acknowledged, or every client has sent all it had;
        a proxy that stops answering fails here rather than pass as quiet traffic."""
        deadline = time.monotonic() + timeout
        while len(self.acked) < count and any(t.is_alive() for t in self.threads):
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.acked)} of {count} incidents acknowledged "
                                     f"within {timeout:g}s")
            time.sleep(0.05)


def test_kill_9_under_load_loses_no_acknowledged_incident(tmp_path, upstream_ca, https_up):
    seed = int(os.environ.get("BAOMI_TEST_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    px = BaomiProcess(POLICY, tmp_path / "data", upstream_ca=upstream_ca.pem).start()
    n = len(https_up.received)
    kills = 0
    try:
        with BlockedTraffic(px, https_up.url("/kill9")) as traffic:
            for _ in range(KILLS):
                traffic.wait_for(len(traffic.acked) + 10)  # under load, not between bursts
                time.sleep(rng.uniform(0, 1.5))
                workers = child_pids(px.proc.pid)
                px.proc.send_signal(signal.SIGKILL)
                assert px.proc.wait(30) == -signal.SIGKILL
                kills += 1
                reap(workers)
                px.start()
            traffic.wait_for(len(traffic.acked) + 20)
        px.stop()
    finally:
        if px.proc and px.proc.poll() is None:
            px.stop()
    note = f"(seed {seed}; BAOMI_TEST_SEED={seed} repeats it)"
    assert kills == KILLS
    assert traffic.other == [], note  # blocked data is blocked, also around the kills
    assert len(https_up.received) == n, note
    assert len(traffic.acked) >= KILLS * 10 and len(set(traffic.acked)) == len(traffic.acked)
    recorded = incidents(px.data_dir)
    missing = [i for i in traffic.acked if i not in recorded]
    assert missing == [], f"{len(missing)} acknowledged incidents lost {note}"
    out = baomi("incidents", "verify", "--key", str(private_key(px)), data_dir=px.data_dir,
                check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    print(f"kill -9 x{kills}: {len(traffic.acked)} acknowledged, {len(recorded)} recorded {note}")


# -- 4. disk full ------------------------------------------------------------------------------------


def masked_request(c: httpx.Client, up: Upstream) -> httpx.Response:
    """A request that goes upstream only once its incident is recorded (mask)."""
    return c.post(up.url("/disk"), json={"customer": {"phone": MOBILE}})


def until_refused(c: httpx.Client, up: Upstream, tries: int = 200) -> httpx.Response:
    """Masked requests until one is refused: files' last pages hold a little slack."""
    for _ in range(tries):
        n = len(up.received)
        r = masked_request(c, up)
        if r.status_code != 200:
            assert len(up.received) == n  # refused: the upstream got nothing
            return r
        assert json.loads(up.received[-1].body)["customer"]["phone"] == MASKED["MOBILE"]
    raise AssertionError(f"{tries} masked requests passed on a full disk")


def ready(px: BaomiProcess) -> httpx.Response:
    return metrics_get(px, "/readyz")


@pytest.fixture
def full_disk_proxy(tmp_path, upstream_ca, request):
    """(proxy, mount point) with ``request.param`` ('data dir' or 'incidents/') on a small tmpfs."""
    data = tmp_path / "data"
    mount_at = data if request.param == "data dir" else data / "incidents"
    with tmpfs(mount_at, "2m"):
        px = BaomiProcess(POLICY, data, upstream_ca=upstream_ca.pem, metrics_port=free_port())
        with px:
            yield px, mount_at


@pytest.mark.parametrize("full_disk_proxy", ["data dir", "incidents/"], indirect=True)
def test_disk_full_blocks_then_recovers(full_disk_proxy, https_up):
    px, mount_at = full_disk_proxy
    with client_for(px) as c:
        assert masked_request(c, https_up).status_code == 200
        assert ready(px).status_code == 200
        before = incident_log_failures(px)
        filler = fill(mount_at / "filler")

        r = until_refused(c, https_up)
        assert r.status_code == 503
        assert r.json()["rule"] == "on_record_failure" and MOBILE not in r.text
        # nothing was written: the answer quotes no incident id that exists nowhere
        assert "x-baomi-incident" not in r.headers
        assert (r.json()["incident"], r.json()["error"]["incident"]) == (None, None)
        assert "not recorded" in r.json()["error"]["message"]
        not_ready = ready(px)
        assert not_ready.status_code == 503
        assert "incident_log" in not_ready.json()["not_ready"]
        assert incident_log_failures(px) > before

        if mount_at.name == "incidents":  # the decision log still works: clean traffic may pass
            n = len(https_up.received)
            assert c.post(https_up.url("/clean"), json={"sku": "AB-1"}).status_code == 200
            assert len(https_up.received) == n + 1
            assert until_refused(c, https_up).status_code == 503
            assert ready(px).status_code == 503

        filler.unlink()
        assert masked_request(c, https_up).status_code == 200
        assert json.loads(https_up.received[-1].body)["customer"]["phone"] == MASKED["MOBILE"]
        assert ready(px).status_code == 200
        blocked = c.post(https_up.url("/disk"), json={"id_no": RESIDENT_ID})
        assert blocked.status_code == 403
        assert blocked.headers["x-baomi-incident"] in incidents(px.data_dir)
    baomi("incidents", "verify", "--key", str(private_key(px)), data_dir=px.data_dir)


@pytest.mark.parametrize("full_disk_proxy", ["incidents/"], indirect=True)
def test_readiness_follows_the_incident_log_not_the_traffic_mix(full_disk_proxy, https_up):
    px, mount_at = full_disk_proxy
    clean = {"json": {"sku": "AB-1"}}
    with client_for(px) as c:
        filler = fill(mount_at / "filler")
        assert until_refused(c, https_up).status_code == 503
        assert c.post(https_up.url("/clean"), **clean).status_code == 200
        assert ready(px).status_code == 503  # still cannot record: no flapping back to ready
        filler.unlink()
        # Only clean traffic from now on (as when a balancer drains a not-ready proxy):
        # readiness must still come back, or the proxy stays out of rotation for good.
        assert c.post(https_up.url("/clean"), **clean).status_code == 200
        assert ready(px).status_code == 200


def test_decision_log_short_write_is_an_error_and_leaves_whole_lines(tmp_path):
    """A real short write: RLIMIT_FSIZE lets the kernel write part of a line, as ENOSPC does."""
    code = f"""
import json, resource, signal, sys
sys.path[:0] = [{str(REPO)!r}, {str(REPO / 'tests')!r}]
from incidents_cli import record
from proxy.errors import IncidentLogError
from proxy.record.decisions import DecisionLog
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
log, rec = DecisionLog({str(tmp_path)!r}), record()
size = len(json.dumps(rec.public(), ensure_ascii=False, sort_keys=True)) + 1
resource.setrlimit(resource.RLIMIT_FSIZE, (size * 3 // 2, resource.RLIM_INFINITY))
results = []
for _ in range(2):
    try:
        log.write(rec)
        results.append("ok")
    except IncidentLogError:
        results.append("error")
print(json.dumps(results))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == ["ok", "error"]
    with (tmp_path / "decisions.jsonl").open("a") as log:
        log.write(json.dumps({"next": "record"}) + "\n")
    lines = (tmp_path / "decisions.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines][-1] == {"next": "record"}
