"""Soak: does each baomi process's memory stay flat under steady load? (issue 12 §5)

    .venv/bin/python bench/soak.py                      # 10 minutes, after 60 s of warm-up
    .venv/bin/python bench/soak.py --minutes 2 --warmup 20 --processes 2 --json

`baomi run` in reverse mode in front of a TLS nginx (as in bench/proxy_throughput.py), loaded
by wrk for the whole run with a steady mix of 4 KB JSON POSTs: 6 clean (allowed), 2 with one
mobile number (masked), 2 with a resident ID (blocked, 403) in every 10. Every ``--every``
seconds it reads the resident set (VmRSS) of every process in baomi's tree: the supervisor
(``--processes`` > 1), the proxy processes and the detector workers. After the warm-up it
reports, per process, the first, last and largest sample and whether the largest stayed
within 20% of the first. A process that was replaced (a crash and restart) shows up as a
new pid with its own samples. Needs nginx and wrk (Debian).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(REPO / "tests"), str(BENCH)]
from harness import UpstreamCA, free_port  # noqa: E402
from proxy_throughput import BIN, body_4k, start_nginx, stop, wait_port  # noqa: E402

RESIDENT_ID = "11010519491231002X"  # valid format, fictitious: the default policy blocks it
WITHIN = 0.20
MIX = ["clean"] * 6 + ["masked"] * 2 + ["blocked"] * 2


def body_blocked() -> str:
    return body_4k(False).replace('"deliver to dock 3"', f'"id {RESIDENT_ID}"', 1)


def load_script(tmp: Path) -> Path:
    """A wrk script that cycles through MIX, one request per body (Lua long strings keep
    the UTF-8 bytes as they are)."""
    bodies = {"clean": body_4k(False), "masked": body_4k(True), "blocked": body_blocked()}
    assert all("]==]" not in b for b in bodies.values())
    lines = ['wrk.method = "POST"', 'wrk.headers["Content-Type"] = "application/json"',
             "local bodies = {"]
    lines += [f"  [==[{bodies[kind]}]==]," for kind in MIX]
    lines += ["}", "local i = 0", "request = function()", "  i = i % #bodies + 1",
              "  return wrk.format(nil, nil, nil, bodies[i])", "end"]
    script = tmp / "soak.lua"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return script


# --- the process tree and its memory ------------------------------------------------------------


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue  # the thread or process ended meanwhile
    return found


def tree(root: int) -> list[int]:
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo += children(pid)
    return pids


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def role(pid: int, root: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "gone"
    if "resource_tracker" in cmd:
        return "mp tracker"  # multiprocessing's semaphore tracker, not a worker
    if "multiprocessing" in cmd or "spawn_main" in cmd:
        return "worker"
    if pid == root:
        return "baomi run"
    return "proxy process"


@dataclass
class Series:
    pid: int
    role: str
    samples: list[tuple[float, int]] = field(default_factory=list)  # (seconds, KiB)

    def summary(self) -> dict:
        first, last = self.samples[0][1], self.samples[-1][1]
        largest = max(kib for _, kib in self.samples)
        return {"pid": self.pid, "role": self.role, "samples": len(self.samples),
                "first_mib": first / 1024, "last_mib": last / 1024, "max_mib": largest / 1024,
                "growth": largest / first - 1, "flat": largest <= first * (1 + WITHIN)}


def sample(root: int, since: float, series: dict[int, Series]) -> None:
    now = time.monotonic() - since
    for pid in tree(root):
        kib = rss_kib(pid)
        if kib is None:
            continue
        if pid not in series:
            series[pid] = Series(pid, role(pid, root))
        series[pid].samples.append((now, kib))


# --- the run ------------------------------------------------------------------------------------


def baomi_command(port: int, upstream: str, ca: UpstreamCA, tmp: Path, processes: int | None,
                  workers: int | None) -> list[str]:
    cmd = [str(BIN / "baomi"), "run", "--mode", upstream, "--listen-port", str(port),
           "--data-dir", str(tmp / "var"), "--metrics-port", "0",
           "--set", f"ssl_verify_upstream_trusted_ca={ca.pem}"]
    if processes:
        cmd += ["--processes", str(processes)]
    if workers:
        cmd += ["--workers", str(workers)]
    return cmd


def wrk(port: int, script: Path, seconds: int, connections: int) -> subprocess.Popen:
    return subprocess.Popen(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
         f"http://127.0.0.1:{port}/api/orders"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)


def soak(args) -> dict:
    seconds = int(args.minutes * 60) + args.warmup
    series: dict[int, Series] = {}
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        ca = UpstreamCA(tmp / "ca")
        nginx, up = start_nginx(tmp, ca)
        port = free_port()
        cmd = baomi_command(port, f"reverse:https://127.0.0.1:{up}", ca, tmp, args.processes,
                            args.workers)
        baomi = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        try:
            wait_port(port)
            load = wrk(port, load_script(tmp), seconds, args.connections)
            start = time.monotonic()
            stopped = threading.Event()
            while not stopped.wait(args.every):
                if load.poll() is not None:
                    break
                if time.monotonic() - start >= args.warmup:
                    sample(baomi.pid, start, series)
                    print(f"  {time.monotonic() - start:6.0f} s: "
                          + ", ".join(f"{s.role} {s.pid} {s.samples[-1][1] / 1024:.0f} MiB"
                                      for s in series.values() if s.samples),
                          file=sys.stderr, flush=True)
            out, err = load.communicate()
            if load.returncode != 0 or err.strip():
                raise RuntimeError(f"wrk failed: {err.strip()}")
            alive = baomi.poll() is None
        finally:
            stop(baomi)
            stop(nginx)
    return {"minutes": args.minutes, "warmup_seconds": args.warmup,
            "connections": args.connections, "processes": args.processes or "default",
            "baomi_alive_at_end": alive, "wrk": wrk_summary(out),
            "processes_rss": [s.summary() for s in series.values() if len(s.samples) > 1]}


def wrk_summary(out: str) -> dict:
    import re

    def find(pattern: str) -> str | None:
        m = re.search(pattern, out, re.M)
        return m.group(1) if m else None

    return {"requests": int(find(r"(\d+) requests in") or 0),
            "req_per_s": float(find(r"Requests/sec:\s+([\d.]+)") or 0),
            "non_2xx": int(find(r"Non-2xx or 3xx responses: (\d+)") or 0),
            "p50": find(r"^\s+50%\s+(\S+)"), "p99": find(r"^\s+99%\s+(\S+)"),
            "socket_errors": find(r"Socket errors: (.*)$")}


def print_report(report: dict) -> None:
    w = report["wrk"]
    print(f"{report['minutes']} min after {report['warmup_seconds']} s warm-up, "
          f"{report['connections']} connections, --processes {report['processes']}: "
          f"{w['requests']} requests, {w['req_per_s']:.0f} req/s, p50 {w['p50']}, "
          f"p99 {w['p99']}, non-2xx {w['non_2xx']} (the blocked fifth are 403s)"
          + (f", socket errors {w['socket_errors']}" if w["socket_errors"] else ""))
    print(f"{'process':<14} {'pid':>7} {'first MiB':>10} {'last MiB':>9} {'max MiB':>8} "
          f"{'growth':>7}  within 20%")
    for s in report["processes_rss"]:
        print(f"{s['role']:<14} {s['pid']:>7} {s['first_mib']:>10.1f} {s['last_mib']:>9.1f} "
              f"{s['max_mib']:>8.1f} {s['growth']:>6.1%}  {'yes' if s['flat'] else 'NO'}")
    if not report["baomi_alive_at_end"]:
        print("baomi had exited before the end of the run")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10, help="measured load (default 10)")
    ap.add_argument("--warmup", type=int, default=60, help="seconds of load before sampling")
    ap.add_argument("--every", type=float, default=10, help="seconds between samples")
    ap.add_argument("--connections", type=int, default=10)
    ap.add_argument("--processes", type=int, default=None, help="baomi --processes (default: "
                    "baomi's own default)")
    ap.add_argument("--workers", type=int, default=None, help="baomi --workers")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    report = soak(args)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print_report(report)
    flat = all(s["flat"] for s in report["processes_rss"]) and report["baomi_alive_at_end"]
    return 0 if flat else 1


if __name__ == "__main__":
    sys.exit(main())
