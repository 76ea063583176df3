"""The proxy process stays light: the detectors' heavy dependencies load in workers only.

Each proxy process (``--processes N``) selects segments in-process (``detectors.batch``);
importing jieba, Presidio or spaCy there would cost ~100 MB per process for nothing.
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("presidio_analyzer", "spacy", "jieba", "detectors.engine", "detectors.recognizers")
PROXY = ("proxy.app.run", "proxy.app.child", "proxy.app.supervisor", "proxy.hook.addon",
         "proxy.workers.pool", "proxy.workers.triage")


def test_proxy_process_imports_no_detector_dependencies():
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in PROXY)
        + f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == []


def test_the_check_sees_a_heavy_import():
    """Control: the same probe notices when the recognizers are imported."""
    code = "import sys, detectors.engine\nprint('jieba' in sys.modules or 'presidio_analyzer' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
