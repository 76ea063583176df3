"""Defaults of the commands: `BAOMI_*` environment variables, then built-in values.

    _env("LISTEN_PORT", 8080)   # BAOMI_LISTEN_PORT if set, else 8080
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path


def default_policy() -> str:
    """`policies/default.yaml` in the working directory, else the copy shipped in the package."""
    env = os.environ.get("BAOMI_POLICY")
    if env:
        return env
    local = Path("policies/default.yaml")
    if local.is_file():
        return str(local)
    return str(resources.files("policies") / "default.yaml")


def _env(name: str, default):
    return os.environ.get(f"BAOMI_{name}", default)
