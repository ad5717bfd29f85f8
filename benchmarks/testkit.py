"""The test adapters (``tests/adapters/``) and the reference helpers
(``tests/reference.py``), for the scripts in benchmarks/: the one place that puts
``tests/`` on ``sys.path``, as pytest does for the tests, so that ``adapter`` and
``reference`` import as they do there. Import them from here.

Developer tooling: the installed package holds no test code and never edits
``sys.path``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

import reference  # noqa: E402
from adapter import ADAPTERS, Adapter  # noqa: E402

__all__ = ["ADAPTERS", "ROOT", "TESTS", "Adapter", "reference"]
