"""Proxy-process CPU per request, A/B between checkouts, with every proxy up at once.

    .venv/bin/python bench/masked_cpu_ab.py --checkout /tmp/base --checkout . --rounds 6
    .venv/bin/python bench/masked_cpu_ab.py --checkout /tmp/base --checkout . --clean --processes 2
    .venv/bin/python bench/masked_cpu_ab.py --checkout /tmp/base --checkout . --body form --clean

On a shared, busy box req/s swing by 2x between runs of the same build; CPU seconds per
request of the proxy process move far less. Starting every checkout's ``baomi run`` first
(reverse mode before one TLS nginx, as ``bench/proxy_throughput.py``) and then alternating
short wrk runs between them (order reversed every round) keeps start-up and slow drifts
out of the comparison. Prints each run and the medians; CPU is utime + stime from
``/proc`` of the proxy processes (workers apart), divided by the requests wrk completed.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote_plus

sys.path.insert(0, str(Path(__file__).resolve().parent))
import proxy_throughput as pt

TICK = os.sysconf("SC_CLK_TCK")
CONTENT_TYPES = {"json": "application/json", "form": "application/x-www-form-urlencoded",
                 "text": "text/plain"}


def form_4k(with_phone: bool) -> str:
    """``body_4k``'s order as a browser posts a form: ``items[3][desc]=%E6%A0%87...+part``."""
    fields = [("order_id", "SO-2026-11-27-000123")]
    for i in range(26):
        fields += [(f"items[{i}][sku]", f"SKU-{i:05d}"), (f"items[{i}][qty]", str(i % 7 + 1)),
                   (f"items[{i}][price]", "129.00"), (f"items[{i}][desc]", "标准件 standard part")]
    fields.append(("note", "deliver to dock 3"))
    if with_phone:
        fields.append(("contact[mobile]", "13800138000"))
    text = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in fields)
    return text + "&pad=" + "x" * max(0, 4096 - len(text) - 5)


def text_4k(with_phone: bool) -> str:
    """A 4 KB plain-text note (shipping notes), with a mobile in it or not."""
    text = "Shipping notes\n" + ("Contact mobile 13800138000.\n" if with_phone else "")
    lines = [f"Order SO-1127-{i:03d}: {i % 7 + 1} x 标准件 standard part, deliver to dock 3.\n"
             for i in range(80)]
    while len(text.encode()) + len(lines[0].encode()) <= 4096:
        text += lines.pop(0)
    return text


def body_of(kind: str, with_phone: bool) -> str:
    return {"json": pt.body_4k, "form": form_4k, "text": text_4k}[kind](with_phone)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def proxy_pids(root: int, processes: int) -> list[int]:
    """The mitmproxy processes: the root itself at --processes 1, else its children that
    are not detector workers (those are spawned by multiprocessing)."""
    if processes == 1:
        return [root]
    return [p for p in children(root)
            if b"multiprocessing" not in Path(f"/proc/{p}/cmdline").read_bytes()]


def run_wrk(port: int, body: str, seconds: int, connections: int, tmp: Path,
            content_type: str = "application/json") -> tuple[int, float]:
    script = tmp / "load.lua"
    script.write_text(f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "{content_type}"\n'
                      f"wrk.body = [==[{body}]==]\n", encoding="utf-8")
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script),
                          f"http://127.0.0.1:{port}/api/orders"],
                         capture_output=True, text=True, check=True).stdout
    if re.search(r"Non-2xx or 3xx responses", out):
        raise RuntimeError("the proxy answered with errors: not a fair measurement")
    done, rate = re.search(r"(\d+) requests in", out), re.search(r"Requests/sec:\s+([\d.]+)", out)
    if done is None or rate is None:
        raise RuntimeError(f"unexpected wrk output: {out[:200]}")
    return int(done.group(1)), float(rate.group(1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkout", action="append", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--seconds", type=int, default=6)
    ap.add_argument("--connections", type=int, default=10)
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--clean", action="store_true", help="clean 4 KB body instead of masked")
    ap.add_argument("--body", choices=sorted(CONTENT_TYPES), default="json",
                    help="4 KB JSON (default), urlencoded form or plain text")
    args = ap.parse_args()
    body, content_type = body_of(args.body, not args.clean), CONTENT_TYPES[args.body]
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        ca = pt.UpstreamCA(tmp / "ca")
        nginx, upstream = pt.start_nginx(tmp, ca)
        running = []
        try:
            for i, checkout in enumerate(args.checkout):
                port = pt.free_port()
                cmd = [sys.executable, "-m", "proxy", "run", "--mode",
                       f"reverse:https://127.0.0.1:{upstream}", "--listen-port", str(port),
                       "--data-dir", str(tmp / f"var{i}"), "--metrics-port", "0",
                       "--set", f"ssl_verify_upstream_trusted_ca={ca.pem}",
                       "--processes", str(args.processes)]
                running.append((checkout.resolve(), port, pt.run_proxy(cmd, port, checkout)))
            for _, _, proc in running:  # every process and worker built, not only the port
                pt.wait_idle(proc.pid)
            for _, port, _ in running:
                run_wrk(port, body, 2, args.connections, tmp, content_type)  # warm-up
            results: dict[Path, list[tuple[float, float]]] = {c: [] for c, _, _ in running}
            for r in range(args.rounds):
                for checkout, port, proc in running if r % 2 == 0 else running[::-1]:
                    pids = proxy_pids(proc.pid, args.processes)
                    before = sum(cpu_seconds(p) for p in pids)
                    done, rps = run_wrk(port, body, args.seconds, args.connections, tmp,
                                        content_type)
                    ms = 1000 * (sum(cpu_seconds(p) for p in pids) - before) / done
                    results[checkout].append((ms, rps))
                    print(f"round {r} {checkout}: {rps:.0f} req/s, proxy {ms:.3f} ms CPU/request, "
                          f"load {os.getloadavg()[0]:.2f}", flush=True)
            for checkout, runs in results.items():
                print(f"{checkout}: median {statistics.median(m for m, _ in runs):.3f} ms "
                      f"CPU/request, median {statistics.median(r for _, r in runs):.0f} req/s")
        finally:
            for _, _, proc in running:
                pt.stop(proc)
            pt.stop(nginx)
    return 0


if __name__ == "__main__":
    sys.exit(main())
