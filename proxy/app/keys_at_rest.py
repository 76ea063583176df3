"""Private keys at rest in the data dir: which files they are, and who else can open them.

With a data dir ``var`` (files on disk: not a doctest)::

    [k.what for k in private_keys(Path("var"))]
    # -> ['CA private key', 'checkpoint-signing key', 'mask fingerprint key']
    refuse_exposed_keys(Path("var"))
    # KeyStoreError: private key open to other users, refusing to start: ... chmod 600 var/...

A key file must be 0600 and its directory 0700 (any group/other bit counts: read lets them
copy the key, write lets them swap it). ``baomi run`` refuses to start rather than chmod
silently: a key that was readable may already have been copied, and only the admin can
decide whether to make a new one. ``baomi doctor`` reports the same findings as FAIL lines.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

from proxy.errors import KeyStoreError
from proxy.record.incidents.keys import MASK_KEY, PROXY_PRIVATE_KEY, SIGNING_KEY

# Every private key baomi itself writes under DATA_DIR (relative path, what it is).
KNOWN = (
    ("ca/mitmproxy-ca.pem", "CA private key"),
    ("ca/mitmproxy-ca.p12", "CA private key (PKCS#12)"),
    (f"keys/{SIGNING_KEY}", "checkpoint-signing key"),
    (f"keys/{MASK_KEY}", "mask fingerprint key"),
    (PROXY_PRIVATE_KEY, "reviewer private key"),
)
# Where an admin may have dropped more (``keys rotate --private-key-out var/...``, an EDM key).
SCANNED = (".", "ca", "keys")
_PEM_PRIVATE = b"PRIVATE KEY-----"


@dataclass(frozen=True)
class KeyFile:
    path: Path
    what: str


@dataclass(frozen=True)
class Exposure:
    """A key file not 0600, or its directory not 0700."""

    path: Path
    mode: int
    what: str  # "CA private key" or "directory of the CA private key"
    is_dir: bool

    @property
    def fix(self) -> str:
        return f"chmod {'700' if self.is_dir else '600'} {self.path}"

    @property
    def message(self) -> str:
        return f"{self.what} {self.path} is {self.mode:04o} (group or others have access)"


def private_keys(data_dir: Path) -> list[KeyFile]:
    """The private-key files present under ``data_dir``: the known ones, then any other PEM
    private key or ``*.key`` file in the data dir, ``ca/`` or ``keys/``."""
    data_dir = Path(data_dir)
    found = {data_dir / rel: what for rel, what in KNOWN if (data_dir / rel).is_file()}
    for sub in SCANNED:
        folder = data_dir / sub
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path not in found and path.is_file() and _looks_private(path):
                found[path] = "private key"
    return [KeyFile(path, what) for path, what in found.items()]


def _looks_private(path: Path) -> bool:
    if path.suffix == ".key":
        return True
    if path.suffix != ".pem":
        return False
    try:
        with path.open("rb") as f:
            return _PEM_PRIVATE in f.read(64 << 10)
    except OSError:
        return True  # unreadable to us: report its mode rather than guess it is harmless


def exposures(keys: list[KeyFile], dirs: dict[Path, str] | None = None) -> list[Exposure]:
    """Each key file open to group/others, then each of their directories (and ``dirs``,
    {directory: what it holds}) that is."""
    found: list[Exposure] = []
    dirs = dict(dirs or {})
    for key in keys:
        mode = stat.S_IMODE(key.path.stat().st_mode)
        if mode & 0o077:
            found.append(Exposure(key.path, mode, key.what, is_dir=False))
        dirs.setdefault(key.path.parent, key.what)
    for folder, what in dirs.items():
        mode = stat.S_IMODE(folder.stat().st_mode)
        if mode & 0o077:
            found.append(Exposure(folder, mode, f"directory of the {what}", is_dir=True))
    return found


def refuse_exposed_keys(data_dir: Path) -> None:
    """For ``baomi run``: raise KeyStoreError naming each exposed key and the exact fix."""
    found = exposures(private_keys(data_dir))
    if not found:
        return
    lines = "; ".join(e.message for e in found)
    fixes = " && ".join(e.fix for e in found)
    raise KeyStoreError(
        f"private key open to other users, refusing to start: {lines}. "
        f"Fix: {fixes} (and if anyone else could have copied a key, replace it)"
    )
