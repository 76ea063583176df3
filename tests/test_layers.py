"""Imports point down, errors form one tree (issue 11).

lint-imports checks the contracts in pyproject.toml ([tool.importlinter]); import-linter has no
contract for cycles between arbitrary modules, so the cycle check walks grimp's graph here.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import grimp
import pytest
import yaml
from harness import BAOMI, REPO, VENV_BIN, free_port

import detectors.errors
import policies.errors
import proxy.errors
from detectors.errors import BaomiError

PACKAGES = ("proxy", "detectors", "policies")


# -- import contracts and cycles -------------------------------------------------------------


def test_import_contracts_are_kept():
    run = subprocess.run([str(VENV_BIN / "lint-imports"), "--no-cache"], cwd=REPO,
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


def import_graph() -> dict[str, set[str]]:
    """module -> modules it imports (TYPE_CHECKING imports included: a cycle hidden there is
    still a cycle), without a package's __init__ importing its own submodules."""
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    return {
        m: {i for i in graph.find_modules_directly_imported_by(m) if not i.startswith(m + ".")}
        for m in graph.modules
    }


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative).

    cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycle_finder_finds_a_cycle_through_three_modules():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"d"}}
    assert cycles(edges) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_no_import_cycles_between_modules():
    assert cycles(import_graph()) == []


# -- one error tree --------------------------------------------------------------------------


def all_subclasses(cls: type) -> set[type]:
    return {sub for direct in cls.__subclasses__() for sub in {direct} | all_subclasses(direct)}


def import_all() -> None:
    """Every module of the three packages, so every error class is defined."""
    import importlib

    for module in sorted(import_graph()):
        if not module.endswith(".__main__"):  # would run the CLI
            importlib.import_module(module)


def test_every_error_class_is_drawn_in_the_tree():
    import_all()
    tree = detectors.errors.__doc__ or ""
    public = {c for c in all_subclasses(BaomiError) if not c.__name__.startswith("_")}
    public = {c for c in public if c.__module__.split(".")[0] in PACKAGES}
    assert {c.__name__ for c in public} <= set(tree.split())
    for cls in public:  # each drawn with the module that defines it
        line = next(line for line in tree.splitlines() if f" {cls.__name__} " in line)
        assert cls.__module__ in line, (cls, line)


def test_each_layer_raises_its_own_errors():
    assert {c.__module__ for c in (detectors.errors.DetectionFailed, detectors.errors.EdmError)} \
        == {"detectors.errors"}
    assert policies.errors.PolicyError.__module__ == "policies.errors"
    assert issubclass(policies.errors.PolicyError, BaomiError)
    # Every name keeps working from where it was imported before.
    for name in proxy.errors.__all__:
        assert issubclass(getattr(proxy.errors, name), BaomiError), name
    from detectors.edm import EdmError
    from proxy.record.incidents.envelope import CannotDecrypt

    assert EdmError is proxy.errors.EdmError and CannotDecrypt is proxy.errors.CannotDecrypt


def error_classes_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
            and any(getattr(b, "id", "").endswith(("Error", "Failed")) for b in node.bases)}


def test_detectors_and_policies_define_no_error_outside_their_errors_module():
    for package in ("detectors", "policies"):
        for path in sorted((REPO / package).rglob("*.py")):
            if path.name != "errors.py":
                assert error_classes_in(path) == set(), path


# -- worker start-up errors reach the admin --------------------------------------------------


@pytest.fixture(scope="module")
def missing_recognizer_policy(tmp_path_factory) -> Path:
    data = yaml.safe_load((REPO / "policies" / "default.yaml").read_text())
    data["detection"]["extra_recognizers"] = ["nope:Missing"]
    path = tmp_path_factory.mktemp("layers") / "policy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return path


def test_run_names_the_extra_recognizer_that_cannot_start(missing_recognizer_policy, tmp_path):
    run = subprocess.run(
        [BAOMI, "run", "--policy", str(missing_recognizer_policy), "--listen-host", "127.0.0.1",
         "--listen-port", str(free_port()), "--data-dir", str(tmp_path), "--workers", "1",
         "--metrics-port", "0"],
        cwd=REPO, capture_output=True, text=True, timeout=180, check=False,
    )
    errors = [line for line in run.stderr.splitlines() if line.startswith("Error: ")]
    assert errors == [(
        "Error: detector worker failed to start: extra recognizer 'nope:Missing': "
        "ModuleNotFoundError: No module named 'nope'"
    )], run.stderr[-3000:]
    assert run.returncode == 1
    assert "Traceback" not in run.stderr



# -- exit codes stay, classes say what went wrong --------------------------------------------


def test_key_store_error_is_not_a_usage_error_and_still_exits_2(tmp_path, capsys):
    from proxy.cli import main

    out = tmp_path / "reviewer-2.pem"
    assert main(["keys", "rotate", "--data-dir", str(tmp_path), "--private-key-out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"Error: no reviewer key in {tmp_path / 'keys'}: run 'baomi keys init' first\n"
    )
    assert not issubclass(proxy.errors.KeyStoreError, proxy.errors.UsageError)
    assert not out.exists()


def test_startup_error_is_not_an_inspection_error():
    # A pool that cannot start must stop `baomi run`, not look like one failed request.
    assert not issubclass(proxy.errors.StartupError, proxy.errors.InspectionError)
    assert proxy.errors.StartupError.exit_code == 1


# Modules outside proxy/cli that check command-line input for their command (each message
# names the flag or argument). A new module raising UsageError must be added here on purpose:
# anything that is not bad command-line input needs its own class in the tree.
USAGE_CHECKED_OUTSIDE_CLI = {
    "proxy/app/ca.py": "--format of `baomi ca export`",
    "proxy/app/run.py": "--set values of `baomi run`",
    "proxy/app/supervisor.py": "--processes N > 1 with a --mode or --listen-port N processes "
                               "cannot share, and a --listen-port already in use",
    "proxy/console/ldap_roles.py": "--ldap-role GROUP=ROLE and --policy of `baomi console`",
    "proxy/console/serve.py": "--listen-host / --tls-cert / --tls-key of `baomi console`",
    "proxy/console/users.py": "NAME, --role, the password of `baomi console users` (and the "
                              "admins' accounts page, which takes the same fields)",
    "proxy/observe/pac.py": "--pac-proxy HOST:PORT (policy entries it cannot express: skipped)",
    "proxy/record/incidents/export.py": "--format of `baomi incidents export`",
    "proxy/record/incidents/keys.py": "--private-key-out / --public-key of `baomi keys rotate`",
    "proxy/record/incidents/periods.py": "a period id given to a command",
    "proxy/record/incidents/review.py": "incident ids, --reason, --status, dates",
    "proxy/tools/scan.py": "the files given to `baomi scan`",
}


def usage_error_raisers() -> set[str]:
    found = set()
    for package in ("proxy", "detectors", "policies"):
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) \
                        and getattr(node.exc.func, "id", None) == "UsageError":
                    found.add(str(path.relative_to(REPO)))
    return found


def test_usage_error_is_only_for_command_line_input():
    outside_cli = {p for p in usage_error_raisers() if not p.startswith("proxy/cli/")}
    assert outside_cli == set(USAGE_CHECKED_OUTSIDE_CLI)


def test_pool_start_names_a_missing_nlp_model():
    import asyncio

    from detectors.config import DetectorConfig
    from proxy.workers.pool import InspectionPool

    pool = InspectionPool(DetectorConfig(nlp_model="baomi_no_such_model"), size=1,
                          start_timeout=120)
    try:
        with pytest.raises(proxy.errors.StartupError) as e:
            asyncio.run(pool.start())
    finally:
        pool.close()
    message = str(e.value)
    assert message.startswith("detector worker failed to start: OSError: ")
    assert "Can't find model 'baomi_no_such_model'" in message
