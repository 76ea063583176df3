"""The interception CA: where it lives, keeping its key private, exporting the certificate.

`DIR/ca/` (0700) is mitmproxy's confdir. `mitmproxy-ca.pem` holds the CA *private key*
(0600); only the certificate (`mitmproxy-ca-cert.pem` / `.cer`) is ever given to clients.
A CA key or directory that others can open is refused, never chmod-ed quietly: the key
may already have been copied (see proxy.app.keys_at_rest).

    baomi ca export --data-dir var --out baomi-ca.pem
    baomi ca export --data-dir var --out baomi-ca.der --format der
"""

from __future__ import annotations

import os
from pathlib import Path

from proxy.app.keys_at_rest import KNOWN, KeyFile, exposures
from proxy.errors import KeyStoreError, UsageError

CA_BASENAME = "mitmproxy"


def ca_paths(confdir: Path) -> tuple[Path, Path]:
    """(PEM certificate, .cer certificate) — the files safe to distribute."""
    return confdir / "mitmproxy-ca-cert.pem", confdir / "mitmproxy-ca-cert.cer"


def secure_ca_dir(data_dir: Path) -> Path:
    """Create the CA if missing (directory 0700, files 0600); refuse one others can open.

    Raises KeyStoreError with the ``chmod`` that fixes it.
    """
    from mitmproxy.certs import CertStore

    confdir = Path(data_dir) / "ca"
    if not confdir.exists():
        confdir.mkdir(parents=True, mode=0o700)
        os.chmod(confdir, 0o700)  # mkdir's mode is filtered by the umask
    refuse_exposed_ca(data_dir)  # before mitmproxy reads (and trusts) a key others could swap
    with CertStore.umask_secret():
        CertStore.from_store(str(confdir), CA_BASENAME, 2048)
    refuse_exposed_ca(data_dir)
    return confdir


def ca_keys(data_dir: Path) -> list[KeyFile]:
    """The CA private-key files present (PEM and PKCS#12)."""
    return [KeyFile(Path(data_dir) / rel, what) for rel, what in KNOWN
            if rel.startswith("ca/") and (Path(data_dir) / rel).is_file()]


def refuse_exposed_ca(data_dir: Path) -> None:
    confdir = Path(data_dir) / "ca"
    found = exposures(ca_keys(data_dir), {confdir: "CA private key"})
    if found:
        raise KeyStoreError(
            "the CA private key is open to other users, refusing to use it: "
            + "; ".join(e.message for e in found)
            + ". Fix: " + " && ".join(e.fix for e in found)
            + " (and if anyone else could have copied the key, make a new CA: move "
            f"{confdir} aside, start baomi, distribute the new certificate)"
        )


def export(data_dir: Path, out: Path, fmt: str = "pem") -> Path:
    if fmt not in ("pem", "der"):
        raise UsageError(f"--format must be pem or der, not {fmt!r}")
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    confdir = secure_ca_dir(Path(data_dir))
    source, _ = ca_paths(confdir)
    cert = x509.load_pem_x509_certificate(source.read_bytes())  # the certificate only, never the key
    data = cert.public_bytes(Encoding.PEM if fmt == "pem" else Encoding.DER)
    if str(out) == "-":
        os.write(1, data)
    else:
        Path(out).write_bytes(data)
    return source
