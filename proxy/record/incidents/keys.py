"""Reviewer keys (X25519) and the checkpoint signing key (Ed25519).

Layout under ``DIR/keys/``::

    reviewer-<key id>.pub.pem   every reviewer public key ever used (rotation adds one)
    current                     the key id new periods and segments are sealed to
    checkpoint-signing.pem      Ed25519 private key that signs checkpoints (0600, stays on host)
    checkpoint-signing.pub.pem  its public half (verify uses it)
    mask-fingerprint.key        32 random bytes, hex: the HMAC key of mask fingerprints (0600)

The reviewer *private* keys never live in ``DIR/keys``: ``keys init`` writes them to a file
of the operator's choosing, to be carried off the host. A key id is the first 16 hex digits
of SHA-256 over the raw public key, so a private key finds its records without a lookup table
(files on disk, random keys: not a doctest)::

    paths = init_keys(Path("var"), Path("/media/usb/reviewer.pem"))
    Keyring.load(Path("var")).current_id        # -> '5c1f0e9a7b3d2c41'

The checkpoint key sits on the host because the proxy signs unattended: it proves
checkpoints came from this installation, not that the host was honest (see ``log.py``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519

from proxy.errors import KeyStoreError, UsageError
from proxy.record.incidents.files import write_atomic

PASSPHRASE_ENV = "BAOMI_KEY_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret
SIGNING_KEY = "checkpoint-signing.pem"
SIGNING_PUB = "checkpoint-signing.pub.pem"
PROXY_PRIVATE_KEY = "reviewer-private-key.pem"  # written once by ensure_keys()
MASK_KEY = "mask-fingerprint.key"  # under keys/, made by ensure_mask_key()


def key_id(public_key: x25519.X25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def fingerprint(public_key: ed25519.Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + hashlib.sha256(raw).hexdigest()[:32]


def keys_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "keys"


@dataclass(frozen=True, slots=True)
class Keyring:
    """What the proxy host holds: reviewer public keys and the checkpoint signer."""

    public_keys: dict[str, x25519.X25519PublicKey]
    current_id: str
    signer: ed25519.Ed25519PrivateKey | None  # None when only verifying

    @property
    def current(self) -> x25519.X25519PublicKey:
        return self.public_keys[self.current_id]

    @classmethod
    def load(cls, data_dir: Path, with_signer: bool = True) -> Keyring:
        kdir = keys_dir(data_dir)
        current = kdir / "current"
        if not current.exists():
            raise KeyStoreError(f"no reviewer key in {kdir}: run 'baomi keys init' first")
        public_keys = {}
        for path in sorted(kdir.glob("reviewer-*.pub.pem")):
            key = serialization.load_pem_public_key(path.read_bytes())
            if not isinstance(key, x25519.X25519PublicKey):
                raise KeyStoreError(f"{path}: not an X25519 public key")
            public_keys[key_id(key)] = key
        current_id = current.read_text().strip()
        if current_id not in public_keys:
            raise KeyStoreError(f"{current}: names key {current_id}, which is not in {kdir}")
        signer = _load_signer(kdir) if with_signer else None
        return cls(public_keys, current_id, signer)


def checkpoint_public_key(data_dir: Path) -> ed25519.Ed25519PublicKey:
    path = keys_dir(data_dir) / SIGNING_PUB
    if not path.exists():
        raise KeyStoreError(f"{path} is missing: cannot check checkpoint signatures")
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise KeyStoreError(f"{path}: not an Ed25519 public key")
    return key


def _load_signer(kdir: Path) -> ed25519.Ed25519PrivateKey:
    path = kdir / SIGNING_KEY
    if not path.exists():
        raise KeyStoreError(f"{path} is missing: run 'baomi keys init'")
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise KeyStoreError(f"{path}: not an Ed25519 private key")
    return key


# --- creating keys -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewKey:
    key_id: str
    public_path: Path
    private_path: Path | None  # None when the reviewer supplied only a public key


def init_keys(data_dir: Path, private_key_out: Path) -> NewKey:
    """Create the first reviewer key pair and the checkpoint signing key; refuse to overwrite."""
    kdir = keys_dir(data_dir)
    if (kdir / "current").exists():
        raise KeyStoreError(f"{kdir} already holds reviewer keys: use 'baomi keys rotate'")
    private_key_out = Path(private_key_out)
    if private_key_out.exists():
        raise KeyStoreError(f"{private_key_out} exists: refusing to overwrite a private key")
    _make_keys_dir(kdir)
    if not (kdir / SIGNING_KEY).exists():
        _write_signer(kdir)
    private = x25519.X25519PrivateKey.generate()
    _write_private(private_key_out, private)
    public_path = _add_public(kdir, private.public_key())
    return NewKey(key_id(private.public_key()), public_path, private_key_out)


def rotate_keys(
    data_dir: Path, private_key_out: Path | None = None, public_key_in: Path | None = None
) -> NewKey:
    """Add a reviewer key used for new periods; old keys and records stay as they are.

    Either generate a pair (private half to ``private_key_out``) or adopt a public key the
    reviewers generated elsewhere (``public_key_in``), which keeps the private half off the
    host from birth.
    """
    kdir = keys_dir(data_dir)
    if not (kdir / "current").exists():
        raise KeyStoreError(f"no reviewer key in {kdir}: run 'baomi keys init' first")
    if (private_key_out is None) == (public_key_in is None):
        raise UsageError("give exactly one of --private-key-out FILE or --public-key FILE")
    if public_key_in is not None:
        public = serialization.load_pem_public_key(Path(public_key_in).read_bytes())
        if not isinstance(public, x25519.X25519PublicKey):
            raise KeyStoreError(f"{public_key_in}: not an X25519 public key (PEM)")
        return NewKey(key_id(public), _add_public(kdir, public), None)
    assert private_key_out is not None
    if Path(private_key_out).exists():
        raise KeyStoreError(f"{private_key_out} exists: refusing to overwrite a private key")
    private = x25519.X25519PrivateKey.generate()
    _write_private(Path(private_key_out), private)
    return NewKey(
        key_id(private.public_key()), _add_public(kdir, private.public_key()), Path(private_key_out)
    )


def ensure_keys(data_dir: Path) -> Path | None:
    """For the proxy's first start: create keys if none exist.

    Returns the path of the private key written to ``DIR/reviewer-private-key.pem`` (0600)
    so the proxy can warn loudly that it must be moved off the host; None when keys exist.
    """
    if (keys_dir(data_dir) / "current").exists():
        return None
    out = Path(data_dir) / PROXY_PRIVATE_KEY
    init_keys(data_dir, out)
    return out


def ensure_mask_key(data_dir: Path) -> bytes:
    """The key of mask fingerprints (``CN_RESIDENT_ID#7f3a2c``): made on first start, kept.

    A fingerprint lets reviewers tell two masked values apart; without this key nobody can
    test a guess against it. It never leaves the host (records carry only fingerprints).
    """
    kdir = keys_dir(data_dir)
    path = kdir / MASK_KEY
    if not path.exists():
        _make_keys_dir(kdir)
        make_hex_key(path)
    return load_mask_key(data_dir)


def make_hex_key(path: Path) -> None:
    """A new random 32-byte key, hex, 0600; if another process made it first, theirs stays."""
    with contextlib.suppress(KeyStoreError):
        _write_new(path, os.urandom(32).hex().encode() + b"\n")


def load_hex_key(path: Path, what: str, when_damaged: str) -> bytes:
    """A key made by ``make_hex_key``; KeyStoreError naming ``what`` if missing or damaged."""
    try:
        key = bytes.fromhex(path.read_text().strip())
    except OSError as e:
        raise KeyStoreError(f"{path}: cannot read the {what}: {e.strerror}") from None
    except ValueError:
        raise KeyStoreError(f"{path}: not a hex key ({when_damaged})") from None
    if len(key) < 16:
        raise KeyStoreError(f"{path}: key too short ({len(key)} bytes, need 16 or more)")
    return key


def load_mask_key(data_dir: Path) -> bytes:
    """The mask fingerprint key made by ensure_mask_key (KeyStoreError if missing or damaged)."""
    return load_hex_key(keys_dir(data_dir) / MASK_KEY, "mask fingerprint key",
                        "restore it, or delete it to make a new one: fingerprints in old "
                        "records will then no longer match")


def _make_keys_dir(kdir: Path) -> None:
    kdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(kdir, 0o700)


def _add_public(kdir: Path, public: x25519.X25519PublicKey) -> Path:
    kid = key_id(public)
    path = kdir / f"reviewer-{kid}.pub.pem"
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    write_atomic(path, pem, 0o644)
    write_atomic(kdir / "current", (kid + "\n").encode(), 0o644)
    return path


def _write_signer(kdir: Path) -> None:
    signer = ed25519.Ed25519PrivateKey.generate()
    pem = signer.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_new(kdir / SIGNING_KEY, pem)
    pub = signer.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    write_atomic(kdir / SIGNING_PUB, pub, 0o644)


def _write_private(path: Path, private: x25519.X25519PrivateKey) -> None:
    passphrase = os.environ.get(PASSPHRASE_ENV)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_new(path, pem)


def _write_new(path: Path, data: bytes) -> None:
    """Create ``path`` 0600, failing if it exists (O_EXCL), and make it durable."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as e:
        raise KeyStoreError(f"{path} exists: refusing to overwrite a key") from e
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)






def load_private_keys(paths: list[Path]) -> dict[str, x25519.X25519PrivateKey]:
    """Load reviewer private keys (PEM; passphrase from $BAOMI_KEY_PASSPHRASE), by key id."""
    keys = {}
    passphrase = os.environ.get(PASSPHRASE_ENV)
    for path in paths:
        try:
            data = Path(path).read_bytes()
        except OSError as e:
            raise KeyStoreError(f"{path}: cannot read private key: {e.strerror}") from e
        try:
            key = serialization.load_pem_private_key(
                data, password=passphrase.encode() if passphrase else None
            )
        except TypeError as e:  # encrypted without a passphrase, or the reverse
            raise KeyStoreError(
                f"{path}: passphrase needed or not expected (${PASSPHRASE_ENV})"
            ) from e
        except ValueError as e:
            raise KeyStoreError(f"{path}: not a readable PEM private key (or wrong passphrase)") from e
        if not isinstance(key, x25519.X25519PrivateKey):
            raise KeyStoreError(f"{path}: not an X25519 reviewer key")
        keys[key_id(key.public_key())] = key
    return keys
