"""The interception CA: where it lives, keeping its key private, exporting the certificate.

`DIR/ca/` (0700) is mitmproxy's confdir. `mitmproxy-ca.pem` holds the CA *private key*
(0600); only the certificate (`mitmproxy-ca-cert.pem` / `.cer`) is ever given to clients.

    baomi ca export --data-dir var --out baomi-ca.pem
    baomi ca export --data-dir var --out baomi-ca.der --format der
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from proxy.errors import UsageError

CA_BASENAME = "mitmproxy"
_SECRET_FILES = ("mitmproxy-ca.pem", "mitmproxy-ca.p12", "mitmproxy-dhparam.pem")


def ca_paths(confdir: Path) -> tuple[Path, Path]:
    """(PEM certificate, .cer certificate) — the files safe to distribute."""
    return confdir / "mitmproxy-ca-cert.pem", confdir / "mitmproxy-ca-cert.cer"


def secure_ca_dir(data_dir: Path) -> Path:
    """Create the CA if missing; directory 0700 and key files 0600 every time."""
    from mitmproxy.certs import CertStore

    confdir = Path(data_dir) / "ca"
    confdir.mkdir(parents=True, exist_ok=True)
    os.chmod(confdir, 0o700)
    with CertStore.umask_secret():
        CertStore.from_store(str(confdir), CA_BASENAME, 2048)
    for name in _SECRET_FILES:
        path = confdir / name
        if path.exists() and stat.S_IMODE(path.stat().st_mode) != 0o600:
            os.chmod(path, 0o600)
    return confdir


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
