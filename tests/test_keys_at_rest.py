"""Private keys at rest: `baomi run` refuses a key (or its directory) others can open, and
names the exact chmod; the first start makes every key with the right modes.

One real first start makes a data dir; each case copies it (modes kept), opens one thing
up, and runs the real `baomi run`, which must stop before it listens.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from harness import BAOMI, REPO, BaomiProcess, free_port

from proxy.app.ca import secure_ca_dir
from proxy.app.keys_at_rest import private_keys, refuse_exposed_keys
from proxy.errors import KeyStoreError

pytestmark = pytest.mark.e2e
POLICY = REPO / "policies" / "default.yaml"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def first_start(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("keys") / "data"
    with BaomiProcess(POLICY, data):
        pass
    return data


def test_first_start_makes_every_key_private(first_start):
    data = first_start
    assert mode(data) == 0o700
    expected = {
        data / "ca" / "mitmproxy-ca.pem": "CA private key",
        data / "ca" / "mitmproxy-ca.p12": "CA private key (PKCS#12)",
        data / "keys" / "checkpoint-signing.pem": "checkpoint-signing key",
        data / "keys" / "mask-fingerprint.key": "mask fingerprint key",
        data / "reviewer-private-key.pem": "reviewer private key",
    }
    assert {k.path: k.what for k in private_keys(data)} == expected
    for path in expected:
        assert mode(path) == 0o600, path
    for folder in (data / "ca", data / "keys"):
        assert mode(folder) == 0o700, folder
    refuse_exposed_keys(data)  # nothing to refuse


def run_on(data: Path) -> subprocess.CompletedProcess:
    """`baomi run` on ``data``; it must exit by itself (it never gets to listen)."""
    return subprocess.run(
        [BAOMI, "run", "--policy", str(POLICY), "--data-dir", str(data), "--listen-host",
         "127.0.0.1", "--listen-port", str(free_port()), "--metrics-port", "0", "--workers", "1"],
        capture_output=True, text=True, timeout=120, cwd=REPO, check=False)


def extra_private_key(data: Path) -> Path:
    """A key an admin left in the data dir (e.g. `keys rotate --private-key-out var/...`)."""
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    path = data / "old-reviewer.pem"
    path.write_bytes(pem)
    return path


def opened_copy(first_start: Path, tmp_path: Path, target: str, new_mode: int) -> Path:
    """A copy of the first start's data dir (modes kept) with ``target`` chmod-ed."""
    data = tmp_path / "data"
    shutil.copytree(first_start, data)
    if target == "old-reviewer.pem":
        extra_private_key(data)
    os.chmod(data / target, new_mode)
    return data


# Every key file through the real `baomi run` (each run costs its imports, ~2 s of CPU) ...
@pytest.mark.parametrize("target,new_mode,fix", [
    ("ca/mitmproxy-ca.pem", 0o644, "chmod 600 {data}/ca/mitmproxy-ca.pem"),
    ("keys/checkpoint-signing.pem", 0o644, "chmod 600 {data}/keys/checkpoint-signing.pem"),
    ("keys/mask-fingerprint.key", 0o604, "chmod 600 {data}/keys/mask-fingerprint.key"),
    ("reviewer-private-key.pem", 0o644, "chmod 600 {data}/reviewer-private-key.pem"),
    ("keys", 0o750, "chmod 700 {data}/keys"),
])
def test_run_refuses_a_key_others_can_open(first_start, tmp_path, target, new_mode, fix):
    data = opened_copy(first_start, tmp_path, target, new_mode)
    done = run_on(data)
    assert done.returncode == 2, done.stderr
    assert "baomi listening" not in done.stdout
    error = [line for line in done.stderr.splitlines() if line.startswith("Error: ")]
    assert len(error) == 1, done.stderr
    assert fix.format(data=data) in error[0]
    assert f"{new_mode:04o}" in error[0]
    assert mode(data / target) == new_mode  # refused, not quietly fixed


# ... and the rest of the table through the check `baomi run` calls first.
@pytest.mark.parametrize("target,new_mode,fix", [
    ("ca/mitmproxy-ca.p12", 0o640, "chmod 600 {data}/ca/mitmproxy-ca.p12"),
    ("ca", 0o755, "chmod 700 {data}/ca"),
    (".", 0o755, "chmod 700 {data}"),  # the reviewer key's directory
    ("old-reviewer.pem", 0o644, "chmod 600 {data}/old-reviewer.pem"),
    ("keys/checkpoint-signing.pem", 0o660, "chmod 600 {data}/keys/checkpoint-signing.pem"),
])
def test_check_refuses_every_other_opening(first_start, tmp_path, target, new_mode, fix):
    data = opened_copy(first_start, tmp_path, target, new_mode)
    with pytest.raises(KeyStoreError) as e:
        refuse_exposed_keys(data)
    assert fix.format(data=data) in str(e.value)
    assert f"{new_mode:04o}" in str(e.value)


def test_ca_dir_others_can_open_is_refused_not_fixed(first_start, tmp_path):
    data = opened_copy(first_start, tmp_path, "ca", 0o755)
    with pytest.raises(KeyStoreError) as e:
        secure_ca_dir(data)  # also what `baomi ca export` uses
    assert f"chmod 700 {data}/ca" in str(e.value)
    assert mode(data / "ca") == 0o755


def test_refusal_lists_every_exposed_key(first_start, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(first_start, data)
    os.chmod(data / "ca" / "mitmproxy-ca.pem", 0o644)
    os.chmod(data / "keys" / "checkpoint-signing.pem", 0o644)
    with pytest.raises(KeyStoreError) as e:
        refuse_exposed_keys(data)
    assert (f"chmod 600 {data}/ca/mitmproxy-ca.pem && chmod 600 "
            f"{data}/keys/checkpoint-signing.pem") in str(e.value)
    assert "PRIVATE KEY" not in str(e.value)


def test_public_files_are_not_keys(first_start):
    names = {k.path.name for k in private_keys(first_start)}
    assert not names & {"mitmproxy-ca-cert.pem", "mitmproxy-ca-cert.p12", "mitmproxy-dhparam.pem",
                        "checkpoint-signing.pub.pem", "decisions.jsonl"}
    assert not any(n.startswith("reviewer-") and n.endswith(".pub.pem") for n in names)


def test_mask_key_is_made_once_and_kept(tmp_path):
    from proxy.record.incidents.keys import ensure_mask_key, load_mask_key

    key = ensure_mask_key(tmp_path)
    assert len(key) == 32
    assert ensure_mask_key(tmp_path) == key == load_mask_key(tmp_path)  # a restart keeps it
    path = tmp_path / "keys" / "mask-fingerprint.key"
    assert (mode(path), mode(path.parent)) == (0o600, 0o700)
    path.write_text("not hex\n")
    with pytest.raises(KeyStoreError, match="not a hex key"):
        ensure_mask_key(tmp_path)
