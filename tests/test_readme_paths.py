"""Every source path the README names exists (its data-flow table is how newcomers find a
step of the pipeline; a moved module must not leave it pointing nowhere)."""

from __future__ import annotations

import re

from harness import REPO

PATH = re.compile(r"`((?:proxy|detectors|policies|deploy|bench|tests)/[\w./*-]*)`")


def test_every_path_the_readme_names_exists() -> None:
    named = set(PATH.findall((REPO / "README.md").read_text()))
    assert len(named) > 30  # the data-flow table is still there
    missing = sorted(p for p in named if not list(REPO.glob(p.rstrip("/"))))
    assert missing == []
