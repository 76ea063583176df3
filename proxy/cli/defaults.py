"""Defaults of the commands: `BAOMI_*` environment variables, then built-in values.

    _env("MODE", "regular")        # BAOMI_MODE if set, else "regular"
    env_int("LISTEN_PORT", 8080)   # BAOMI_LISTEN_PORT as a whole number, else 8080

A bad value is a UsageError (``Error: BAOMI_LISTEN_PORT='x': ...``, exit 2), raised while
the parser is built inside the CLI's error handling: never a traceback.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from proxy.errors import UsageError


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


def env_int(name: str, default: int) -> int:
    value = os.environ.get(f"BAOMI_{name}")
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"BAOMI_{name}={value!r}: expected a whole number") from None
