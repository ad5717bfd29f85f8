"""Sphinx configuration. The figures are drawn by unielu itself at build time.

The build needs nothing beyond the ``docs`` extra and no network: maths is
rendered to MathML at build time and the links to the frameworks' docs come
from inventories written here (``docs/_ext/offline.py``). The backends' pages
are listed from the registry (``docs/_ext/backend_pages.py``).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import unielu
from unielu._registry import registry

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "_ext"))
import offline  # noqa: E402  (docs/_ext/offline.py)

project = "unielu"
author = "the unielu developers"
copyright = "2026, the unielu developers"
release = version = unielu.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "myst_parser",  # CHANGELOG.md, included by changelog.rst
    "offline",
    "backend_pages",
]
html_math_renderer = "mathml"
intersphinx_mapping = offline.write_inventories(HERE / "_generated" / "intersphinx")
myst_heading_anchors = 2
smartquotes_action = "De"  # dashes and ellipses only: a quoted command pastes as written

html_theme = "pydata_sphinx_theme"
html_title = f"unielu {release}"
html_static_path = ["_static"]
html_css_files = ["unielu.css"]
html_theme_options = {
    "navigation_with_keys": False,
    "header_links_before_dropdown": 6,  # every top-level section in the top bar
    "show_prev_next": False,
    # The search as an icon beside the theme switcher, so that the top bar
    # holds on one line down to the theme's collapse width.
    "navbar_persistent": [],
    "navbar_align": "left",
    "navbar_end": ["search-button", "theme-switcher", "navbar-icon-links"],
    "secondary_sidebar_items": {"**": ["page-toc"], "index": []},
    "icon_links": [
        {
            "name": "Source",
            "url": "https://github.com/unielu/unielu",
            "icon": "fa-brands fa-github",
        }
    ],
}
# Top-level pages with no pages under them get no (empty) section sidebar.
html_sidebars = {page: [] for page in ("index", "getting-started", "benchmarks")}
numpydoc_show_class_members = False
autodoc_typehints = "none"  # numpydoc's Parameters sections say it
exclude_patterns = ["_build", "_generated", "_ext"]  # _generated/*.rst are included, not pages


def _mocked_modules() -> list[str]:
    # The layers' API pages are built without the frameworks: mock every
    # backend's framework (from the registry) and every other top-level module
    # that a backend or layer imports, where this environment lacks it. A new
    # backend therefore needs no edit here.
    names = {spec.framework.split(".")[0] for spec in registry()}
    package = Path(unielu.__file__).parent
    for source in [*package.glob("backends/*.py"), *package.glob("layers/*.py")]:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    names -= set(sys.stdlib_module_names) | {"unielu", "__future__"}
    return sorted(name for name in names if importlib.util.find_spec(name) is None)


autodoc_mock_imports = _mocked_modules()


def _figures() -> None:
    # ELU and its derivative, drawn through unielu's own command.
    static = HERE / "_static"
    for alphas, name in (([1.0], "elu.png"), ([0.5, 1.0, 1.7], "elu-alphas.png")):
        args = [arg for a in alphas for arg in ("--alpha", str(a))]
        subprocess.run(
            [sys.executable, "-m", "unielu", "plot", *args, "-o", str(static / name)],
            check=True,
            stdout=subprocess.DEVNULL,
        )


def _benchmark_tables() -> None:
    # The measured tables (benchmarks/results.json, differences.json), as rst.
    out = HERE / "_generated"
    out.mkdir(exist_ok=True)
    sys.path.insert(0, str(HERE.parent / "benchmarks"))
    import render  # benchmarks/render.py

    results = json.loads((HERE.parent / "benchmarks" / "results.json").read_text())
    (out / "benchmarks.rst").write_text(render.benchmark_rst(results))
    (out / "models.rst").write_text(render.models_rst(results.get("models")))
    render.benchmark_plot(results, HERE / "_static" / "bench.png")
    differences = json.loads((HERE.parent / "benchmarks" / "differences.json").read_text())
    (out / "differences.rst").write_text(render.differences_rst(differences))


_figures()
_benchmark_tables()
