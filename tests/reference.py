"""The high-precision reference (mpmath) and ULP measurement the matrix checks against."""

from __future__ import annotations

from functools import cache
from typing import Any

import ml_dtypes
import mpmath
import numpy as np

mpmath.mp.prec = 256

#: (significand bits incl. the implicit one, smallest normal exponent)
FORMATS = {
    "float16": (11, -14),
    "bfloat16": (8, -126),
    "float32": (24, -126),
    "float64": (53, -1022),
}
ALPHAS = (0.0, 0.5, 1.0, 1.7, 3.0)


def numpy_dtype(name: str) -> np.dtype:
    return np.dtype(ml_dtypes.bfloat16 if name == "bfloat16" else name)


def exact_elu(x: float, alpha: float) -> mpmath.mpf:
    x = mpmath.mpf(x)
    return x if x > 0 else mpmath.mpf(alpha) * mpmath.expm1(x)


def exact_derivative(x: float, alpha: float) -> mpmath.mpf:
    x = mpmath.mpf(x)
    return mpmath.mpf(1) if x > 0 else mpmath.mpf(alpha) * mpmath.exp(x)


def exact_second_derivative(x: float, alpha: float) -> mpmath.mpf:
    x = mpmath.mpf(x)
    return mpmath.mpf(0) if x > 0 else mpmath.mpf(alpha) * mpmath.exp(x)


EXACT = {"elu": exact_elu, "elu_derivative": exact_derivative, "second": exact_second_derivative}


def ulp(ref: mpmath.mpf, dtype: str) -> mpmath.mpf:
    """Spacing of ``dtype`` at the exact value ``ref`` (subnormal spacing below the normals)."""
    p, emin = FORMATS[dtype]
    if ref == 0:
        e = emin
    else:
        e = max(int(mpmath.floor(mpmath.log(abs(ref), 2))), emin)
    return mpmath.mpf(2) ** (e - p + 1)


def grid(dtype: str) -> np.ndarray:
    """Finite float64 values, exactly representable in ``dtype``, covering the whole range:
    subnormals, tiny negatives, values near 0, large negatives, up to the maximum."""
    info = ml_dtypes.finfo(numpy_dtype(dtype))
    smallest = float(info.smallest_subnormal)
    largest = float(info.max)
    magnitudes = np.concatenate(
        [
            np.exp2(np.linspace(np.log2(smallest), np.log2(largest), 160)[:-1]),
            [largest, smallest, 2 * smallest, 3 * smallest, float(info.smallest_normal)],
            2.0 ** -np.arange(1, FORMATS[dtype][0] + 8),  # near zero, down past eps
            [0.1, 0.5, 0.9, 1.0, 1.5, 2.0, 5.0, 10.0, 17.0, 18.0, 20.0, 30.0, 50.0],
            [87.0, 88.0, 100.0, 104.0, 700.0, 709.0, 745.0, 746.0, 1e10],
        ]
    )
    rng = np.random.default_rng(0)
    values = np.concatenate([magnitudes, -magnitudes, [0.0, -0.0], rng.normal(0, 4, 200)])
    values = values[np.abs(values) <= largest]
    rounded = values.astype(numpy_dtype(dtype)).astype(np.float64)
    return np.unique(rounded[np.isfinite(rounded)])


@cache
def reference(func: str, dtype: str, alpha: float) -> tuple[np.ndarray, tuple[mpmath.mpf, ...]]:
    x = grid(dtype)
    return x, tuple(EXACT[func](v, alpha) for v in x.tolist())


def ulp_errors(
    got: np.ndarray, func: str, dtype: str, alpha: float, flush_subnormals: bool = False
) -> np.ndarray:
    """ULP error of ``got`` (float64 values of a result on ``grid(dtype)``) per element.

    With ``flush_subnormals``, a 0 where the exact value is subnormal counts as exact.
    """
    x, exact = reference(func, dtype, alpha)
    smallest_normal = mpmath.mpf(2) ** FORMATS[dtype][1]
    errors = np.empty(len(x))
    for i, (y, ref) in enumerate(zip(got.tolist(), exact, strict=True)):
        if np.isnan(y) or np.isinf(y):
            errors[i] = np.inf
        elif flush_subnormals and y == 0 and abs(ref) < smallest_normal:
            errors[i] = 0.0
        else:
            errors[i] = float(abs(mpmath.mpf(y) - ref) / ulp(ref, dtype))
    return errors


def float32_sweep_worst_ulp(
    compute: Any, func: str, alpha: float, stride: int, flush_subnormals: bool = False
) -> float:
    """Worst error, in float32 ULP, of ``compute(x, alpha)`` (float64 values) over
    every ``stride``-th float32 in [-104, 0), against float64 with alpha as the
    float32 it is computed with: float64's own error is ~2**-29 of a float32 ULP.
    Subnormal results are measured in their own spacing; with ``flush_subnormals``
    (the contract allows it on some backends) a zero in their place counts as exact."""
    a = float(np.float32(alpha))
    stop = int(np.float32(-104.0).view(np.uint32))
    worst = 0.0
    for start in range(0x80000000, stop + 1, stride << 22):
        end = min(start + (stride << 22), stop + 1)
        x = np.arange(start, end, stride, dtype=np.uint64).astype(np.uint32).view(np.float32)
        got = np.asarray(compute(x, alpha), dtype=np.float64)
        x64 = x.astype(np.float64)
        exact = a * (np.expm1(x64) if func == "elu" else np.exp(x64))
        exponent = np.maximum((exact.view(np.int64) >> 52) & 0x7FF, 1023 - 126)
        spacing = ((exponent - 23) << 52).view(np.float64)
        errors = np.abs(got - exact) / spacing
        if flush_subnormals:
            errors[(np.abs(exact) < 2.0**-126) & (got == 0)] = 0
        worst = max(worst, float(errors.max()))
    return worst


@cache
def float64_sample() -> np.ndarray:
    """20,000 float64 below zero: half log-uniform in [-40, -1e-10], half uniform in
    [-1, 0), where runtimes' own float64 expm1 err most."""
    rng = np.random.default_rng(20261201)
    log_uniform = -np.exp(rng.uniform(np.log(1e-10), np.log(40.0), 10_000))
    return np.concatenate([log_uniform, -rng.uniform(0.0, 1.0, 10_000)])


@cache
def _float64_sample_exact(func: str) -> tuple[mpmath.mpf, ...]:
    """``expm1`` (elu) or ``exp`` (elu_derivative) of :func:`float64_sample`, exactly."""
    f = mpmath.expm1 if func == "elu" else mpmath.exp
    return tuple(f(mpmath.mpf(v)) for v in float64_sample().tolist())


def float64_sample_worst_ulp(got: np.ndarray, func: str, alpha: float) -> tuple[float, float]:
    """Worst error, in float64 ULP, of ``got`` (a result on :func:`float64_sample`),
    and the x where it is."""
    a = mpmath.mpf(alpha)
    exact = [a * e for e in _float64_sample_exact(func)]
    spacing = np.spacing(np.abs(np.array([float(e) for e in exact])))
    pairs = zip(got.tolist(), exact, strict=True)
    difference = np.array([float(abs(mpmath.mpf(y) - e)) for y, e in pairs])
    errors = difference / spacing
    i = int(np.argmax(errors))
    return float(errors[i]), float(float64_sample()[i])
