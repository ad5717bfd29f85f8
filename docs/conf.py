"""Sphinx configuration. The figures are drawn by unielu itself at build time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import unielu

HERE = Path(__file__).parent
project = "unielu"
author = "the unielu developers"
copyright = "2026, the unielu developers"
release = version = unielu.__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.mathjax", "numpydoc"]
html_theme = "pydata_sphinx_theme"
html_static_path = ["_static"]
html_theme_options = {"navigation_with_keys": False}
numpydoc_show_class_members = False
autodoc_typehints = "none"  # numpydoc's Parameters sections say it
# The layers' API pages, without installing every framework into the docs environment.
autodoc_mock_imports = ["torch", "keras", "flax", "jax", "mlx", "onnx", "onnxscript", "paddle"]
exclude_patterns = ["_build", "_generated"]  # _generated/*.rst are included, not pages


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
