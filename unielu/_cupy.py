"""CuPy backend: one fused elementwise kernel per function, on the input's GPU.

Each kernel reads the input once and writes the output once (a ``where`` /
``expm1`` / ``minimum`` composition would make four or five passes). It runs
with the input's device current and on the current stream, without a host
synchronisation. float16 is computed in float32 and rounded once; CuPy
compiles each kernel once per dtype and caches it.
"""

from __future__ import annotations

from typing import Any

import cupy as cp
import numpy as np

from unielu._dispatch import dtype_error

NAME = "cupy"

# T: the array dtype; C: the compute dtype, chosen by the dtype of alpha.
# The ternary never evaluates expm1/exp for x > 0 (no overflow); NaN takes
# the second branch and stays NaN; -0.0 gives alpha * expm1(-0.0) = -0.0.
_ELU = cp.ElementwiseKernel(
    "T x, C alpha",
    "T y",
    "const C v = (C)x; y = (T)(v > 0 ? v : alpha * expm1(v));",
    "unielu_elu",
)
_DERIVATIVE = cp.ElementwiseKernel(
    "T x, C alpha",
    "T y",
    "const C v = (C)x; y = (T)(v > 0 ? (C)1 : alpha * exp(v));",
    "unielu_elu_derivative",
)


def _launch(kernel: Any, x: Any, alpha: float, func: str) -> Any:
    with x.device:  # the input's GPU, whichever is current
        if x.dtype.kind in "biu":
            x = x.astype(cp.float64)
        elif x.dtype not in (np.float16, np.float32, np.float64):
            raise dtype_error(func, x.dtype, "float64")
        compute = np.float64 if x.dtype == np.float64 else np.float32
        return kernel(x, compute(alpha))


def elu(x: Any, alpha: float) -> Any:
    return _launch(_ELU, x, alpha, "elu")


def elu_derivative(x: Any, alpha: float) -> Any:
    return _launch(_DERIVATIVE, x, alpha, "elu_derivative")
