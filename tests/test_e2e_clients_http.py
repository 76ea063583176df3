"""Ordinary traffic through the real `baomi run` with real clients: curl (big downloads, Range
resume, HEAD, 304, Expect: 100-continue, chunked uploads over HTTP/1.1 and HTTP/2, oversize
uploads, trailers, a long poll, server-sent events), pip from a local HTTPS index, and the
OpenAI SDK streaming a chat completion.

One baomi (default policy) and one set of upstreams (tests/upstreams.py) serve the module; the
60 s long poll starts with the module and is collected by the last test, so it costs no extra
wall time.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import httpx2
import openai
import pytest
from harness import BaomiProcess
from upstreams import (
    TRAILER_BODY,
    TRAILER_NAME,
    AppUpstream,
    H2TrailerServer,
    StaticSite,
    build_wheel,
    write_simple_index,
)

pytestmark = pytest.mark.e2e

MiB = 1 << 20
LIMIT = 10 * MiB  # policies/default.yaml limits.max_body_bytes
INCIDENT = re.compile(r"BM-\d{8}T\d{6}Z-[0-9a-f]{8}")
MOBILE = "15867203941"
MOBILE_MASKED = "158********"
CLEAN_WORDS = b"order shipped from the north warehouse to the city store with standard packaging "


def resident_id(region: str = "110105", birth: str = "19850317", seq: str = "123") -> str:
    """A valid 18-character ID: GB 11643 ISO 7064 MOD 11-2 check character."""
    body = region + birth + seq
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def write_random(path: Path, size: int) -> str:
    """``size`` incompressible bytes; returns their sha256."""
    digest = hashlib.sha256()
    with path.open("wb") as f:
        for _ in range(size // MiB):
            block = os.urandom(MiB)
            digest.update(block)
            f.write(block)
        rest = os.urandom(size % MiB)
        digest.update(rest)
        f.write(rest)
    return digest.hexdigest()


def write_clean_text(path: Path, size: int) -> str:
    data = (CLEAN_WORDS * (size // len(CLEAN_WORDS) + 1))[:size]
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(MiB):
            digest.update(block)
    return digest.hexdigest()


# -- fixtures: this module's upstreams (conftest's CA) and the session's baomi ---------------------

@pytest.fixture(scope="module")
def app(upstream_ca):
    with AppUpstream(upstream_ca) as up:
        yield up


@pytest.fixture(scope="module")
def site_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("site-root")
    (root / "files").mkdir()
    return root


@pytest.fixture(scope="module")
def site(upstream_ca, app, site_root, tmp_path_factory):
    with StaticSite(upstream_ca, site_root, tmp_path_factory.mktemp("nginx"),
                    app_url=app.url("")) as s:
        yield s


@pytest.fixture(scope="module")
def h2_trailers(upstream_ca):
    with H2TrailerServer(upstream_ca) as s:
        yield s


@pytest.fixture(scope="module")
def proxy(default_proxy):
    return default_proxy  # only requests go through it: the session's default-policy baomi


@pytest.fixture(scope="module", autouse=True)
def long_poll(proxy, app):
    """A 60 s long poll through baomi, started with the module; test_long_poll collects it."""
    proc = subprocess.Popen(
        ["curl", "-sS", "-x", proxy.url, "--cacert", proxy.ca_pem, "--max-time", "120",
         "-w", "\n%{http_code}", app.url("/longpoll?seconds=60")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.communicate()


def curl(proxy: BaomiProcess, *args: str, max_time: int = 60) -> subprocess.CompletedProcess:
    """curl through baomi, trusting its CA; ``--max-time`` turns a hang into a failure.
    Output is decoded by hand: text mode would turn the header block's CRLFs into LFs."""
    out = subprocess.run(["curl", "-sS", "-x", proxy.url, "--cacert", proxy.ca_pem,
                          "--max-time", str(max_time), *args],
                         capture_output=True, timeout=max_time + 30, check=False)
    return subprocess.CompletedProcess(out.args, out.returncode, out.stdout.decode(errors="replace"),
                                       out.stderr.decode(errors="replace"))


def status_and_version(out: subprocess.CompletedProcess) -> tuple[str, str]:
    """From ``-w '%{http_code} %{http_version}'`` at the end of stdout."""
    code, version = out.stdout.rsplit("\n", 1)[-1].split()
    return code, version


# -- downloads -----------------------------------------------------------------------------------

def vm_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_curl_200mib_download_identical_and_memory_bounded(proxy, site, site_root, tmp_path):
    served = write_random(site_root / "files" / "big.bin", 200 * MiB)
    saved = tmp_path / "big.bin"
    pid = proxy.proc.pid
    baseline, peak, done = vm_rss(pid), [0], threading.Event()

    def sample():  # polls memory, not a synchronisation: runs until the download is over
        while not done.is_set():
            peak[0] = max(peak[0], vm_rss(pid))
            done.wait(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        out = curl(proxy, "-o", str(saved), "-w", "%{http_code}", site.url("/files/big.bin"), max_time=180)
    finally:
        done.set()
        sampler.join()
    assert (out.returncode, out.stdout) == (0, "200"), out.stderr
    assert sha256_file(saved) == served
    growth = peak[0] - baseline
    print(f"baomi RSS {baseline / MiB:.0f} MiB before, peak {peak[0] / MiB:.0f} MiB")
    assert growth < 64 * MiB, f"baomi grew by {growth / MiB:.0f} MiB during a 200 MiB download"


def test_curl_range_resume_of_30mb_file(proxy, site, site_root, tmp_path):
    served = write_random(site_root / "files" / "resume.bin", 30_000_000)
    saved = tmp_path / "resume.bin"
    first = curl(proxy, "-r", "0-9999999", "-o", str(saved), "-w", "%{http_code}",
                 site.url("/files/resume.bin"))
    assert (first.returncode, first.stdout) == (0, "206"), first.stderr
    assert saved.stat().st_size == 10_000_000
    resumed = curl(proxy, "-C", "-", "-o", str(saved), "-w", "%{http_code}", "-v",
                   site.url("/files/resume.bin"))
    assert (resumed.returncode, resumed.stdout) == (0, "206"), resumed.stderr
    assert re.search(r"(?im)^> range: bytes=10000000-\r?$", resumed.stderr)
    assert sha256_file(saved) == served


def test_curl_head(proxy, site, site_root):
    write_clean_text(site_root / "files" / "head.txt", 123_456)
    out = curl(proxy, "--http1.1", "-I", site.url("/files/head.txt"))
    assert out.returncode == 0, out.stderr
    # the proxy's "200 Connection established" comes first
    head = out.stdout.split("\r\n\r\n")[-2].lower()
    assert head.startswith("http/1.1 200")
    assert "\r\ncontent-length: 123456" in head
    assert re.search(r'\r\netag: "[0-9a-f]+-[0-9a-f]+"', head)


def test_curl_if_none_match_gets_304(proxy, site, site_root):
    write_clean_text(site_root / "files" / "cached.txt", 5_000)
    first = curl(proxy, "-D", "-", "-o", "/dev/null", site.url("/files/cached.txt"))
    etag = re.search(r'(?im)^etag: ("[^"]+")', first.stdout).group(1)
    again = curl(proxy, "-H", f"If-None-Match: {etag}", "-o", "/dev/null", "-w", "%{http_code}",
                 site.url("/files/cached.txt"))
    assert (again.returncode, again.stdout) == (0, "304"), again.stderr


# -- uploads -------------------------------------------------------------------------------------

def test_curl_expect_100_continue_csv_upload_arrives_intact(proxy, app, tmp_path):
    rows = ["sku,warehouse,quantity,unit_price"]
    rows += [f"SKU-{i:06d},north-{i % 7},{i % 50},{i % 97}.{i % 100:02d}" for i in range(80_000)]
    data = ("\n".join(rows) + "\n").encode()[: 2 * MiB]
    data = data[: data.rindex(b"\n") + 1]
    assert len(data) > MiB  # curl sends Expect: 100-continue only above 1 MiB
    csv = tmp_path / "stock.csv"
    csv.write_bytes(data)
    out = curl(proxy, "-v", "-H", "content-type: text/csv", "--data-binary", f"@{csv}",
               "-w", "%{http_code}", "-o", "/dev/null", app.url("/up/stock.csv"))
    assert "> Expect: 100-continue" in out.stderr
    assert (out.returncode, out.stdout) == (0, "200"), out.stderr[-2000:]
    got = [r for r in app.received if r.path == "/up/stock.csv"]
    assert len(got) == 1 and got[0].body == data


@pytest.mark.parametrize("http", ["--http1.1", "--http2"])
def test_curl_chunked_upload_under_limit_arrives(proxy, app, site, tmp_path, http):
    name = f"chunk-small{http}"
    body = tmp_path / "small.txt"
    digest = write_clean_text(body, MiB)
    # HTTP/2 needs an upstream that speaks it: nginx in front of the same app
    url = app.url(f"/up/{name}") if http == "--http1.1" else site.url(f"/app/up/{name}")
    out = curl(proxy, http, "-H", "Transfer-Encoding: chunked", "-H", "content-type: text/plain",
               "--data-binary", f"@{body}", "-w", "\n%{http_code} %{http_version}", url)
    assert out.returncode == 0, out.stderr
    assert status_and_version(out) == ("200", http.removeprefix("--http"))
    assert json.loads(out.stdout.rsplit("\n", 1)[0]) == {"sha256": digest, "length": MiB}
    got = [r for r in app.received if r.path == f"/up/{name}"]
    assert len(got) == 1 and hashlib.sha256(got[0].body).hexdigest() == digest


def assert_oversize_block(proxy: BaomiProcess, out: subprocess.CompletedProcess, http_version: str):
    """baomi's own refusal (403, OpenAI-style JSON error naming the incident, recorded as an
    oversize block), not a hang, a reset or mitmproxy's bare 413 page."""
    assert out.returncode == 0, f"curl exit {out.returncode}: {out.stderr.strip()[-300:]}"
    *_, head, body = out.stdout.split("\r\n\r\n")  # after the proxy's "200 Connection established"
    status_line, *header_lines = head.split("\r\n")
    assert status_line.split()[:2] == [f"HTTP/{http_version}", "403"], status_line
    headers = {name.lower(): value for name, value in (line.split(": ", 1) for line in header_lines)}
    assert headers["content-type"].startswith("application/json")
    incident = headers.get("x-baomi-incident", "")
    assert INCIDENT.fullmatch(incident), f"no X-Baomi-Incident header: {head!r}"
    error = json.loads(body)["error"]
    assert (error["incident"], error["code"]) == (incident, "on_oversize")
    record = [d for d in proxy.decisions() if d["incident_id"] == incident]
    assert [(r["action"], r["rule"], r["uninspected"]) for r in record] == [("block", "on_oversize", "oversize")]


@pytest.mark.parametrize("http", ["--http1.1", "--http2"])
def test_curl_chunked_upload_over_limit_is_blocked_promptly(proxy, app, site, tmp_path, http):
    name = f"chunk-big{http}"
    body = tmp_path / "big.txt"
    write_clean_text(body, 12 * MiB)
    url = app.url(f"/up/{name}") if http == "--http1.1" else site.url(f"/app/up/{name}")
    out = curl(proxy, http, "-H", "Transfer-Encoding: chunked", "-H", "content-type: text/plain",
               "--data-binary", f"@{body}", "-D", "-", url, max_time=30)
    assert_oversize_block(proxy, out, "1.1" if http == "--http1.1" else "2")
    assert app.arrived(f"/up/{name}") == []
    assert f"/app/up/{name}" not in site.access_log()


def test_curl_oversize_upload_with_content_length_is_blocked(proxy, app, tmp_path):
    body = tmp_path / "big.txt"
    write_clean_text(body, LIMIT + MiB)
    out = curl(proxy, "-H", "content-type: text/plain", "--data-binary", f"@{body}", "-D", "-",
               app.url("/up/content-length-big"), max_time=30)
    assert_oversize_block(proxy, out, "1.1")
    assert app.arrived("/up/content-length-big") == []


# -- trailers ------------------------------------------------------------------------------------

def test_http2_response_trailers_pass_through(proxy, h2_trailers):
    out = curl(proxy, "--http2", "-D", "-", "-o", "/dev/null", h2_trailers.url("/t"))
    assert out.returncode == 0, out.stderr
    head, trailers = out.stdout.split("\r\n\r\n")[-2:]
    assert head.startswith("HTTP/2 200")
    assert f"{TRAILER_NAME}: {h2_trailers.digest}" in trailers


def test_http1_chunked_response_with_trailers_is_delivered_whole(proxy, app, tmp_path):
    """The whole body, promptly, then its trailer fields (mitmproxy 12.3 cannot send HTTP/1
    trailers; proxy/hook/httplayer.py writes them after the last chunk), as on HTTP/2 above."""
    saved = tmp_path / "body"
    out = curl(proxy, "--http1.1", "-D", "-", "-o", str(saved), app.url("/h1-trailers"),
               max_time=20)
    assert out.returncode == 0, out.stderr
    head, trailers = out.stdout.split("\r\n\r\n")[-2:]
    assert head.startswith("HTTP/1.1 200")
    assert saved.read_bytes() == TRAILER_BODY
    assert trailers == f"{TRAILER_NAME}: {hashlib.sha256(TRAILER_BODY).hexdigest()}\r\n"


# -- server-sent events --------------------------------------------------------------------------

def sse_arrivals(url: str, verify: ssl.SSLContext, proxy: str | None) -> list[tuple[str, float]]:
    """(data, seconds since the request started) for each event, as the client read it."""
    arrivals = []
    with httpx.Client(proxy=proxy, verify=verify, timeout=30) as client:
        started = time.monotonic()
        with client.stream("GET", url) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                if line.startswith("data: "):
                    arrivals.append((line.removeprefix("data: "), time.monotonic() - started))
    return arrivals


def test_sse_events_arrive_one_by_one(proxy, app, upstream_ca):
    url = app.url("/sse?events=5&interval=1")
    results: dict[str, list] = {}
    direct = threading.Thread(target=lambda: results.setdefault(
        "direct", sse_arrivals(url, ssl.create_default_context(cafile=upstream_ca.pem), None)))
    direct.start()
    results["baomi"] = sse_arrivals(url, ssl.create_default_context(cafile=proxy.ca_pem), proxy.url)
    direct.join()
    via, straight = results["baomi"], results["direct"]
    print("arrivals (s) through baomi:", [round(t, 2) for _, t in via],
          "direct:", [round(t, 2) for _, t in straight])
    assert [d for d, _ in via] == [d for d, _ in straight] == ["0", "1", "2", "3", "4"]
    assert via[0][1] < straight[0][1] + 0.5, f"first event {via[0][1]:.2f}s through baomi"
    gaps = [b - a for (_, a), (_, b) in itertools.pairwise(via)]
    assert min(gaps) > 0.5, f"events through baomi came together: gaps {gaps}"


# -- pip -----------------------------------------------------------------------------------------

def test_pip_install_from_https_index_with_a_12mib_wheel(proxy, site, site_root, tmp_path):
    payload = os.urandom(12 * MiB)
    wheel = build_wheel(tmp_path / "build", "bigpkg", "1.0", payload)
    assert wheel.stat().st_size > 10 * MiB
    write_simple_index(site_root / "simple", [wheel])
    # the environment must not override --cert or add proxies or config of its own
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PIP_") and k.lower() not in
           {"requests_ca_bundle", "curl_ca_bundle", "ssl_cert_file", "ssl_cert_dir", "http_proxy",
            "https_proxy", "all_proxy", "no_proxy"}}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    target = tmp_path / "target"
    out = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--proxy", proxy.url, "--cert", proxy.ca_pem,
         "--index-url", site.url("/simple/"), "--no-cache-dir", "--no-deps", "--target", str(target),
         "bigpkg==1.0"], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert (target / "bigpkg" / "payload.bin").read_bytes() == payload
    fetched = [d for d in proxy.decisions() if d["path"].endswith(wheel.name)]
    assert [(d["method"], d["action"]) for d in fetched] == [("GET", "allow")]


# -- the OpenAI SDK ------------------------------------------------------------------------------

@pytest.fixture
def openai_client(proxy, app):
    http_client = httpx2.Client(proxy=proxy.url, verify=ssl.create_default_context(cafile=proxy.ca_pem),
                                timeout=30)
    with openai.OpenAI(base_url=app.url("/v1"), api_key="sk-test-not-a-key", http_client=http_client,
                       max_retries=0) as client:
        yield client


def test_openai_stream_with_phone_is_masked_and_streams(openai_client, app):
    prompt = f"Write an SMS to customer Wang at {MOBILE} about the refund"
    started, arrivals, text = time.monotonic(), [], []
    stream = openai_client.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": prompt}], stream=True)
    for chunk in stream:
        arrivals.append(time.monotonic() - started)
        text.append(chunk.choices[0].delta.content or "")
    assert "".join(text) == app.reply
    body = [r for r in app.received if r.path == "/v1/chat/completions"][-1].body
    assert MOBILE.encode() not in body
    # the sentence arrives as written, the number replaced by its mask (detectors/mask.py owns
    # the mask's format: it shows a prefix, hides the rest)
    sent = json.loads(body)["messages"][0]["content"]
    masked = re.fullmatch(r"Write an SMS to customer Wang at (\S+) about the refund", sent)
    assert masked, sent
    assert masked.group(1).startswith(MOBILE[:3]) and "****" in masked.group(1)
    words = len(app.reply.split(" "))
    spread = arrivals[-1] - arrivals[0]
    assert spread > (words - 1) * app.chunk_delay * 0.5, f"chunks came together: {arrivals}"


def test_openai_resident_id_is_refused_with_incident(openai_client, app):
    before = len(app.arrived("/v1/chat/completions"))
    with pytest.raises(openai.PermissionDeniedError) as raised:
        openai_client.chat.completions.create(
            model="gpt-test",
            messages=[{"role": "user", "content": f"Customer {resident_id()} asked about the refund"}])
    incident = raised.value.response.headers["x-baomi-incident"]
    assert INCIDENT.fullmatch(incident)
    assert incident in str(raised.value)
    assert raised.value.code == "block-ids-and-cards"  # the SDK reads {"error": {"code": rule}}
    assert len(app.arrived("/v1/chat/completions")) == before


# -- the long poll started with the module -------------------------------------------------------

def test_long_poll_of_60s_gets_its_answer(long_poll):
    stdout, stderr = long_poll.communicate(timeout=150)
    assert long_poll.returncode == 0, stderr
    body, status = stdout.rsplit("\n", 1)
    assert (status, json.loads(body)) == ("200", {"waited": 60.0})
