"""Real parts for end-to-end tests: an upstream that records what it received, a test CA
for upstream TLS, and the real `baomi run` process.

    with Upstream(tls=test_ca) as up, BaomiProcess(policy, data_dir, upstream_ca=test_ca.pem) as px:
        httpx.post(up.url("/x"), json=..., proxy=px.url, verify=px.ca_pem)
        assert up.received[-1].body == ...
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
BAOMI = str(VENV_BIN / "baomi")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_alive(pid: int) -> bool:
    """``pid`` runs (a zombie, exited but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def stop_process(proc: subprocess.Popen | None, grace: float = 20) -> None:
    """SIGTERM ``proc`` if it still runs, SIGKILL it after ``grace`` seconds; reaps it."""
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def decisions(data_dir: Path | str) -> list[dict]:
    """Every record in DATA_DIR/decisions.jsonl, oldest first ([] before the first one)."""
    path = Path(data_dir) / "decisions.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# -- a test CA for the upstream's TLS --------------------------------------------------------

@dataclass
class UpstreamCA:
    dir: Path
    pem: Path = field(init=False)

    def __post_init__(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "baomi test upstream CA")])
        now = dt.datetime.now(dt.UTC)
        self.cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            # Python >= 3.13 verifies strictly (VERIFY_X509_STRICT): key identifiers required.
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()),
                           critical=False)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.dir / "upstream-ca.pem"
        self.pem.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def server_context(self, names: list[str]) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        sans = []
        for n in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                sans.append(x509.DNSName(n))
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        certfile, keyfile = self.dir / f"{names[0]}.pem", self.dir / f"{names[0]}.key"
        certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM)
                             + self.cert.public_bytes(serialization.Encoding.PEM))
        keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certfile, keyfile)
        return ctx


# -- an upstream that records ------------------------------------------------------------------

@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict
    body: bytes


class Upstream:
    """HTTP(S) server on 127.0.0.1 that answers 200 and records every request it got."""

    def __init__(self, tls: UpstreamCA | None = None, host: str = "127.0.0.1"):
        self.received: list[Received] = []
        self.tls = tls
        self.host = host
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self):
                length = int(self.headers.get("content-length") or 0)
                if self.headers.get("transfer-encoding", "").lower() == "chunked":
                    body = self._read_chunked()
                else:
                    body = self.rfile.read(length) if length else b""
                upstream.received.append(
                    Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                reply = b'{"ok":true}'
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def _read_chunked(self) -> bytes:
                out = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        self.rfile.readline()
                        return out
                    out += self.rfile.read(size)
                    self.rfile.readline()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        if tls:
            ctx = tls.server_context(["localhost", host])
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/", host: str | None = None) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


# -- the real proxy process ----------------------------------------------------------------------

class BaomiProcess:
    """`baomi run` as a subprocess; waits until it says it is listening."""

    def __init__(self, policy: Path | str, data_dir: Path, *, upstream_ca: Path | None = None,
                 extra_args: tuple[str, ...] = (), env: dict | None = None, workers: int = 1,
                 metrics_port: int = 0, processes: int = 1):
        self.port = free_port()
        self.metrics_port = metrics_port
        self.data_dir = Path(data_dir)
        self.args = [BAOMI, "run", "--policy", str(policy), "--listen-host", "127.0.0.1",
                     "--listen-port", str(self.port), "--data-dir", str(data_dir),
                     "--workers", str(workers), "--metrics-port", str(metrics_port),
                     "--processes", str(processes)]
        if upstream_ca:
            self.args += ["--set", f"ssl_verify_upstream_trusted_ca={upstream_ca}"]
        self.args += list(extra_args)
        self.env = {**os.environ, "PYTHONPATH": str(REPO / "tests"), **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.pump: threading.Thread | None = None
        self.output: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ca_pem(self) -> str:
        return str(self.data_dir / "ca" / "mitmproxy-ca-cert.pem")

    def client(self, timeout: float = 60, **kwargs):
        """An httpx client through this proxy that trusts its CA (the caller closes it):

            with px.client() as c:
                c.post(up.url("/x"), json=...)
        """
        import httpx

        return httpx.Client(proxy=self.url, verify=ssl.create_default_context(cafile=self.ca_pem),
                            timeout=timeout, **kwargs)

    def decisions(self) -> list[dict]:
        """This proxy's decision records so far, oldest first."""
        return decisions(self.data_dir)

    def last_decision(self) -> dict:
        """The newest decision record."""
        return self.decisions()[-1]

    def metric(self, name: str, **labels: str) -> float:
        """``name``'s value on this proxy's /metrics, summed over the samples with ``labels``."""
        import httpx
        from prometheus_client.parser import text_string_to_metric_families

        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).text
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )

    def start(self, timeout: float = 180) -> BaomiProcess:
        self._close_output()  # of a previous run a test ended itself (kill -9, say)
        self.proc = subprocess.Popen(self.args, cwd=REPO, env=self.env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        ready = threading.Event()

        def pump(stdout=self.proc.stdout):
            for line in stdout:
                self.output.append(line)
                if line.startswith("baomi listening"):
                    ready.set()

        self.pump = threading.Thread(target=pump, daemon=True)
        self.pump.start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("baomi did not start:\n" + "".join(self.output[-60:]))
        return self

    def stop(self) -> int | None:
        stop_process(self.proc)
        self._close_output()
        return self.proc.returncode if self.proc else None

    def _close_output(self) -> None:
        """Close the output pipe once the pump has read it to the end (an open pipe left to
        the garbage collector is a ResourceWarning, an error under filterwarnings)."""
        if self.pump is not None:
            self.pump.join(20)  # EOF comes when baomi and its workers have exited
            if self.pump.is_alive():
                raise RuntimeError("baomi's output is still open after it exited (a worker "
                                   "outlived it?):\n" + "".join(self.output[-20:]))
            self.pump = None
            self.proc.stdout.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def log_text(self) -> str:
        return "".join(self.output)
