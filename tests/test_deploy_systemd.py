"""deploy/systemd/baomi.service and deploy/transparent/baomi-firewall.service.

``systemd-analyze verify`` insists that every Exec binary exists. The units name the documented
install location ``/opt/baomi/.venv/bin/baomi``, which this machine does not have, so the checks
run on a temporary copy in which only that path is replaced by an existing executable; every
other line is verified as shipped (and the path itself is asserted separately).
"""

import http.server
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
PROXY_UNIT = REPO / "deploy" / "systemd" / "baomi.service"
FIREWALL_UNIT = REPO / "deploy" / "transparent" / "baomi-firewall.service"
INSTALLED_BAOMI = "/opt/baomi/.venv/bin/baomi"
MDWE = Path(__file__).with_name("seccomp_mdwe.py")
MAX_EXPOSURE = 2.0

needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze missing (tests/deps/deploy.txt)",
)


def stand_in_copy(unit: Path, directory: Path) -> Path:
    """The unit with the install location replaced by an executable that exists here."""
    copy = directory / unit.name
    copy.write_text(unit.read_text().replace(INSTALLED_BAOMI, sys.executable))
    return copy


def verify(*units: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["systemd-analyze", "verify", *map(str, units)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


def exposure(unit: Path) -> float:
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(unit)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", done.stdout)
    assert found, f"no exposure level in output: {done.stdout[-500:]} {done.stderr}"
    return float(found.group(1))


@needs_systemd_analyze
def test_both_units_verify_without_a_word(tmp_path):
    done = verify(stand_in_copy(PROXY_UNIT, tmp_path), stand_in_copy(FIREWALL_UNIT, tmp_path))
    assert (done.returncode, done.stderr, done.stdout) == (0, "", "")


@needs_systemd_analyze
@pytest.mark.parametrize(
    "broken",
    [
        ("NoNewPrivileges=yes", "NoNewPrivilege=yes"),  # misspelt directive
        ("ExecReload=/bin/kill", "ExecReload=kill-it"),  # not an absolute path
        ("Type=exec", "Type=sometimes"),
    ],
)
def test_verify_reports_a_broken_unit(tmp_path, broken):
    unit = stand_in_copy(PROXY_UNIT, tmp_path)
    old, new = broken
    assert old in unit.read_text()
    unit.write_text(unit.read_text().replace(old, new))
    assert verify(unit).stderr != ""


@needs_systemd_analyze
def test_proxy_unit_exposure_is_low(tmp_path):
    assert exposure(stand_in_copy(PROXY_UNIT, tmp_path)) <= MAX_EXPOSURE


@needs_systemd_analyze
def test_exposure_check_can_fail(tmp_path):
    bare = tmp_path / "bare.service"
    bare.write_text(f"[Service]\nExecStart={sys.executable}\n")
    assert exposure(bare) > MAX_EXPOSURE


def directives(unit: Path) -> dict[str, list[str]]:
    """Key -> values, continuation lines joined (enough for these two units)."""
    text = re.sub(r"\\\n\s*", " ", unit.read_text())
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


@pytest.mark.parametrize(
    "key,value",
    [
        ("User", "baomi"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ReadWritePaths", "/var/lib/baomi"),
        ("StateDirectory", "baomi"),
        ("CapabilityBoundingSet", ""),
        ("PrivateTmp", "yes"),
        ("ProtectHome", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectKernelLogs", "yes"),
        ("SystemCallFilter", "@system-service"),
        ("MemoryDenyWriteExecute", "yes"),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
    ],
)
def test_proxy_unit_hardening_as_promised(key, value):
    assert value in directives(PROXY_UNIT)[key]


def test_proxy_unit_runs_the_documented_binary_with_the_cli_contract():
    [start] = directives(PROXY_UNIT)["ExecStart"]
    argv = start.split()
    assert argv[:2] == [INSTALLED_BAOMI, "run"]
    for flag in (
        "--policy",
        "--mode",
        "--listen-host",
        "--listen-port",
        "--data-dir",
        "--metrics-host",
        "--metrics-port",
    ):
        assert flag in argv, flag
    assert argv[argv.index("--data-dir") + 1] == "/var/lib/baomi"
    assert directives(PROXY_UNIT)["ExecStartPre"] == [
        f"{INSTALLED_BAOMI} policy check ${{BAOMI_POLICY}}"
    ]


# --- MemoryDenyWriteExecute=yes: does our stack survive it? -----------------------------------

STACK = """
import mmap, ctypes
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    print("wx-allowed")
except PermissionError:
    print("wx-denied")
print(ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(lambda x: x + 1)(41))
import hyperscan
db = hyperscan.Database()
db.compile(expressions=[rb"1[3-9][0-9]{9}"], ids=[1], flags=[hyperscan.HS_FLAG_SOM_LEFTMOST])
hits = []
db.scan(b"tel 13800138000", match_event_handler=lambda *a: hits.append(a[1:3]))
print(hits)
import spacy, jieba, presidio_analyzer, presidio_anonymizer
jieba.setLogLevel(60)
print(len(spacy.blank("zh")("收件人张三")), jieba.lcut("收件人张三"))
import tempfile
from mitmproxy import certs
store = certs.CertStore.from_store(tempfile.mkdtemp(), "mitmproxy", 2048)
print(store.get_cert("example.com", []).cert.cn)
"""


def run_under_mdwe(*argv: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(MDWE), *argv], check=False, capture_output=True, text=True, **kwargs
    )


def test_python_stack_works_without_writable_executable_memory():
    done = run_under_mdwe(sys.executable, "-c", STACK, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:5] == [
        "wx-denied",  # the rule is really in force
        "42",
        "[(4, 15)]",
        "5 ['收件人', '张三']",
        "example.com",
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Upstream(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"upstream says hi"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass  # keep test output clean


def test_mitmdump_proxies_without_writable_executable_memory(tmp_path):
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = free_port()
    mitmdump = Path(sys.executable).with_name("mitmdump")
    proxy = subprocess.Popen(
        [
            sys.executable,
            str(MDWE),
            str(mitmdump),
            "--listen-host",
            "127.0.0.1",
            "-p",
            str(port),
            "--set",
            f"confdir={tmp_path}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proxy.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        target = f"http://127.0.0.1:{upstream.server_address[1]}/"
        response = httpx.get(target, proxy=f"http://127.0.0.1:{port}", timeout=20)
        assert (response.status_code, response.text) == (200, "upstream says hi")
        assert os.stat(tmp_path / "mitmproxy-ca.pem").st_mode & 0o077 == 0
    finally:
        proxy.terminate()
        output, _ = proxy.communicate(timeout=20)
        upstream.shutdown()
        upstream.server_close()
    assert "Operation not permitted" not in output
