"""Installed = tested: the wheel, installed into a fresh virtualenv outside the source tree.

`make test` otherwise only runs the editable install in .venv, where every file of the source
tree is within reach. Here the session builds the wheel (`python -m build`) from a copy of the
tree, installs it with pip into a new venv in a temp dir, and runs the installed `baomi` with its
working directory in a temp dir and no PYTHONPATH, so only the wheel's own files can run:

    wheel        every package and runtime data file of the tree is in it, nothing else
    installed    the modules import from the temp venv, the source tree is not on sys.path
    baomi run    block, mask and allow through it (httpx, recording upstream), /proxy.pac
    the tools    incidents list, policy check, doctor, ca export, scan
"""

from __future__ import annotations

import email.parser
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from harness import REPO, BaomiProcess, free_port

from detectors.mask import masked_with
from proxy.record.incidents.keys import load_mask_key

pytestmark = pytest.mark.e2e

PACKAGES = ("proxy", "detectors", "policies")
RESIDENT_ID = "11010519491231002X"
MOBILE = "13800138000"
MASKED_MOBILE = "138********"  # records add "#" + the keyed fingerprint (masked_with)
# Top-level entries that are no part of the wheel's build: keeps the copy small and free of
# local state. Only at the top: a package's own "build" or "var" folder is copied (and shipped).
NOT_BUILT = {".git", ".venv", "build", "dist", "var", ".pytest_cache", ".ruff_cache",
             ".mypy_cache", "tests", "bench"}


def not_built(folder: str, names: list[str]) -> set[str]:
    top = NOT_BUILT if Path(folder) == REPO else set()
    return {n for n in names if n in top or n == "__pycache__" or n.endswith((".egg-info", ".pyc"))}


@dataclass(frozen=True)
class Installed:
    root: Path  # the temp dir, outside the source tree
    venv: Path
    work: Path  # cwd of every command
    env: dict[str, str]

    @property
    def baomi(self) -> Path:
        return self.venv / "bin" / "baomi"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([str(self.baomi), *args], cwd=self.work, env=self.env,
                              capture_output=True, text=True, timeout=300, check=False)
        if check:
            assert done.returncode == 0, f"baomi {' '.join(args)}: {done.returncode}\n{done.stderr}"
        return done

    def python_json(self, code: str):
        done = subprocess.run([str(self.python), "-c", code], cwd=self.work, env=self.env,
                              capture_output=True, text=True, timeout=120, check=True)
        return json.loads(done.stdout)


def clean_env() -> dict[str, str]:
    """This process's environment without anything that would point Python at other code."""
    drop = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV"}
    return {k: v for k, v in os.environ.items() if k not in drop} | {"PYTHONNOUSERSITE": "1"}


@pytest.fixture(scope="session")
def outside() -> Path:
    """A temp dir that is not inside the source tree (TMPDIR could point there)."""
    with tempfile.TemporaryDirectory(prefix="baomi-installed-") as name:
        root = Path(name).resolve()
        assert not root.is_relative_to(REPO.resolve()), f"{root} is inside {REPO}"
        yield root


@pytest.fixture(scope="session")
def source(outside) -> Path:
    """A snapshot of the tree to build from: building in place would write build/ and
    *.egg-info into the shared checkout, and a stale build/lib can put deleted modules back."""
    return Path(shutil.copytree(REPO, outside / "src", ignore=not_built))


@pytest.fixture(scope="session")
def wheel(source, outside) -> Path:
    dist = outside / "dist"
    done = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist),
                           str(source)], env=clean_env(), capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [built] = dist.glob("baomi-*.whl")
    return built


@pytest.fixture(scope="session")
def installed(wheel, outside) -> Installed:
    """pip installs the wheel and its pinned dependencies (from pip's cache, local wheels or
    the index; 20-45 s here, depending on the load) into a new venv."""
    venv, work, env = outside / "venv", outside / "work", clean_env()
    work.mkdir()
    # venv makes an environment on the base interpreter even when run from .venv's python.
    subprocess.run([sys.executable, "-m", "venv", str(venv)], env=env, check=True, timeout=120)
    # --no-compile: pip byte-compiles every module of every dependency (half the install time
    # here); Python compiles just the ones baomi imports, on first import.
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                           "--no-compile", "--disable-pip-version-check", str(wheel)],
                          cwd=work, env=env,
                          capture_output=True, text=True, timeout=1200, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return Installed(outside, venv, work, env)


# -- the wheel's files ----------------------------------------------------------------------------

def shipped_files(tree: Path) -> set[str]:
    """Every file the packages hold in ``tree``: modules and the data they open at run time.
    Markdown next to the code is documentation for readers of the repository."""
    return {
        path.relative_to(tree).as_posix()
        for package in PACKAGES
        for path in (tree / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".md", ".pyc")
    }


def test_wheel_holds_every_module_and_data_file_and_nothing_else(wheel, source):
    names = set(zipfile.ZipFile(wheel).namelist())
    payload = {n for n in names if not n.startswith("baomi-0.1.0.dist-info/")}
    expected = shipped_files(source)
    assert {"proxy/data/proxy.pac.template", "policies/default.yaml",
            "detectors/data/cn_surnames.txt", "proxy/record/incidents/__init__.py"} <= expected
    assert payload == expected


def test_wheel_metadata_matches_pyproject(wheel, source):
    project = tomllib.loads((source / "pyproject.toml").read_text())["project"]
    with zipfile.ZipFile(wheel) as whl:
        meta = email.parser.Parser().parsestr(whl.read("baomi-0.1.0.dist-info/METADATA").decode())
        entry_points = whl.read("baomi-0.1.0.dist-info/entry_points.txt").decode()
    runtime = [r for r in meta.get_all("Requires-Dist") if "extra ==" not in r]
    assert sorted(runtime) == sorted(project["dependencies"])
    assert "baomi = proxy.cli:main" in entry_points.splitlines()


# -- what runs is the wheel ------------------------------------------------------------------------

def test_installed_modules_come_from_the_temp_venv(installed):
    found = installed.python_json(
        "import json, sys, importlib.metadata as md, proxy, detectors, policies;"
        "d = md.distribution('baomi');"
        "print(json.dumps({'files': [proxy.__file__, detectors.__file__, policies.__file__],"
        " 'dist': str(d.locate_file('')), 'direct_url': d.read_text('direct_url.json'),"
        " 'path': sys.path}))"
    )
    site = installed.venv.resolve()
    assert all(Path(f).resolve().is_relative_to(site) for f in found["files"]), found["files"]
    assert Path(found["dist"]).resolve().is_relative_to(site)
    # An editable install would record {"dir_info": {"editable": true}}; a wheel file says archive.
    assert "archive_info" in json.loads(found["direct_url"])
    repo = str(REPO.resolve())
    assert not [p for p in found["path"] if p and str(Path(p).resolve()).startswith(repo)]


# -- the installed tools ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def default_policy(installed) -> Path:
    """The policy shipped in the wheel, where the installed package has it."""
    path = installed.python_json(
        "import json; from importlib import resources;"
        "print(json.dumps(str(resources.files('policies') / 'default.yaml')))"
    )
    assert Path(path).resolve().is_relative_to(installed.venv.resolve())
    return Path(path)


def test_policy_check_accepts_the_shipped_policy_and_reports_a_bad_one(installed, default_policy):
    good = installed.run("policy", "check", str(default_policy))
    assert f"{default_policy}: valid (sha256:" in good.stdout
    bad = installed.work / "bad.yaml"
    bad.write_text("version: 1\nmode: sometimes\n")
    done = installed.run("policy", "check", str(bad), check=False)
    assert done.returncode == 2
    assert f"{bad}:2:7:" in done.stderr


def test_scan_blocks_a_resident_id_without_printing_it(installed):
    body = installed.work / "body.json"
    body.write_text(json.dumps({"customer": {"id_card": RESIDENT_ID, "mobile": MOBILE}}))
    done = installed.run("scan", "--json", "--content-type", "application/json", str(body))
    [result] = [json.loads(line) for line in done.stdout.splitlines()]
    assert (result["decision"]["action"], result["decision"]["rule"]) == (
        "block", "block-ids-and-cards")
    found = {f["entity"]: f for f in result["findings"]}
    assert found["CN_RESIDENT_ID"]["location"] == "json:$.customer.id_card"
    assert found["PHONE_NUMBER"]["masked"] == MASKED_MOBILE
    assert RESIDENT_ID not in done.stdout and MOBILE not in done.stdout


# -- baomi run from the wheel ----------------------------------------------------------------------

class InstalledBaomi(BaomiProcess):
    """The harness's `baomi run`, but the installed one, in the temp work dir, with the clean
    environment (the harness runs .venv's baomi in the source tree with tests/ on PYTHONPATH)."""

    def __init__(self, installed: Installed, policy: Path, data_dir: Path, **kwargs):
        super().__init__(policy, data_dir, **kwargs)
        # `env -C DIR` chdirs and then execs baomi, so the harness's pid and signals are baomi's.
        self.args = ["env", "-C", str(installed.work), str(installed.baomi), *self.args[1:]]
        self.env = installed.env


@pytest.fixture(scope="module")
def proxy(installed, default_policy, upstream_ca):
    data_dir = installed.root / "data"
    with InstalledBaomi(installed, default_policy, data_dir, upstream_ca=upstream_ca.pem,
                        metrics_port=free_port()) as px:
        yield px


@pytest.fixture(scope="module")
def client(proxy):
    ctx = ssl.create_default_context(cafile=proxy.ca_pem)
    with httpx.Client(proxy=proxy.url, verify=ctx, timeout=60) as c:
        yield c


def test_run_blocks_a_resident_id(proxy, client, https_up):
    before = len(https_up.received)
    r = client.post(https_up.url("/api/customers"), json={"id_card": RESIDENT_ID})
    assert r.status_code == 403
    assert r.headers["x-baomi-incident"].startswith("BM-")
    assert RESIDENT_ID not in r.text
    assert len(https_up.received) == before


def test_run_masks_a_mobile(proxy, client, https_up):
    r = client.post(https_up.url("/api/contacts"), json={"customer": {"phone": MOBILE}})
    assert r.status_code == 200
    got = https_up.received[-1]
    assert got.path == "/api/contacts"
    assert json.loads(got.body) == {"customer": {"phone": MASKED_MOBILE}}


def test_run_allows_clean_traffic_unchanged(proxy, client, https_up):
    body = json.dumps({"order": "A-1001", "note": "ship on Monday"}).encode()
    r = client.post(https_up.url("/api/orders"), content=body,
                    headers={"content-type": "application/json"})
    assert r.status_code == 200
    assert (https_up.received[-1].path, https_up.received[-1].body) == ("/api/orders", body)


def test_run_serves_the_pac_from_the_packaged_template(proxy):
    r = httpx.get(f"http://127.0.0.1:{proxy.metrics_port}/proxy.pac", timeout=10)
    assert r.status_code == 200
    assert f'var BAOMI = "PROXY 127.0.0.1:{proxy.port}";' in r.text
    assert "function FindProxyForURL(url, host)" in r.text


def test_incidents_list_shows_the_block_and_the_mask(installed, proxy, client, https_up):
    blocked = client.post(https_up.url("/api/incident"), json={"id_card": RESIDENT_ID})
    incident_id = blocked.headers["x-baomi-incident"]
    done = installed.run("incidents", "list", "--json", "--data-dir", str(proxy.data_dir))
    rows = {row["id"]: row for row in map(json.loads, done.stdout.splitlines())}
    row = rows[incident_id]
    assert (row["action"], row["rule"], row["path"]) == ("block", "block-ids-and-cards",
                                                         "/api/incident")
    assert row["entity_counts"] == {"CN_RESIDENT_ID": 1}
    recorded = masked_with("PHONE_NUMBER", MOBILE, load_mask_key(proxy.data_dir))
    assert any(r["action"] == "mask" and r["masked"] == [recorded] for r in rows.values())
    assert RESIDENT_ID not in done.stdout and MOBILE not in done.stdout


def test_ca_export_gives_the_certificate_the_proxy_signs_with(installed, proxy):
    pem, der = installed.work / "ca.pem", installed.work / "ca.der"
    installed.run("ca", "export", "--data-dir", str(proxy.data_dir), "--out", str(pem))
    installed.run("ca", "export", "--data-dir", str(proxy.data_dir), "--out", str(der),
                  "--format", "der")
    served = x509.load_pem_x509_certificate(Path(proxy.ca_pem).read_bytes())
    assert x509.load_pem_x509_certificate(pem.read_bytes()) == served
    assert x509.load_der_x509_certificate(der.read_bytes()) == served
    assert b"PRIVATE KEY" not in pem.read_bytes()


def test_doctor_passes_on_the_running_setup(installed, proxy, default_policy):
    # Regular mode: the firewall checks (ip-forwarding, redirect-rules, quic-dropped) only apply
    # to transparent mode and need root and netfilter; they are covered in tests/test_doctor.py.
    # As the start-up banner and the doctor ask: the reviewers' private key leaves the host.
    reviewers = installed.root / "reviewers"
    reviewers.mkdir(mode=0o700)
    (proxy.data_dir / "reviewer-private-key.pem").rename(reviewers / "reviewer-private-key.pem")
    done = installed.run("doctor", "--json", "--data-dir", str(proxy.data_dir),
                         "--policy", str(default_policy), "--listen-port", str(free_port()),
                         "--metrics-port", "0", check=False)
    checks = {c["check"]: c["status"] for c in json.loads(done.stdout)}
    assert {"ca-permissions", "ca-certificate", "reviewer-private-key", "policy", "listen-port",
            "metrics-port", "detector"} <= set(checks)
    assert set(checks.values()) == {"OK"}, done.stdout
    assert done.returncode == 0


# -- what the wheel ships besides code ----------------------------------------------------------

def test_scan_finds_a_name_in_prose_with_the_packaged_ner_model(installed):
    """The NER model is package data: from the wheel, a name in running text is found."""
    where = installed.python_json(
        "import importlib.resources, json; "
        "print(json.dumps(str(importlib.resources.files('detectors') / 'models' / 'ner')))")
    assert where.startswith(str(installed.venv))
    body = installed.work / "prose.json"
    body.write_text(json.dumps(
        {"message": "I met Alice Walker yesterday to go over the quarterly numbers."}))
    done = installed.run("scan", "--json", "--content-type", "application/json", str(body))
    [result] = [json.loads(line) for line in done.stdout.splitlines()]
    people = [f["location"] for f in result["findings"] if f["entity"] == "PERSON"]
    assert people == ["json:$.message"]
    assert "Alice Walker" not in done.stdout


def test_console_serves_its_packaged_pages_and_script(installed):
    """`baomi console` from the wheel: templates, the reveal script and the CSS are package data."""
    data_dir = installed.root / "console-data"
    add = subprocess.run([str(installed.baomi), "console", "users", "add", "rita", "--role",
                          "reviewer", "--password-stdin", "--data-dir", str(data_dir)],
                         input="a long enough password\n", cwd=installed.work, env=installed.env,
                         capture_output=True, text=True, timeout=120, check=False)
    assert add.returncode == 0, add.stderr
    port = free_port()
    console = subprocess.Popen([str(installed.baomi), "console", "--data-dir", str(data_dir),
                                "--listen-port", str(port)], cwd=installed.work, env=installed.env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert console.stderr is not None
        line = console.stderr.readline()  # the listening line, once the socket is bound
        assert f":{port}/" in line, line
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as web:
            login = web.get("/login")
            script = web.get("/static/reveal.js")
        assert login.status_code == 200 and "<form" in login.text
        assert "script-src 'self'" in login.headers["content-security-policy"]
        assert script.status_code == 200 and "crypto.subtle" in script.text
    finally:
        console.terminate()
        console.wait(timeout=30)
        if console.stderr is not None:
            console.stderr.close()
