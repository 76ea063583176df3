"""A real Prometheus server for tests, and the PromQL our deploy files ship.

    with Prometheus(target="127.0.0.1:9464") as prom:    # scrapes job="baomi" every second
        prom.wait_for('baomi_requests_total{action="block"} > 0')
        prom.query("sum(baomi_requests_total)")           # -> [{"metric": {...}, "value": [t, "3"]}]

    for e in all_expressions():                           # dashboard panels + alert rules
        prom.query(e.expr)                                # raises PromQLError if invalid

Uses the ``prometheus`` binary from Debian's ``prometheus`` package (tests/deps/prometheus.txt).
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "deploy/grafana/dashboards/baomi.json"
ALERT_RULES = ROOT / "deploy/prometheus/rules/baomi-alerts.yml"
JOB = "baomi"
# Grafana fills these in before a query reaches Prometheus; we do the same, Grafana-style.
GRAFANA_VARIABLES = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "1h",
    "job": JOB,
    "instance": ".+",
}


class PromQLError(Exception):
    """Prometheus refused a query (bad syntax, bad types) or did not answer."""


@dataclass(frozen=True, slots=True)
class Expression:
    origin: str  # "dashboard: Top rules [A]" or "alert: BaomiDown"
    expr: str  # plain PromQL, Grafana variables substituted


def to_promql(expr: str) -> str:
    """Substitute Grafana's variables: ``rate(x[$__rate_interval])`` -> ``rate(x[1m])``."""

    def value(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        if name not in GRAFANA_VARIABLES:
            raise KeyError(f"unknown Grafana variable ${name} in {expr!r}")
        return GRAFANA_VARIABLES[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


def dashboard_panels(dashboard: dict) -> list[dict]:
    """Every panel, including those nested in collapsed rows."""
    panels = []
    for panel in dashboard.get("panels", []):
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


def dashboard_expressions(path: Path = DASHBOARD) -> list[Expression]:
    """The raw (Grafana) expressions of every panel target."""
    dashboard = json.loads(path.read_text())
    return [
        Expression(f"dashboard: {p['title']} [{t.get('refId', '?')}]", t["expr"])
        for p in dashboard_panels(dashboard)
        for t in p.get("targets", [])
        if "expr" in t
    ]


def rule_expressions(path: Path = ALERT_RULES) -> list[Expression]:
    rules = yaml.safe_load(path.read_text())
    return [
        Expression(
            f"{'alert' if 'alert' in r else 'record'}: {r.get('alert') or r['record']}",
            r["expr"].strip(),
        )
        for group in rules["groups"]
        for r in group["rules"]
    ]


def all_expressions() -> list[Expression]:
    """Every PromQL expression in the dashboard and the alert rules, ready to run."""
    return [
        Expression(e.origin, to_promql(e.expr))
        for e in dashboard_expressions() + rule_expressions()
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    """A throwaway Prometheus on a free loopback port with temp config and storage."""

    def __init__(self, target: str, scrape_interval: str = "1s", binary: str | None = None):
        self.target = target
        self.scrape_interval = scrape_interval
        self.binary = binary or shutil.which("prometheus") or "/usr/bin/prometheus"
        self._dir: tempfile.TemporaryDirectory | None = None
        self._process: subprocess.Popen | None = None
        self.url = ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 30.0) -> Prometheus:
        self._dir = tempfile.TemporaryDirectory(prefix="baomi-prom-")
        workdir = Path(self._dir.name)
        config = workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump(self._config()))
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self._log = open(workdir / "prometheus.log", "wb")  # noqa: SIM115 (closed in stop)
        self._process = subprocess.Popen(
            [self.binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h"],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=workdir,
        )  # fmt: skip
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _config(self) -> dict:
        return {
            "global": {
                "scrape_interval": self.scrape_interval,
                "evaluation_interval": self.scrape_interval,
            },
            "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": [self.target]}]}],
        }

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise PromQLError(f"prometheus exited ({self._process.returncode}):\n{self.log()}")
            try:
                ready = httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200
            except httpx.TransportError:
                ready = False  # not listening yet; the deadline bounds the wait
            if ready:
                return
            time.sleep(0.2)
        raise PromQLError(f"prometheus not ready after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        if not self._dir:
            return ""
        return (Path(self._dir.name) / "prometheus.log").read_text(errors="replace")[-4000:]

    def query(self, expr: str) -> list[dict]:
        """Instant query; the result vector (or matrix/scalar data) as Prometheus returns it."""
        try:
            r = httpx.post(f"{self.url}/api/v1/query", data={"query": expr}, timeout=10)
            body = r.json()
        except (httpx.TransportError, ValueError) as e:
            raise PromQLError(f"query failed: {e}") from e
        if body.get("status") != "success":
            raise PromQLError(f"{body.get('errorType')}: {body.get('error')} in {expr!r}")
        return body["data"]["result"]

    def wait_for(self, expr: str, timeout: float = 20.0) -> list[dict]:
        """Poll ``expr`` until it returns something (scrapes take a moment)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.query(expr)
            if result:
                return result
            time.sleep(0.25)
        raise PromQLError(f"no result for {expr!r} after {timeout}s")

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if getattr(self, "_log", None):
            self._log.close()
        if self._dir:
            self._dir.cleanup()
            self._dir = None
