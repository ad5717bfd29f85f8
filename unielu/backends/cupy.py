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

# Read by unielu._dispatch from this source, without importing the module: literals only.
SPEC = {
    "name": "cupy",
    "framework": "cupy",
    "requirement": "cupy-cuda12x",
    "priority": 20,
    "types": ["cupy:ndarray"],
    "description": "a CuPy array",
    "mutable": True,
    "needs_gpu": True,
}


# T is the array dtype. CuPy binds type placeholders from array arguments
# only, so alpha arrives as float64 and the compute type C is derived from T
# in C++: float32 for half and single precision, float64 for double.
_PREAMBLE = """
template <typename T> struct unielu_compute { typedef float type; };
template <> struct unielu_compute<double> { typedef double type; };
"""
# The ternary never evaluates expm1/exp for x > 0 (no overflow); NaN takes
# the second branch and stays NaN; -0.0 gives alpha * expm1(-0.0) = -0.0.
_ELU = cp.ElementwiseKernel(
    "T x, float64 alpha",
    "T y",
    "typedef typename unielu_compute<T>::type C;"
    "const C v = (C)x; y = (T)(v > 0 ? v : (C)alpha * expm1(v));",
    "unielu_elu",
    preamble=_PREAMBLE,
)
_DERIVATIVE = cp.ElementwiseKernel(
    "T x, float64 alpha",
    "T y",
    "typedef typename unielu_compute<T>::type C;"
    "const C v = (C)x; y = (T)(v > 0 ? (C)1 : (C)alpha * exp(v));",
    "unielu_elu_derivative",
    preamble=_PREAMBLE,
)


def _launch(kernel: Any, x: Any, alpha: float, func: str) -> Any:
    with x.device:  # the input's GPU, whichever is current
        if x.dtype.kind in "biu":
            x = x.astype(cp.float64)
        elif x.dtype not in (np.float16, np.float32, np.float64):
            raise dtype_error(func, x.dtype, "float64")
        return kernel(x, np.float64(alpha))


def elu(x: Any, alpha: float) -> Any:
    return _launch(_ELU, x, alpha, "elu")


def elu_derivative(x: Any, alpha: float) -> Any:
    return _launch(_DERIVATIVE, x, alpha, "elu_derivative")


def devices() -> list[str]:
    return [f"cuda:{i}" for i in range(cp.cuda.runtime.getDeviceCount())]


def from_numpy(a: Any) -> Any:
    return cp.asarray(a)


def to_numpy(y: Any) -> Any:
    return cp.asnumpy(y)
