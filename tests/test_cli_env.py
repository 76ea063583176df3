"""BAOMI_* environment defaults are read inside the CLI's error handling: a bad one is an
`Error:` line and exit 2, never a traceback, whatever the command."""

from __future__ import annotations

import subprocess

import pytest
from harness import BAOMI, REPO


@pytest.mark.parametrize(("variable", "argv"), [
    ("BAOMI_LISTEN_PORT", ["policy", "check", str(REPO / "policies" / "default.yaml")]),
    ("BAOMI_METRICS_PORT", ["doctor", "--skip", "detector", "--json"]),
    ("BAOMI_LISTEN_PORT", ["run", "--policy", str(REPO / "policies" / "default.yaml")]),
])
def test_bad_environment_default_is_an_error_not_a_traceback(variable, argv, tmp_path) -> None:
    out = subprocess.run([BAOMI, *argv], capture_output=True, text=True, timeout=60,
                         cwd=tmp_path, env={"PATH": "/usr/bin:/bin", variable: "x"})
    assert out.returncode == 2
    assert out.stderr.strip() == f"Error: {variable}='x': expected a whole number"
    assert "Traceback" not in out.stderr


def test_run_and_doctor_share_one_settings_object() -> None:
    from proxy.app.settings import RunSettings
    from proxy.tools.doctor import Setup

    assert Setup is RunSettings


def test_output_into_a_closed_pipe_is_no_traceback(tmp_path) -> None:
    """`baomi policy check FILE | head -1`: the reader is gone before baomi writes."""
    proc = subprocess.Popen([BAOMI, "policy", "check", str(REPO / "policies" / "default.yaml")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    proc.stdout.close()  # nobody reads: every write fails with EPIPE
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert b"Traceback" not in err and b"BrokenPipe" not in err
