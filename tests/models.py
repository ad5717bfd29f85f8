"""Shared by the model tests (tests/test_<framework>_models.py; docs/models.rst): unielu
inside small models: save and reload, export, and train like the framework's own ELU.

Each model is a few dense layers with unielu's ELU. Training starts from the
same weights as the same model with the framework's own ELU and must give the
same loss curve: the two ELUs are both correct to a few ULP, so the curves
differ by rounding only. Over STEPS plain gradient steps a relative
perturbation of a few ULP grows at most by about (1 + lr * curvature) per step,
which for these well-conditioned problems stays below 1e3 ULP: hence a relative
tolerance of 1e-12 in float64 (eps 2.2e-16) and 1e-4 in float32 (eps 1.2e-7).
The measured differences are printed (``-s``) and are far smaller.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from docs_pages import backend_sections

ROOT = Path(__file__).resolve().parent.parent
STEPS = 40
TOLERANCE = {"float64": 1e-12, "float32": 1e-4}


def data(dtype: str = "float64") -> tuple[np.ndarray, np.ndarray]:
    """A small regression problem with negative pre-activations: y = sin(x0) - x1 * x2 + x3."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4))
    y = np.sin(x[:, :1]) - x[:, 1:2] * x[:, 2:3] + 0.5 * x[:, 3:]
    return x.astype(dtype), y.astype(dtype)


def compare_curves(ours: list[float], theirs: list[float], dtype: str, label: str) -> None:
    ours_a, theirs_a = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    abs_diff = np.abs(ours_a - theirs_a)
    rel_diff = abs_diff / np.abs(theirs_a)
    print(
        f"\n{label} ({dtype}, {STEPS} steps): loss {theirs_a[0]:.4g} -> {theirs_a[-1]:.4g}; "
        f"max abs diff {abs_diff.max():.3g}, max rel diff {rel_diff.max():.3g}"
    )
    assert rel_diff.max() <= TOLERANCE[dtype], (label, rel_diff.max())
    assert ours_a[-1] < 0.5 * ours_a[0], f"{label}: the loss did not clearly decrease: {ours}"


def run_fresh(code: str, **env: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def examples(needs: str) -> list[str]:
    """The Python code blocks that import ``needs`` in docs/models.rst and in the
    "Layer" section of each backend's page."""
    pages = [(ROOT / "docs" / "models.rst").read_text(), *backend_sections("Layer").values()]
    blocks = []
    for chunk in "\n".join(pages).split(".. code-block:: python\n")[1:]:
        lines = []
        for line in chunk.splitlines()[1:]:
            if line and not line.startswith("   "):
                break
            lines.append(line[3:])
        code = "\n".join(lines)
        if f"import {needs}" in code or f"from {needs}" in code:
            blocks.append(code)
    return blocks


def run_examples(needs: str) -> None:
    """Runs the examples of :func:`examples` that import ``needs`` in a fresh process,
    one after the other, each in a namespace of its own (its imports are its own). The
    code's file name has no comma: Paddle's to_static splits its frames' lines on commas."""
    blocks = examples(needs)
    assert blocks, f"neither docs/models.rst nor a backend's Layer section has a {needs} example"
    run_fresh(
        f"""
        for i, code in enumerate({blocks!r}):
            exec(compile(code, f"<docs: {needs} example {{i + 1}}>", "exec"), {{}})
        """
    )


# -- Keras (the backend KERAS_BACKEND picks; the adapter holds the keras module) ------


def keras_model(backend, activation, dtype):
    keras = backend.keras
    keras.utils.set_random_seed(0)
    layers = [keras.Input((4,), dtype=dtype)]
    for width in (16, 16):
        layers += [keras.layers.Dense(width, dtype=dtype), activation(dtype)]
    return keras.Sequential([*layers, keras.layers.Dense(1, dtype=dtype)])


def keras_dtype(backend) -> str:
    return "float64" if "float64" in backend.dtypes else "float32"  # JAX: x64 or not
