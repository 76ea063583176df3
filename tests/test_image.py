"""The container image (deploy/Dockerfile) run with podman: block, mask and allow through it.

Opt-in, because building the image needs root, podman, mmdebstrap and a few minutes of package
downloads: `make test-image` builds it (deploy/image/build.sh) and runs this module with
BAOMI_IMAGE set; without BAOMI_IMAGE every test here is skipped. The container uses the host's
network (no CNI/netavark needed) and listens on free loopback ports; its data dir is a temp dir
owned by the image's user (uid 10001), bind-mounted at /var/lib/baomi.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from harness import BaomiProcess, free_port

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not os.environ.get("BAOMI_IMAGE") or shutil.which("podman") is None,
                       reason="set BAOMI_IMAGE (make test-image builds it) and install podman"),
]

IMAGE = os.environ.get("BAOMI_IMAGE", "")
UID = 10001  # deploy/Dockerfile USER
RESIDENT_ID = "11010519491231002X"
MOBILE = "13800138000"


def podman(*args: str) -> list[str]:
    runtime = os.environ.get("PODMAN_RUNTIME")
    return ["podman", *(["--runtime", runtime] if runtime else []), *args]


def run_flags() -> list[str]:
    """podman asks for rlimits above what this host grants without CAP_SYS_RESOURCE, and
    container start fails; ask for ours instead. nproc: podman itself (so conmon and runc) runs
    with at most kernel.pid_max processes, and a child cannot be given more."""
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    _, nofile = resource.getrlimit(resource.RLIMIT_NOFILE)
    _, nproc = resource.getrlimit(resource.RLIMIT_NPROC)
    nproc = pid_max if nproc == resource.RLIM_INFINITY else min(nproc, pid_max)
    # No systemd here for podman's HEALTHCHECK timers; test_healthcheck runs the command itself.
    return ["--rm", "--network", "host", "--no-healthcheck", "--ulimit",
            f"nofile={nofile}:{nofile}", "--ulimit", f"nproc={nproc}:{nproc}"]


class ContainerBaomi(BaomiProcess):
    """The harness's `baomi run`, as the image's entrypoint in a container (`podman run` stays
    in the foreground and passes SIGTERM on to baomi)."""

    def __init__(self, data_dir: Path, upstream_ca: Path, **kwargs):
        super().__init__("/etc/baomi/policy.yaml", data_dir,
                         upstream_ca=Path("/run/upstream-ca.pem"), **kwargs)
        baomi_args = self.args[1:]
        baomi_args[baomi_args.index("--data-dir") + 1] = "/var/lib/baomi"
        self.name = f"baomi-test-{self.port}"
        self.args = podman("run", *run_flags(), "--name", self.name,
                           "-v", f"{data_dir}:/var/lib/baomi",
                           "-v", f"{upstream_ca}:/run/upstream-ca.pem:ro", IMAGE, *baomi_args)


def inspect() -> dict:
    done = subprocess.run(podman("image", "inspect", IMAGE), capture_output=True, text=True,
                          timeout=60, check=True)
    return json.loads(done.stdout)[0]


def image_data_dir(path: Path) -> Path:
    path.mkdir(mode=0o700)
    os.chown(path, UID, UID)
    return path


@pytest.fixture(scope="module")
def container(tmp_path_factory, upstream_ca):
    data_dir = image_data_dir(tmp_path_factory.mktemp("image") / "data")
    with ContainerBaomi(data_dir, upstream_ca.pem, metrics_port=free_port()) as px:
        yield px


@pytest.fixture(scope="module")
def client(container):
    ctx = ssl.create_default_context(cafile=container.ca_pem)
    with httpx.Client(proxy=container.url, verify=ctx, timeout=60) as c:
        yield c


def test_container_blocks_masks_and_allows(container, client, https_up):
    before = len(https_up.received)
    blocked = client.post(https_up.url("/api/customers"), json={"id_card": RESIDENT_ID})
    assert blocked.status_code == 403 and len(https_up.received) == before
    assert blocked.headers["x-baomi-incident"].startswith("BM-")

    masked = client.post(https_up.url("/api/contacts"), json={"phone": MOBILE})
    assert masked.status_code == 200
    # The mask's exact form is tests/test_mask.py's business; here: masked, not dropped.
    phone = json.loads(https_up.received[-1].body)["phone"]
    assert phone != MOBILE and phone.startswith("138") and "*" in phone

    clean = b'{"order": "A-1001"}'
    allowed = client.post(https_up.url("/api/orders"), content=clean,
                          headers={"content-type": "application/json"})
    assert allowed.status_code == 200 and https_up.received[-1].body == clean


def test_container_runs_as_the_image_user_and_keeps_the_ca_key_private(container):
    ca_dir = container.data_dir / "ca"
    key = ca_dir / "mitmproxy-ca.pem"
    assert (ca_dir.stat().st_uid, key.stat().st_uid) == (UID, UID)
    assert (ca_dir.stat().st_mode & 0o777, key.stat().st_mode & 0o777) == (0o700, 0o600)


def test_ca_export_from_the_image(container):
    done = subprocess.run(
        podman("run", *run_flags(), "-v", f"{container.data_dir}:/var/lib/baomi", IMAGE,
               "ca", "export", "--data-dir", "/var/lib/baomi", "--out", "-"),
        capture_output=True, timeout=120, check=True)
    served = x509.load_pem_x509_certificate(Path(container.ca_pem).read_bytes())
    assert x509.load_pem_x509_certificate(done.stdout) == served


def test_healthcheck_probes_the_metrics_port_and_passes_on_the_running_container(container):
    image = inspect()
    check, command = image["Healthcheck"]["Test"], image["Config"]["Cmd"]
    url = f"http://127.0.0.1:{command[command.index('--metrics-port') + 1]}/healthz"
    assert check[:3] == ["CMD", "python", "-c"] and url in check[3]
    # The same command inside the running container, pointed at the port this test chose.
    probe = check[3].replace(url, f"http://127.0.0.1:{container.metrics_port}/healthz")
    done = subprocess.run(podman("exec", container.name, "python", "-c", probe),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
