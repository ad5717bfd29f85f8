"""A backend is its own files: no shared file refers to them, so that deleting
them leaves a consistent project and the diff that adds them touches nothing else
(``python tools/without_backend.py <name> <dest>`` shows both).

A backend's own files are its module, layer, test adapter, tests and docs page
(``tools/without_backend.py``, ``own_files``). The shared pages reach its docs
through the registry (``docs/_ext/backend_pages.py``: the backends toctree, and
links to the sections "Layer", "Implementations", "Deploying" and "Floor" of its
page), and the tests reach it through the adapters. So, for each backend of the
registry, no other text file may hold, outside its generated blocks, what would
break or go stale without those files: ``unielu.layers.<name>`` or
``unielu.backends.<name>`` (autodoc entries, roles, imports), ``backends/<name>``
or ``adapters/<name>`` (``:doc:`` roles, toctree entries, paths),
``--backend=<name>`` or ``tests(<name>`` (test runs), ``tests/test_<name>.py`` or
``tests/test_<name>_*.py`` (tests named by the implementations page).
CHANGELOG.md (history) and benchmarks/*.json (measured output) may. Prose that
names a framework ("MLX") is not a reference and is not checked.

The backends of :data:`NAMED_IN_SHARED_FILES`, older than this layout, are still
named by shared files (their sections of docs/models.rst and docs/api.rst, their
rows of docs/implementations.rst, tests named after them): they are checked to
still be, so that the list only shrinks.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

from unielu._registry import registry

pytestmark = [pytest.mark.framework_free, pytest.mark.once]  # the repository's files
ROOT = Path(__file__).resolve().parent.parent

#: Backends whose docs and tests still live partly in shared files.
NAMED_IN_SHARED_FILES = frozenset(
    {"numpy", "torch", "tensorflow", "keras", "jax", "cupy", "dask", "array_api"}
)


@pytest.fixture(scope="module")
def tool() -> Any:
    """tools/without_backend.py (developer tooling beside the package, loaded from its path)."""
    path = ROOT / "tools" / "without_backend.py"
    spec = importlib.util.spec_from_file_location("unielu_tools_without_backend", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", [spec.name for spec in registry()])
def test_no_shared_file_refers_to_a_backend_s_own_files(tool, name):
    found = tool.references(name, ROOT)
    if name in NAMED_IN_SHARED_FILES:
        assert found, f"{name} is no longer named in shared files: drop it from the list"
    else:
        assert found == [], f"shared files refer to {name}'s own files: move these to them"


def test_a_reference_is_found_where_the_rules_say(tool, tmp_path):
    files = {
        "unielu/backends/box.py": "SPEC = {}\n",
        "docs/backends/box.rst": ":class:`unielu.layers.box.ELU`\n",  # its own page
        "docs/faq.rst": "Box\n===\n\nSee :doc:`backends/box`.\n",
        "docs/api.rst": ".. autoclass:: unielu.layers.box.ELU\n",
        "docs/x.rst": ".. begin generated: t\n\n``tests(box)``\n\n.. end generated: t\n",
        "README.md": "Boxes (``tests/test_boxes.py``, ``backends/boxes``) are fine.\n",
        "CHANGELOG.md": "- ``unielu.layers.box``: added.\n",
        "noxfile.py": "ARGS = ['--backend=box']\n",
        "tests/test_box_deploy.py": "'--backend=box'\n",  # its own tests
        "tests/test_x.py": "'tests/test_box_deploy.py'\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert tool.own_files("box", tmp_path) == [
        "unielu/backends/box.py",
        "docs/backends/box.rst",
        "tests/test_box_deploy.py",
    ]
    assert sorted(tool.references("box", tmp_path)) == [
        "docs/api.rst:1: unielu.layers.box",
        "docs/faq.rst:4: backends/box",
        "noxfile.py:1: --backend=box",
        "tests/test_x.py:1: tests/test_box_deploy.py",
    ]
