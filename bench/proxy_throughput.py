"""Proxy throughput: bare mitmdump vs `baomi run` (default policy), measured in the same run.

    .venv/bin/python bench/proxy_throughput.py [--seconds 10] [--connections 10]

Both proxies run in reverse mode in front of the same nginx (TLS upstream, so the default
policy's plain-HTTP rule does not apply), loaded by wrk with 4 KB JSON POSTs:
  (a) clean bodies, (b) bodies with one mobile number that baomi masks.
Prints requests/s, p50/p99 latency and the ratio baomi / bare. Needs nginx and wrk (Debian).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from harness import UpstreamCA, free_port  # noqa: E402

BIN = Path(sys.executable).parent


def body_4k(with_phone: bool) -> str:
    items = [{"sku": f"SKU-{i:05d}", "qty": i % 7 + 1, "price": "129.00", "desc": "标准件 standard part"}
             for i in range(40)]
    doc = {"order_id": "SO-2026-11-27-000123", "items": items, "note": "deliver to dock 3"}
    if with_phone:
        doc["contact"] = {"mobile": "13800138000"}
    text = json.dumps(doc, ensure_ascii=False)
    return text + " " * max(0, 4096 - len(text.encode()))


def wait_port(port: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listening on {port}")


def start_nginx(tmp: Path, ca: UpstreamCA) -> tuple[subprocess.Popen, int]:
    ca.server_context(["127.0.0.1"])  # writes 127.0.0.1.pem / .key
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(f"""
worker_processes 1; daemon off; pid {tmp}/nginx.pid; error_log {tmp}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off; client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
  server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {ca.dir}/127.0.0.1.pem;
           ssl_certificate_key {ca.dir}/127.0.0.1.key; client_body_buffer_size 64k;
           location / {{ return 200 "ok"; }} }}
}}""")
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(tmp)])
    wait_port(port)
    return proc, port


def wrk(port: int, body: str, seconds: int, connections: int, tmp: Path) -> dict:
    script = tmp / "post.lua"
    # A Lua long string keeps the UTF-8 body byte for byte (Lua has no \\u escapes).
    assert "]==]" not in body
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = [==[{body}]==]\n", encoding="utf-8",
    )
    proc = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
         f"http://127.0.0.1:{port}/api/orders"],
        capture_output=True, text=True, check=True,
    )
    if proc.stderr.strip():  # a script error makes wrk send bare GETs: never report those
        raise RuntimeError(f"wrk: {proc.stderr.strip()}")
    out = proc.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": lat.get("50"), "p99": lat.get("99"),
            "non2xx": int(non2xx.group(1)) if non2xx else 0}


def run_proxy(cmd: list[str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=10)
    args = ap.parse_args()
    for tool in ("nginx", "wrk"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: apt-get install nginx-light wrk")
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        ca = UpstreamCA(tmp / "ca")
        nginx, up = start_nginx(tmp, ca)
        upstream = f"reverse:https://127.0.0.1:{up}"
        results = {}
        try:
            setups = {
                "bare mitmdump": lambda p: [str(BIN / "mitmdump"), "-q", "--mode", upstream,
                                            "--listen-host", "127.0.0.1", "-p", str(p),
                                            "--set", f"ssl_verify_upstream_trusted_ca={ca.pem}"],
                "baomi": lambda p: [str(BIN / "baomi"), "run", "--mode", upstream, "--listen-port",
                                    str(p), "--data-dir", str(tmp / "var"), "--metrics-port", "0",
                                    "--set", f"ssl_verify_upstream_trusted_ca={ca.pem}"],
            }
            for name, cmd in setups.items():
                port = free_port()
                proc = run_proxy(cmd(port), port)
                try:
                    wrk(port, body_4k(False), 2, args.connections, tmp)  # warm-up
                    for case, phone in (("clean 4KB JSON", False), ("4KB JSON + 1 mobile", True)):
                        results[(name, case)] = wrk(port, body_4k(phone), args.seconds,
                                                    args.connections, tmp)
                finally:
                    stop(proc)
        finally:
            stop(nginx)
    print(f"{'proxy':<15} {'case':<22} {'req/s':>8} {'p50':>9} {'p99':>9} {'non-2xx':>8}")
    for (name, case), r in results.items():
        print(f"{name:<15} {case:<22} {r['rps']:>8.0f} {r['p50']:>9} {r['p99']:>9} {r['non2xx']:>8}")
    for case in ("clean 4KB JSON", "4KB JSON + 1 mobile"):
        ratio = results[("baomi", case)]["rps"] / results[("bare mitmdump", case)]["rps"]
        print(f"ratio baomi/bare on {case}: {ratio:.2f}x")
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "proxy_throughput.json").write_text(json.dumps(
        {f"{k[0]} | {k[1]}": v for k, v in results.items()}, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
