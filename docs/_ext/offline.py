"""Sphinx helpers that keep the docs build offline.

* Maths is rendered at build time to MathML (docutils' own LaTeX converter),
  which browsers display natively: no MathJax from a CDN, no LaTeX install.
* Links to NumPy, PyTorch, TensorFlow, JAX, Keras and Python come from small
  inventories written here from :data:`TARGETS` (intersphinx reads them like a
  project's ``objects.inv``), so ``:class:`torch.nn.ELU``` links without the
  build fetching anything.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.utils.math import latex2mathml

# project: (base URL, {name: (role, path under the base URL)}). Key APIs only,
# those the docs name; a name missing here renders as plain code, never fails.
TARGETS: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {
    "python": (
        "https://docs.python.org/3/",
        {
            name: ("exception", f"library/exceptions.html#{name}")
            for name in ("ImportError", "TypeError", "ValueError", "RuntimeError")
        },
    ),
    "numpy": (
        "https://numpy.org/doc/stable/",
        {
            "numpy.ndarray": ("class", "reference/generated/numpy.ndarray.html"),
            "numpy.ufunc": ("class", "reference/generated/numpy.ufunc.html"),
            "numpy.float32": ("class", "reference/arrays.scalars.html#numpy.float32"),
            **{
                f"numpy.{name}": ("function", f"reference/generated/numpy.{name}.html")
                for name in ("exp", "expm1", "where", "copyto", "asarray", "show_runtime")
            },
        },
    ),
    "torch": (
        "https://docs.pytorch.org/docs/stable/",
        {
            "torch.Tensor": ("class", "tensors.html#torch.Tensor"),
            "torch.nn.ELU": ("class", "generated/torch.nn.ELU.html"),
            "torch.nn.PReLU": ("class", "generated/torch.nn.PReLU.html"),
            "torch.nn.Module": ("class", "generated/torch.nn.Module.html"),
            "torch.nn.Parameter": ("class", "generated/torch.nn.parameter.Parameter.html"),
            "torch.nn.functional.elu": ("function", "generated/torch.nn.functional.elu.html"),
            "torch.expm1": ("function", "generated/torch.expm1.html"),
            "torch.compile": ("function", "generated/torch.compile.html"),
            "torch.export.export": ("function", "export.html#torch.export.export"),
            "torch.onnx.export": ("function", "onnx_export.html#torch.onnx.export"),
        },
    ),
    "tensorflow": (
        "https://www.tensorflow.org/api_docs/python/",
        {
            f"{prefix}.{name}": (role, f"tf/{name.replace('.', '/')}")
            for prefix in ("tf", "tensorflow")
            for name, role in (
                ("nn.elu", "function"),
                ("math.expm1", "function"),
                ("Tensor", "class"),
                ("Variable", "class"),
                ("GradientTape", "class"),
                ("function", "function"),
            )
        },
    ),
    "jax": (
        "https://docs.jax.dev/en/latest/",
        {
            name: (role, f"_autosummary/{name}.html")
            for name, role in (
                ("jax.nn.elu", "function"),
                ("jax.Array", "class"),
                ("jax.jit", "function"),
                ("jax.grad", "function"),
                ("jax.vmap", "function"),
                ("jax.numpy.expm1", "function"),
            )
        },
    ),
    "keras": (
        "https://keras.io/api/",
        {
            "keras.layers.ELU": ("class", "layers/activation_layers/elu/"),
            "keras.layers.Layer": ("class", "layers/base_layer/"),
            "keras.Layer": ("class", "layers/base_layer/"),
            "keras.Input": ("function", "layers/core_layers/input/"),
            "keras.KerasTensor": ("class", "layers/core_layers/input/"),
            "keras.activations.elu": ("function", "layers/activations/#elu-function"),
            "keras.ops.elu": ("function", "ops/nn/#elu-function"),
        },
    ),
}


def write_inventories(folder: Path) -> dict[str, tuple[str, str]]:
    """Writes one inventory per project of :data:`TARGETS`; returns ``intersphinx_mapping``."""
    folder.mkdir(parents=True, exist_ok=True)
    mapping = {}
    for project, (base, targets) in TARGETS.items():
        lines = "".join(
            f"{name} py:{role} 1 {path} -\n" for name, (role, path) in sorted(targets.items())
        )
        header = (
            "# Sphinx inventory version 2\n"
            f"# Project: {project}\n# Version: \n"
            "# The remainder of this file is compressed using zlib.\n"
        )
        path = folder / f"{project}.inv"
        path.write_bytes(header.encode() + zlib.compress(lines.encode()))
        mapping[project] = (base, str(path))
    return mapping


def _mathml(latex: str, block: bool) -> str:
    return latex2mathml.tex2mathml(latex, as_block=block)


def _visit_inline(self: Any, node: nodes.Element) -> None:
    self.body.append(f'<span class="math">{_mathml(node.astext(), False)}</span>')
    raise nodes.SkipNode


def _visit_block(self: Any, node: nodes.Element) -> None:
    if node.get("label"):
        self.body.append(f'<span class="eqno">({node["number"]})</span>')
    self.body.append(f'<div class="math">{_mathml(node.astext(), True)}</div>')
    raise nodes.SkipNode


def setup(app: Any) -> dict[str, Any]:
    app.add_html_math_renderer("mathml", (_visit_inline, None), (_visit_block, None))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
