"""ruff and mypy run as tests, so `make test` fails on a new lint or type error.

Both read their settings from pyproject.toml ([tool.ruff.lint], [tool.mypy]); a failure
shows the tool's own report. mypy keeps its cache in .mypy_cache (incremental after the
first run).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ("proxy", "detectors", "policies", "tests", "bench")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
    )


def test_ruff_finds_nothing() -> None:
    out = _run("ruff", "check", "--no-cache", "--output-format", "concise", *CHECKED)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_finds_nothing() -> None:
    out = _run("mypy")  # packages and options from [tool.mypy]
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Success: no issues found" in out.stdout  # it checked something, not nothing
