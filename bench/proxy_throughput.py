"""Proxy throughput: bare mitmdump vs `baomi run` (default policy), measured in the same run.

    .venv/bin/python bench/proxy_throughput.py                 # 10 s per case, 10 and 64 connections
    .venv/bin/python bench/proxy_throughput.py --quick         # 3 s per case, 10 connections
    .venv/bin/python bench/proxy_throughput.py --seconds 20 --connections 64 --json
    .venv/bin/python bench/proxy_throughput.py --quick --processes 1 --baseline /tmp/base --rounds 3
    .venv/bin/python bench/proxy_throughput.py --processes 2 --workers 2 --workers 4 --case mobile

``--baseline DIR`` also runs baomi from another checkout (``git archive HEAD~1 | tar -x -C DIR``)
next to this one, and ``--rounds K`` alternates all proxies K times: an A/B on a noisy box.

Every proxy runs in reverse mode in front of the same nginx (TLS upstream, so the default
policy's plain-HTTP rule does not apply), loaded by wrk with: (a) GETs without a body,
(b) clean 4 KB JSON POSTs, (c) 4 KB JSON POSTs with one mobile number that baomi masks.
Proxies: bare single-process mitmdump; baomi at ``--processes 1``; baomi at ``--processes``
= CPU cores (skipped, with a note, when this baomi has no ``--processes``). Prints req/s,
p50/p99 latency and each baomi's ratio to bare (req/s, and p99). Needs nginx and wrk (Debian).

CPU per request (on a shared box the steadier figure): the CPU time (user + system, from
``/proc/PID/stat``) each role of the proxy's process tree spent during a case, divided by the
requests wrk completed: ``proxy`` (mitmdump, or baomi's proxy processes), ``worker`` (baomi's
detector workers), ``supervisor`` (``--processes`` > 1). Printed as milliseconds per request
(``cpu ms: proxy 1.80 worker 0.21``) and kept under ``cpu_ms`` in the JSON.
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


CASES = {"GET, no body": None, "clean 4KB JSON": False, "4KB JSON + 1 mobile": True}


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


def wrk(port: int, body: str | None, seconds: int, connections: int, tmp: Path,
        proxy_pid: int | None = None) -> dict:
    """One wrk run; ``body`` None: GETs without a body; ``proxy_pid``: also measure the CPU
    that proxy's process tree spent per request."""
    script = tmp / "load.lua"
    if body is None:
        script.write_text('wrk.method = "GET"\n')
    else:
        # A Lua long string keeps the UTF-8 body byte for byte (Lua has no \\u escapes).
        assert "]==]" not in body
        script.write_text(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = [==[{body}]==]\n", encoding="utf-8",
        )
    before = cpu_by_role(proxy_pid) if proxy_pid else {}
    proc = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
         f"http://127.0.0.1:{port}/api/orders"],
        capture_output=True, text=True, check=True,
    )
    if proc.stderr.strip():  # a script error makes wrk send bare GETs: never report those
        raise RuntimeError(f"wrk: {proc.stderr.strip()}")
    after = cpu_by_role(proxy_pid) if proxy_pid else {}
    out = proc.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": lat.get("50"), "p99": lat.get("99"),
            "p99_ms": milliseconds(lat.get("99", "0ms")),
            "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "cpu_ms": cpu_ms_per_request(before, after, requests_done(out)),
            "load": round(os.getloadavg()[0], 2)}


def requests_done(out: str) -> int:
    """wrk's "  12345 requests in 10.00s, ..." line."""
    return int(re.search(r"(\d+) requests in", out).group(1))


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants (Linux ``/proc/PID/task/TID/children``)."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            try:
                todo.extend(int(child) for child in task.read_text().split())
            except OSError:  # exited meanwhile
                continue
    return found


def role(pid: int, root: int) -> str:
    """Which part of a proxy ``pid`` is, by its command line: ``worker``, ``supervisor``
    (the root of ``--processes`` > 1), ``proxy``; ``other`` (multiprocessing's resource
    tracker) and ``gone`` are not counted."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return "gone"
    if b"multiprocessing.resource_tracker" in cmdline:
        return "other"
    if b"multiprocessing" in cmdline:  # spawned pool workers: spawn_main(...)
        return "worker"
    if pid == root and any(b"proxy.app.child" in _cmdline(p) for p in process_tree(root)[1:]):
        return "supervisor"
    return "proxy"


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def cpu_by_role(root: int) -> dict[int, tuple[str, float]]:
    """pid -> (role, CPU seconds so far: utime + stime) for ``root``'s process tree."""
    seen = {}
    for pid in process_tree(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        # fields[0] is the state (field 3); utime and stime are fields 14 and 15
        seen[pid] = (role(pid, root), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS)
    return seen


def wait_idle(root: int, timeout: float = 300) -> None:
    """Until ``root``'s process tree spends under 2% of a core for 1 s (started up)."""
    deadline = time.monotonic() + timeout
    last = sum(seconds for _, seconds in cpu_by_role(root).values())
    while time.monotonic() < deadline:
        time.sleep(1)
        now = sum(seconds for _, seconds in cpu_by_role(root).values())
        if now - last < 0.02:
            return
        last = now
    raise RuntimeError(f"proxy {root} still busy after {timeout:.0f}s")


def cpu_ms_per_request(before: dict, after: dict, requests: int) -> dict[str, float]:
    """Per role: CPU ms spent between two ``cpu_by_role`` readings, per request. A process
    started meanwhile (a restarted worker) counts from zero.

    >>> cpu_ms_per_request({7: ("proxy", 1.0)}, {7: ("proxy", 3.0), 9: ("worker", 0.5)}, 1000)
    {'proxy': 2.0, 'worker': 0.5}
    """
    spent: dict[str, float] = {}
    for pid, (name, seconds) in after.items():
        if name in ("gone", "other"):
            continue
        spent[name] = spent.get(name, 0.0) + seconds - before.get(pid, (name, 0.0))[1]
    return {name: round(seconds * 1000 / max(requests, 1), 3)
            for name, seconds in sorted(spent.items())}


def milliseconds(text: str) -> float:
    """wrk's latency ("812.00us", "10.23ms", "1.02s") in milliseconds."""
    number, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def has_processes_flag() -> bool:
    out = subprocess.run([str(BIN / "baomi"), "run", "--help"], capture_output=True, text=True,
                         check=False).stdout
    return "--processes" in out


def run_proxy(cmd: list[str], port: int, checkout: Path = REPO) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(checkout))  # `-m proxy` from that checkout
    proc = subprocess.Popen(cmd, cwd=checkout, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def proxies(upstream: str, ca: UpstreamCA, tmp: Path, processes: list[int] | None = None,
            baseline: Path | None = None, workers: list[int] | None = None) -> dict:
    """name -> (command line for a listening port, checkout it runs from); notes what was
    skipped. ``processes``: the baomi --processes values (default 1 and the CPU count);
    ``workers``: --workers values to compare (default: baomi's own)."""
    def baomi(processes: int | None, checkout: Path = REPO, workers: int | None = None):
        def command(port: int) -> list[str]:
            data = tmp / f"var{processes}-{workers}-{'base' if checkout != REPO else 'this'}"
            cmd = [sys.executable, "-m", "proxy", "run", "--mode", upstream,
                   "--listen-port", str(port), "--data-dir", str(data), "--metrics-port", "0",
                   "--set", f"ssl_verify_upstream_trusted_ca={ca.pem}"]
            cmd += ["--workers", str(workers)] if workers else []
            return cmd + (["--processes", str(processes)] if processes else [])
        return command, checkout

    setups = {"bare mitmdump": (lambda p: [str(BIN / "mitmdump"), "-q", "--mode", upstream,
                                           "--listen-host", "127.0.0.1", "-p", str(p),
                                           "--set", f"ssl_verify_upstream_trusted_ca={ca.pem}"],
                                REPO)}
    cores = os.cpu_count() or 1
    if has_processes_flag():
        for n in processes or sorted({1, cores}):
            for w in workers or [None]:
                label = f"-p {n}" + (f" -w {w}" if w else "")
                setups[f"baomi {label}"] = baomi(n, workers=w)
                if baseline:
                    setups[f"base {label}"] = baomi(n, baseline, w)
    else:
        print(f"note: this baomi has no --processes; measuring its single process only "
              f"(the {cores}-process column is skipped)", file=sys.stderr)
        setups["baomi -p 1"] = baomi(None)
    return setups


def measure(args, connections: list[int]) -> dict:
    results = {}
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        ca = UpstreamCA(tmp / "ca")
        nginx, up = start_nginx(tmp, ca)
        try:
            setups = proxies(f"reverse:https://127.0.0.1:{up}", ca, tmp, args.processes,
                             args.baseline, args.workers)
            for round_ in range(args.rounds):
                for name, (cmd, checkout) in setups.items():
                    key = name if args.rounds == 1 else f"{name} #{round_ + 1}"
                    measure_one(key, cmd, checkout, args, connections, tmp, results)
        finally:
            stop(nginx)
    return results


def measure_one(name: str, cmd, checkout: Path, args, connections: list[int], tmp: Path,
                results: dict) -> None:
    port = free_port()
    proc = run_proxy(cmd(port), port, checkout)
    try:
        # The port answers once the first process listens; with --processes > 1 the others
        # may still be building their detector workers (seconds of CPU each).
        wait_idle(proc.pid)
        wrk(port, body_4k(False), 2, max(connections), tmp)  # warm-up
        for n in connections:
            for case, phone in CASES.items():
                if args.case and not any(c in case for c in args.case):
                    continue
                body = None if phone is None else body_4k(phone)
                result = results[(name, case, n)] = wrk(port, body, args.seconds, n, tmp,
                                                        proc.pid)
                print(f"  {name} / {case} / {n} conns: {result['rps']:.0f} req/s, "
                      f"cpu ms {cpu_text(result['cpu_ms'])}, load {result['load']}",
                      file=sys.stderr)
    finally:
        stop(proc)


def cpu_text(cpu_ms: dict[str, float]) -> str:
    """``{"proxy": 1.8, "worker": 0.21}`` -> ``proxy 1.80 worker 0.21``."""
    return " ".join(f"{name} {ms:.2f}" for name, ms in cpu_ms.items())


def print_table(results: dict) -> None:
    print(f"{'proxy':<20} {'case':<22} {'conns':>5} {'req/s':>8} {'p50':>9} {'p99':>9} "
          f"{'non-2xx':>8} {'x bare':>7} {'p99 x':>6}  cpu ms/request (load)")
    for (name, case, n), r in results.items():
        round_ = name.partition(" #")[2]  # with --rounds: against that round's bare run
        bare = results[("bare mitmdump" + (f" #{round_}" if round_ else ""), case, n)]
        ratio = r["rps"] / bare["rps"] if bare["rps"] else 0.0
        p99 = r["p99_ms"] / bare["p99_ms"] if bare["p99_ms"] else 0.0
        print(f"{name:<20} {case:<22} {n:>5} {r['rps']:>8.0f} {r['p50']:>9} {r['p99']:>9} "
              f"{r['non2xx']:>8} {ratio:>6.2f}x {p99:>5.2f}x  {cpu_text(r['cpu_ms'])} "
              f"({r['load']})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=None, help="per case (default 10; --quick 3)")
    ap.add_argument("--connections", type=int, action="append",
                    help="concurrent connections; repeat for several (default 10 and 64)")
    ap.add_argument("--quick", action="store_true", help="3 s per case, 10 connections only")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the table")
    ap.add_argument("--processes", type=int, action="append",
                    help="baomi --processes to measure; repeat (default 1 and the CPU count)")
    ap.add_argument("--workers", type=int, action="append",
                    help="baomi --workers (the box's detector workers) to compare; repeat")
    ap.add_argument("--baseline", type=Path, help="also run baomi from this other checkout")
    ap.add_argument("--rounds", type=int, default=1, help="alternate all proxies this often")
    ap.add_argument("--case", action="append",
                    help="only cases whose name contains this (GET, clean, mobile); repeat")
    args = ap.parse_args()
    args.seconds = args.seconds or (3 if args.quick else 10)
    connections = args.connections or ([10] if args.quick else [10, 64])
    for tool in ("nginx", "wrk"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: apt-get install nginx-light wrk")
    results = measure(args, connections)
    rows = {f"{name} | {case} | {n}": r for (name, case, n), r in results.items()}
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print_table(results)
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "proxy_throughput.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
