"""What passes through: downloads and streams, bare mitmdump vs `baomi run`, in the same run.

    .venv/bin/python bench/passthrough.py [--mib 200]

Both proxies run in regular (explicit proxy) mode with their defaults, in front of the same
local HTTP server:
  download   a file of --mib MiB: time to first byte, total time, MB/s, the proxy's peak RSS
             growth during the transfer (sampled from /proc every 20 ms), bytes identical;
  sse        server-sent events, one every 0.5 s, 6 events: arrival of the first event and
             the spread between first and last (a buffering proxy delivers them together).
Prints one table with the ratio baomi / bare where it means something. Not a test: figures
for the issues' notes.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from harness import free_port  # noqa: E402

BIN = Path(sys.executable).parent
EVENTS, EVENT_GAP = 6, 0.5


class _Origin(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    file: Path

    def do_GET(self):
        if self.path == "/sse":
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for i in range(EVENTS):
                data = f"data: {i}\n\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
                time.sleep(EVENT_GAP)
            self.wfile.write(b"0\r\n\r\n")
            return
        size = self.file.stat().st_size
        self.send_response(200)
        self.send_header("content-type", "application/octet-stream")
        self.send_header("content-length", str(size))
        self.end_headers()
        with self.file.open("rb") as f:
            while chunk := f.read(1 << 20):
                self.wfile.write(chunk)

    def log_message(self, *args):
        pass


def rss_kib(pid: int) -> int:
    """RSS of the proxy process (baomi's detector workers see no response bytes)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def wait_ready(proc: subprocess.Popen, port: int, timeout: float = 240) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"proxy exited: {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError("proxy did not start")


def download(port: int, url: str, pid: int) -> dict:
    base = rss_kib(pid)
    peak = base
    stop = threading.Event()

    def sample():
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, rss_kib(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out = subprocess.run(
        ["curl", "-s", "-x", f"http://127.0.0.1:{port}", url, "-o", "-", "-w",
         "%{stderr}%{http_code} %{time_starttransfer} %{time_total}"],
        capture_output=True, timeout=600)
    stop.set()
    sampler.join()
    code, ttfb, total = out.stderr.decode().split()
    return {"status": int(code), "ttfb": float(ttfb), "total": float(total),
            "sha256": hashlib.sha256(out.stdout).hexdigest(), "bytes": len(out.stdout),
            "rss_growth_mib": (peak - base) / 1024}


def sse(port: int, url: str) -> dict:
    start = time.monotonic()
    proc = subprocess.Popen(["curl", "-s", "-N", "-x", f"http://127.0.0.1:{port}", url],
                            stdout=subprocess.PIPE)
    arrivals = []
    for line in proc.stdout:
        if line.startswith(b"data:"):
            arrivals.append(time.monotonic() - start)
    proc.wait()
    return {"first": arrivals[0], "spread": arrivals[-1] - arrivals[0], "events": len(arrivals)}


def measure(name: str, cmd: list[str], port: int, origin: str, expect: str) -> dict:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(proc, port)
        time.sleep(1)  # baomi opens its listener once the workers are warm; let it settle
        d = download(port, origin + "/file", proc.pid)
        s = sse(port, origin + "/sse")
    finally:
        proc.terminate()
        proc.wait(30)
    d["ok"] = d["status"] == 200 and d["sha256"] == expect
    return {"name": name, **d, **{f"sse_{k}": v for k, v in s.items()}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "file.bin"
        with data.open("wb") as f:
            for _ in range(args.mib):
                f.write(os.urandom(1 << 20))
        expect = hashlib.sha256(data.read_bytes()).hexdigest()
        _Origin.file = data
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Origin)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        origin = f"http://127.0.0.1:{server.server_address[1]}"

        bare_port, baomi_port = free_port(), free_port()
        bare = measure("bare mitmdump", [str(BIN / "mitmdump"), "-q", "--listen-host", "127.0.0.1",
                                         "--listen-port", str(bare_port)],
                       bare_port, origin, expect)
        policy = tmp / "policy.yaml"  # the default policy, but plain HTTP to this test origin is fine
        policy.write_text((REPO / "policies" / "default.yaml").read_text())
        baomi = measure("baomi run", [str(BIN / "baomi"), "run", "--policy", str(policy),
                                      "--listen-host", "127.0.0.1", "--listen-port", str(baomi_port),
                                      "--data-dir", str(tmp / "var"), "--metrics-port", "0"],
                        baomi_port, origin, expect)
        server.shutdown()
    mib = args.mib * 1.048576
    print(f"{'':16}{'status':>7}{'bytes ok':>9}{'TTFB s':>9}{'total s':>9}{'MB/s':>8}"
          f"{'RSS +MiB':>10}{'SSE 1st s':>10}{'SSE spread s':>13}")
    for r in (bare, baomi):
        print(f"{r['name']:16}{r['status']:>7}{r['ok']!s:>9}{r['ttfb']:>9.3f}{r['total']:>9.2f}"
              f"{mib / r['total']:>8.0f}{r['rss_growth_mib']:>10.1f}{r['sse_first']:>10.2f}"
              f"{r['sse_spread']:>13.2f}")
    print(f"ratio baomi/bare: throughput {bare['total'] / baomi['total']:.2f}x, "
          f"time to first byte {baomi['ttfb'] / max(bare['ttfb'], 1e-6):.2f}x")


if __name__ == "__main__":
    main()
