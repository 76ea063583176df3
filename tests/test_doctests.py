"""Every `>>>` example in proxy/, detectors/ and policies/ runs, and shows what it says.

A docstring example that is written as `>>>` is a promise that it runs: one that needs a running
proxy, a big model or files on disk is written as a plain, indented example instead. So each
module is checked twice: its examples pass, and every `>>>` line in its source was run (not
skipped with `+SKIP`, not hidden where doctest does not look, such as a nested function).

Here rather than `--doctest-modules`, so that `make test` (which runs `pytest tests`) and a
single `pytest tests/test_doctests.py` both run them.
"""

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("proxy", "detectors", "policies")


def _modules_with_examples() -> list[str]:
    """Dotted names of our modules whose source has a `>>>` line (read, not imported)."""
    names = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name == "__main__.py" or _example_lines(path) == 0:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _example_lines(path: Path) -> int:
    return sum(line.lstrip().startswith(">>>") for line in path.read_text("utf-8").splitlines())


def test_the_packages_have_examples():
    # Guards the parametrisation below: a wrong root would silently check nothing.
    assert len(_modules_with_examples()) >= 10


@pytest.mark.parametrize("name", _modules_with_examples())
def test_examples_run(name):
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report: list[str] = []
    ran = 0
    for test in doctest.DocTestFinder().find(module):
        runner.run(test, out=report.append)
        ran += sum(not example.options.get(doctest.SKIP) for example in test.examples)
    assert runner.failures == 0, "".join(report)
    written = _example_lines(Path(module.__file__))
    assert ran == written, (
        f"{written} '>>>' lines in {name}, {ran} run: write examples that cannot run here"
        " as plain text, not as '>>>' with +SKIP or where doctest does not look"
    )
