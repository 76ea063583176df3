"""A throw-away egress gateway in network namespaces, for transparent-mode tests.

    client ──eth0 ── lan0── gateway ──wan0 ── eth0── server
    198.18.1.2      198.18.1.1   198.18.2.1      198.18.2.2
    fd18:1::2       fd18:1::1    fd18:2::1       fd18:2::2

The gateway forwards between its two links (like a real egress router); nothing is NATed unless
the rules under test do it. Names are unique per run (``baomi-<pid>-<random>-<role>``), so
parallel or aborted runs never clash, and everything is torn down on exit, also on failure.

    with egress_gateway() as net:
        net.load_nft(redirect_port=8080)                 # deploy/transparent/baomi.nft
        upstream = net.record("server", SERVER_IP, 80)   # records what reaches the server
        net.run("client", "curl", "-sS", f"http://{SERVER_IP}/")
        assert upstream.connections() == []

Needs root (``ip netns``). ``skip_reason()`` says why a test cannot run here.
Run as a script it is the recording server (``python netns.py record ...``).
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import re
import secrets
import select
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NFT_RULES = REPO / "deploy" / "transparent" / "baomi.nft"
IPTABLES_SCRIPT = REPO / "deploy" / "transparent" / "iptables.sh"

CLIENT_IP, GATEWAY_LAN_IP = "198.18.1.2", "198.18.1.1"
GATEWAY_WAN_IP, SERVER_IP = "198.18.2.1", "198.18.2.2"
CLIENT_IP6, GATEWAY_LAN_IP6 = "fd18:1::2", "fd18:1::1"
GATEWAY_WAN_IP6, SERVER_IP6 = "fd18:2::1", "fd18:2::2"
LAN_NET4, LAN_NET6 = "198.18.1.0/24", "fd18:1::/64"
LAN_IF = "lan0"  # the gateway's client-facing interface
# The user the proxy runs as inside the gateway (its traffic is exempt from redirection).
PROXY_USER = "nobody"

ROLES = ("client", "gateway", "server")
PREFIX = "baomi"
SO_ORIGINAL_DST = 80  # linux/netfilter_ipv4.h; same value for IPv6 (IP6T_SO_ORIGINAL_DST)


class NetnsError(RuntimeError):
    """A namespace command failed; carries its command line and stderr."""


def skip_reason() -> str | None:
    """Why namespace tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    missing = [tool for tool in ("ip", "nft", "iptables-restore", "curl") if not shutil.which(tool)]
    if missing:
        return f"missing tools: {', '.join(missing)} (see tests/deps/)"
    return None


def _sh(*argv: str, timeout: float = 10, input: str | None = None) -> str:
    done = subprocess.run(
        argv, check=False, capture_output=True, text=True, timeout=timeout, input=input
    )
    if done.returncode != 0:
        raise NetnsError(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def render_nft(text: str, **defines: str) -> str:
    """Replace ``define NAME = ...`` lines; an unknown NAME is an error, not a silent no-op.

    >>> render_nft("define BAOMI_PORT = 8080  # c", BAOMI_PORT="9000")
    'define BAOMI_PORT = 9000'
    """
    for name, value in defines.items():
        text, count = re.subn(
            rf"^define {re.escape(name)} = .*$",
            f"define {name} = {value}",
            text,
            flags=re.MULTILINE,
        )
        if count != 1:
            raise KeyError(f"{name} is not defined once in the rules")
    return text


@dataclass(frozen=True)
class Recorder:
    """A server in one namespace that logs each connection (or datagram) as a JSON line."""

    process: subprocess.Popen
    log: Path

    def connections(self) -> list[dict]:
        """What reached the server: peer, local address, original destination, request text."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]


class EgressGateway:
    """Three namespaces wired as client -> gateway -> server. Create with ``egress_gateway()``."""

    def __init__(self, names: Mapping[str, str], workdir: Path):
        self.names = dict(names)
        self.workdir = workdir
        self._processes: list[subprocess.Popen] = []

    def command(self, role: str, *argv: str, user: str | None = None) -> list[str]:
        """The argv that runs ``argv`` in ``role``'s namespace, as ``user`` when given."""
        prefix = ["ip", "netns", "exec", self.names[role]]
        if user is not None:
            account = pwd.getpwnam(user)
            prefix += [
                "setpriv",
                f"--reuid={account.pw_uid}",
                f"--regid={account.pw_gid}",
                "--clear-groups",
            ]
        return prefix + list(argv)

    def run(
        self,
        role: str,
        *argv: str,
        user: str | None = None,
        timeout: float = 15,
        check: bool = False,
    ) -> subprocess.CompletedProcess:
        done = subprocess.run(
            self.command(role, *argv, user=user),
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and done.returncode != 0:
            raise NetnsError(f"{role}: {' '.join(argv)}: exit {done.returncode}: {done.stderr}")
        return done

    def spawn(self, role: str, *argv: str, user: str | None = None, **popen) -> subprocess.Popen:
        """Start a long-running process in ``role``; it is stopped at teardown."""
        process = subprocess.Popen(self.command(role, *argv, user=user), **popen)
        self._processes.append(process)
        return process

    def load_nft(self, redirect_port: int, rules: Path = NFT_RULES, **defines: str) -> str:
        """Load the nftables rules on the gateway with this lab's interfaces; returns the text."""
        settings = {
            "LAN_IFS": f'{{ "{LAN_IF}" }}',
            "LAN_NET4": f"{{ {LAN_NET4} }}",
            "LAN_NET6": f"{{ {LAN_NET6} }}",
            "BAOMI_PORT": str(redirect_port),
            "BAOMI_USER": f'"{PROXY_USER}"',
            **defines,
        }
        text = render_nft(rules.read_text(), **settings)
        path = self.workdir / "baomi.nft"
        path.write_text(text)
        self.run("gateway", "nft", "-f", str(path), check=True)
        return text

    def load_iptables(self, redirect_port: int, script: Path = IPTABLES_SCRIPT, **env: str) -> None:
        """Run ``iptables.sh start`` on the gateway with this lab's interfaces."""
        settings = {
            "LAN_IFS": LAN_IF,
            "LAN_NET4": LAN_NET4,
            "LAN_NET6": LAN_NET6,
            "BAOMI_PORT": str(redirect_port),
            "BAOMI_USER": PROXY_USER,
            **env,
        }
        assignments = [f"{name}={value}" for name, value in settings.items()]
        self.run("gateway", "env", *assignments, "bash", str(script), "start", check=True)

    def record(
        self,
        role: str,
        host: str,
        port: int,
        proto: str = "tcp",
        user: str | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> Recorder:
        """Start a recording server on host:port in ``role``; returns once it listens.

        ``tls=(certfile, keyfile)`` makes it an HTTPS server (chain in certfile); a client
        whose handshake fails is logged with ``"tls_error"`` and no request.
        """
        log = self.workdir / f"{role}-{proto}-{port}-{secrets.token_hex(2)}.jsonl"
        log.touch()
        errors = log.with_suffix(".stderr")
        if user is not None:
            shutil.chown(log, user)
        # Another user may not reach a virtualenv or a checkout under /root (0700): run the
        # system python on a copy of this stdlib-only file in the lab's world-readable workdir.
        python, script = sys.executable, Path(__file__).resolve()
        if user is not None:
            python = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
            script = Path(shutil.copy(script, self.workdir / "netns_recorder.py"))
        argv = [str(script), "record", "--proto", proto, "--host", host, "--port", str(port)]
        if tls is not None:
            argv += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
        with errors.open("w") as stderr:  # a file, not a pipe that nobody drains
            process = self.spawn(
                role,
                python,
                *argv,
                "--log",
                str(log),
                user=user,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 10)
        line = process.stdout.readline() if ready else ""
        if line.strip() != "ready":
            process.kill()
            raise NetnsError(
                f"recorder on {role} {host}:{port} did not start: {errors.read_text()}"
            )
        return Recorder(process, log)

    def close(self) -> None:
        """Stop what we started, then delete our namespaces. Raises after trying everything."""
        failures = []
        for process in self._processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=3)
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
        for name in self.names.values():
            try:
                _sh("ip", "netns", "del", name)
            except NetnsError as error:
                failures.append(str(error))
        if failures:
            raise NetnsError("teardown incomplete: " + "; ".join(failures))


def _wire(names: Mapping[str, str]) -> None:
    c, g, s = names["client"], names["gateway"], names["server"]
    for ns in (c, g, s):
        # No duplicate address detection: addresses (link-local too) usable at once, not ~2 s on.
        _sh(
            "ip",
            "netns",
            "exec",
            ns,
            "sysctl",
            "-qw",
            "net.ipv6.conf.all.accept_dad=0",
            "net.ipv6.conf.default.accept_dad=0",
        )
    _sh(
        "ip",
        "netns",
        "exec",
        g,
        "sysctl",
        "-qw",
        "net.ipv4.ip_forward=1",
        "net.ipv6.conf.all.forwarding=1",
        "net.ipv6.conf.default.forwarding=1",
    )
    _sh(
        "ip",
        "link",
        "add",
        "name",
        LAN_IF,
        "netns",
        g,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        c,
    )
    _sh(
        "ip",
        "link",
        "add",
        "name",
        "wan0",
        "netns",
        g,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        s,
    )
    plan = {
        c: [("eth0", f"{CLIENT_IP}/24", f"{CLIENT_IP6}/64")],
        g: [
            (LAN_IF, f"{GATEWAY_LAN_IP}/24", f"{GATEWAY_LAN_IP6}/64"),
            ("wan0", f"{GATEWAY_WAN_IP}/24", f"{GATEWAY_WAN_IP6}/64"),
        ],
        s: [("eth0", f"{SERVER_IP}/24", f"{SERVER_IP6}/64")],
    }
    for ns, links in plan.items():
        _sh("ip", "-n", ns, "link", "set", "lo", "up")
        for link, ip4, ip6 in links:
            _sh("ip", "-n", ns, "addr", "add", ip4, "dev", link)
            _sh("ip", "-n", ns, "-6", "addr", "add", ip6, "dev", link, "nodad")
            _sh("ip", "-n", ns, "link", "set", link, "up")
    _sh("ip", "-n", c, "route", "add", "default", "via", GATEWAY_LAN_IP)
    _sh("ip", "-n", c, "-6", "route", "add", "default", "via", GATEWAY_LAN_IP6)
    _sh("ip", "-n", s, "route", "add", "default", "via", GATEWAY_WAN_IP)
    _sh("ip", "-n", s, "-6", "route", "add", "default", "via", GATEWAY_WAN_IP6)


def _wait_until_routed(names: Mapping[str, str], timeout: float = 5) -> None:
    """Until client -> server works both ways for v4 and v6 ("refused" by the discard port).

    IPv6 forwarding drops the first packets for about half a second after the links come up.
    """
    deadline = time.monotonic() + timeout
    for target in (f"http://{SERVER_IP}:9/", f"http://[{SERVER_IP6}]:9/"):
        while True:
            probe = subprocess.run(
                [
                    "ip",
                    "netns",
                    "exec",
                    names["client"],
                    "curl",
                    "-gsS",
                    "--connect-timeout",
                    "0.2",
                    target,
                ],
                check=False,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            if probe.returncode == 7:  # connection refused: the server's kernel answered
                break
            if time.monotonic() > deadline:
                raise NetnsError(f"lab not routed after {timeout} s: {probe.stderr.strip()}")


@contextmanager
def egress_gateway() -> Iterator[EgressGateway]:
    """Build the three namespaces, yield the lab, always tear it down."""
    run_id = f"{PREFIX}-{os.getpid()}-{secrets.token_hex(3)}"
    names = {role: f"{run_id}-{role}" for role in ROLES}
    with tempfile.TemporaryDirectory(prefix=f"{run_id}-") as workdir:
        os.chmod(workdir, 0o755)  # recorders may run as PROXY_USER
        lab = EgressGateway({}, Path(workdir))
        try:
            for role, name in names.items():
                _sh("ip", "netns", "add", name)
                lab.names[role] = name  # only what exists gets deleted
            _wire(names)
            _wait_until_routed(names)
            yield lab
        finally:
            lab.close()


# --- the recording server (runs inside a namespace) ----------------------------------------------


def _original_dst(conn: socket.socket) -> str | None:
    """Where the client meant to go before NAT REDIRECT (what mitmproxy's transparent mode reads)."""
    try:
        if conn.family == socket.AF_INET:
            raw = conn.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
            port, addr = struct.unpack_from("!H4s", raw, 2)
            return f"{socket.inet_ntop(socket.AF_INET, addr)}:{port}"
        raw = conn.getsockopt(socket.IPPROTO_IPV6, SO_ORIGINAL_DST, 28)
        port, _flow, addr = struct.unpack_from("!HI16s", raw, 2)
        return f"[{socket.inet_ntop(socket.AF_INET6, addr)}]:{port}"
    except OSError:
        return None  # not NATed (no conntrack entry): there was no redirect


def _read_request(conn: socket.socket) -> bytes:
    conn.settimeout(2)
    data = b""
    try:
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = conn.recv(4096)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        while length and len(body) < int(length.group(1)):
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        return head + b"\r\n\r\n" + body
    except OSError:  # timed out, reset, or TLS closed without close_notify: keep what came
        return data


def _append(log: Path, entry: dict) -> None:
    with log.open("a") as out:
        out.write(json.dumps(entry) + "\n")


def _serve_tcp(sock: socket.socket, log: Path, tls: ssl.SSLContext | None = None) -> None:
    sock.listen(16)
    print("ready", flush=True)
    while True:
        raw, peer = sock.accept()
        entry = {
            "peer": peer[0],
            "local": raw.getsockname()[0],
            "original_dst": _original_dst(raw),
        }
        try:
            conn = _handshake(raw, tls) if tls else raw
        except (ssl.SSLError, OSError) as error:
            # A client that rejects our certificate still reached us: that is worth recording.
            raw.close()
            _append(log, {**entry, "tls_error": type(error).__name__, "request": ""})
            continue
        with conn:
            request = _read_request(conn)
            entry["request"] = request.decode("latin-1")
            if tls:
                entry["sni"] = getattr(conn, "sni", None)
            _append(log, entry)
            if not request:
                continue  # connected and left without a request (e.g. a proxy's eager connect)
            body = json.dumps(entry).encode()
            try:
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
                )
            except OSError as error:  # the client hung up first; what it sent is logged
                print(f"answer not sent: {type(error).__name__}", file=sys.stderr, flush=True)


def _handshake(raw: socket.socket, tls: ssl.SSLContext) -> ssl.SSLSocket:
    raw.settimeout(5)
    return tls.wrap_socket(raw, server_side=True)


def _tls_context(certfile: Path, keyfile: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile, keyfile)

    def remember_sni(conn: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        conn.sni = name  # type: ignore[attr-defined]  # read back when logging the request

    context.sni_callback = remember_sni
    return context


def _serve_udp(sock: socket.socket, log: Path) -> None:
    print("ready", flush=True)
    while True:
        data, peer = sock.recvfrom(65536)
        _append(log, {"peer": peer[0], "request": data.decode("latin-1")})


def _record_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="netns.py record")
    parser.add_argument("--proto", choices=("tcp", "udp"), default="tcp")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--tls-cert", type=Path, help="serve HTTPS with this chain (PEM)")
    parser.add_argument("--tls-key", type=Path, help="the key of --tls-cert (PEM)")
    args = parser.parse_args(argv)
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    kind = socket.SOCK_STREAM if args.proto == "tcp" else socket.SOCK_DGRAM
    sock = socket.socket(family, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # "::" beside "0.0.0.0"
    sock.bind((args.host, args.port))
    if args.proto == "udp":
        _serve_udp(sock, args.log)
    else:
        tls = _tls_context(args.tls_cert, args.tls_key) if args.tls_cert else None
        _serve_tcp(sock, args.log, tls)


if __name__ == "__main__":
    if sys.argv[1:2] != ["record"]:
        sys.exit("usage: netns.py record --proto tcp|udp --host H --port P --log FILE")
    _record_main(sys.argv[2:])
