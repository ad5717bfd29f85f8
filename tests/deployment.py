"""Shared by the deployment tests (tests/test_<framework>_deploy.py; docs/models.rst,
"Deploying"): each exports the same small model (Linear -> unielu's ELU(1.7)), runs the
artifact where the format allows in a fresh process that never imports unielu, and
compares its outputs with eager ``unielu.elu`` within the contract (5 ULP in float32;
-1e-30 gives -1.7e-30, not 0).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ALPHA = 1.7
#: The model's inputs; its Linear layer is the identity, so the ELU sees these.
INPUTS = np.float32([-30, -1, -1e-6, -1e-30, -0.0, 0, 1e-6, 0.5, 3]).reshape(-1, 1)
TINY = 3  # the row of -1e-30


def expected() -> np.ndarray:
    import unielu

    return np.asarray(unielu.elu(INPUTS.ravel(), ALPHA)).reshape(INPUTS.shape)


def assert_within_contract(got: np.ndarray, label: str) -> None:
    """got (float32) within 5 ULP of eager unielu.elu, -1e-30 kept."""
    want = expected()
    got = np.asarray(got, np.float32).reshape(want.shape)
    spacing = np.spacing(np.abs(want)).astype(np.float64)
    ulps = np.abs(got.astype(np.float64) - want.astype(np.float64)) / spacing
    print(f"\n{label}: max {ulps.max():.2f} ULP from eager unielu.elu")
    assert ulps.max() <= 5, (label, got.ravel(), want.ravel())
    assert got[TINY, 0] == pytest.approx(-ALPHA * 1e-30, rel=1e-6), f"{label}: -1e-30 lost"


def run_fresh(code: str, *files: Path) -> np.ndarray:
    """Run code in a new interpreter without unielu; it saves its outputs as ``y.npy``
    next to the first file. unielu's checkout is not on its path at all."""
    out_path = files[0].parent / "y.npy"
    np.save(files[0].parent / "x.npy", INPUTS)
    prologue = f"import sys, numpy as np\nx = np.load({str(files[0].parent / 'x.npy')!r})\n"
    epilogue = (
        f"\nnp.save({str(out_path)!r}, np.asarray(y, np.float32))\n"
        "assert not any(m == 'unielu' or m.startswith('unielu.') for m in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", prologue + textwrap.dedent(code) + epilogue],
        capture_output=True,
        text=True,
        env=env,
        cwd=files[0].parent,  # not the checkout: unielu cannot be imported from there
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return np.load(out_path)


ONNX_RUN = """
import onnxruntime as ort
session = ort.InferenceSession({path!r})
(y,) = session.run(None, {{session.get_inputs()[0].name: x}})
"""


def keras_model(keras):
    from unielu.layers.keras import ELU

    dense = keras.layers.Dense(1, kernel_initializer="ones", bias_initializer="zeros")
    return keras.Sequential([keras.Input((1,)), dense, ELU(ALPHA)])
