"""deploy/Dockerfile and deploy/compose: what can be checked without a Docker engine.

The YAML parses, every file the compose file and the Dockerfile refer to exists, the image runs
as a non-root user, and the command lines in the Dockerfile, the Kubernetes Deployment and the
systemd unit are accepted by baomi's real argument parser.
"""

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from proxy.cli import build_parser

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
COMPOSE_DIR = DEPLOY / "compose"
COMPOSE = COMPOSE_DIR / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped.

    A parser library would add a dependency for what these checks need: names and arguments.
    """
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, args = line.partition(" ")
            found.append((name.upper(), args.strip()))
    return found


def first(name: str) -> str:
    return next(args for key, args in instructions(DOCKERFILE) if key == name)


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_has_the_three_services():
    assert set(compose()["services"]) == {"baomi", "prometheus", "grafana"}


def bind_sources() -> list[str]:
    sources = []
    for service in compose()["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                sources.append(source)
    return sources


@pytest.mark.parametrize("source", bind_sources())
def test_compose_bind_mounts_exist(source):
    assert (COMPOSE_DIR / source).exists()


def test_compose_build_points_at_the_dockerfile():
    build = compose()["services"]["baomi"]["build"]
    context = (COMPOSE_DIR / build["context"]).resolve()
    assert context == REPO
    assert (context / build["dockerfile"]).resolve() == DOCKERFILE


def test_compose_baomi_service_is_locked_down():
    baomi = compose()["services"]["baomi"]
    assert baomi["read_only"] is True and baomi["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in baomi["security_opt"]
    assert not baomi["user"].startswith("0")


def test_compose_grafana_mounts_dashboards_where_provisioning_looks():
    provisioning = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "baomi.yaml").read_text()
    )
    path = provisioning["providers"][0]["options"]["path"]
    mounts = dict(v.split(":")[:2][::-1] for v in compose()["services"]["grafana"]["volumes"])
    assert (COMPOSE_DIR / mounts[path] / "baomi.json").is_file()


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool missing (tests/deps/)")
def test_compose_prometheus_config_checks(tmp_path):
    # Inside the container the rules sit at /etc/prometheus/rules; point promtool at the repo's.
    config = (COMPOSE_DIR / "prometheus.yml").read_text()
    rules = str(DEPLOY / "prometheus" / "rules")
    assert "/etc/prometheus/rules/" in config
    (tmp_path / "prometheus.yml").write_text(config.replace("/etc/prometheus/rules", rules))
    done = subprocess.run(
        ["promtool", "check", "config", str(tmp_path / "prometheus.yml")],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    volumes = compose()["services"]["prometheus"]["volumes"]
    assert "./prometheus.yml:/etc/prometheus/prometheus.yml:ro" in volumes


# --- Dockerfile -----------------------------------------------------------------------------


def test_dockerfile_bases_on_python_312_slim():
    # Both stages on one base, python:3.12-slim unless --build-arg PYTHON_IMAGE says otherwise
    # (deploy/image/build.sh: a Debian base made without a registry).
    assert [args for key, args in instructions(DOCKERFILE) if key == "FROM"] == [
        "${PYTHON_IMAGE} AS build",
        "${PYTHON_IMAGE}",
    ]
    assert ("ARG", "PYTHON_IMAGE=python:3.12-slim") in instructions(DOCKERFILE)


def test_dockerfile_runs_as_the_baomi_user():
    [user] = [args for key, args in instructions(DOCKERFILE) if key == "USER"]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000
    assert any(f"--uid {uid}" in args for key, args in instructions(DOCKERFILE) if key == "RUN")


def ignored(path: str) -> bool:
    patterns = [
        line.strip()
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return any(fnmatch.fnmatch(path, p) or path.startswith(p + "/") for p in patterns)


def copy_sources() -> list[str]:
    sources = []
    for key, args in instructions(DOCKERFILE):
        if key == "COPY" and not args.startswith("--from"):
            sources += args.split()[:-1]
    return sources


@pytest.mark.parametrize("source", copy_sources())
def test_dockerfile_copies_files_that_exist_in_the_context(source):
    assert (REPO / source).exists()
    assert not ignored(source)


def test_dockerfile_installs_everything_pyproject_packages():
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    find = project["tool"]["setuptools"]["packages"]["find"]
    packages = {pattern.rstrip("*") for pattern in find["include"]}
    copied = set(copy_sources())
    assert packages <= copied
    assert project["project"]["readme"] in copied


def exec_form(args: str) -> list[str]:
    return json.loads(args)


def test_image_command_is_baomi_run_with_a_valid_command_line():
    assert exec_form(first("ENTRYPOINT")) == ["baomi"]
    command = exec_form(first("CMD"))
    args = build_parser().parse_args(command)
    assert (args.command, args.listen_port, args.metrics_port) == ("run", 8080, 9464)
    assert str(args.data_dir) == "/var/lib/baomi" and args.policy == "/etc/baomi/policy.yaml"


# --- the same command line everywhere -------------------------------------------------------


def test_kubernetes_args_parse():
    deployment = yaml.safe_load((DEPLOY / "k8s" / "deployment.yaml").read_text())
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    args = build_parser().parse_args(container["args"])
    assert (args.command, args.mode, args.metrics_host) == ("run", "regular", "0.0.0.0")


def systemd_command(key: str) -> list[str]:
    unit = re.sub(r"\\\n\s*", " ", (DEPLOY / "systemd" / "baomi.service").read_text())
    env = {}
    for value in re.findall(r"^Environment=(.*)$", unit, re.MULTILINE):
        env.update(item.split("=", 1) for item in shlex.split(value))
    line = re.search(rf"^{key}=(.*)$", unit, re.MULTILINE).group(1)
    expanded = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], line)
    return shlex.split(expanded)[1:]  # drop the binary


@pytest.mark.parametrize("key,command", [("ExecStart", "run"), ("ExecStartPre", "policy")])
def test_systemd_command_lines_parse(key, command):
    args = build_parser().parse_args(systemd_command(key))
    assert args.command == command


# --- deploy/README.md -----------------------------------------------------------------------


def test_readme_links_and_named_files_resolve():
    readme = (DEPLOY / "README.md").read_text()
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")
        for heading in re.findall(r"^#+ (.*)$", readme, re.MULTILINE)
    }
    for anchor in re.findall(r"\]\(#([^)]+)\)", readme):
        assert anchor in anchors, anchor
    named = re.findall(
        r"`((?:transparent|systemd|k8s|pac|compose|prometheus|grafana)/[^`]*)`", readme
    )
    assert named
    for path in named:
        assert (DEPLOY / path).exists(), path
