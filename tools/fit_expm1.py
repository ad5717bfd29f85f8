"""Fits the polynomials of ``unielu.backends._formulas.expm1_reduced`` and checks them.

``python tools/fit_expm1.py`` prints, for float32 and float64, the coefficients
of a Chebyshev fit (to paste into ``_EXPM1_Q``) and those in use, the same for
``expm1_portable``'s polynomial on [-0.75, 0] (``_PORTABLE_Q``), then runs
``expm1_reduced`` itself in NumPy's arithmetic and prints its largest error in
ULP: over every float32 in [-20, 0) (``--step N``: every Nth), and over
``--samples`` float64 (log-uniform in [-40, -1e-10], and uniform in [-1, 0])
against long double's expm1. The JAX and TensorFlow runtimes are checked by
``tests/test_conformance.py::test_float32_within_the_contract_over_the_negative_floats``
and ``test_float64_within_the_contract_near_zero``.

Needs NumPy and mpmath (the test extra), and a long double wider than float64
(x86-64) for the float64 check.
"""

from __future__ import annotations

import argparse

import mpmath
import numpy as np

from unielu.backends import _formulas

NUMPY_OPS = _formulas.Ops(
    where=np.where,
    exp=np.exp,
    isnan=np.isnan,
    bits=lambda w: w.view(np.int32 if w.dtype == np.float32 else np.int64),
    from_bits=lambda i, like: np.asarray(i).view(like.dtype),
    rint=np.rint,
    to_int=lambda k: k.astype(np.int32 if k.dtype == np.float32 else np.int64),
)
DEGREE = {"float32": 4, "float64": 9}  # the same for both polynomials


def _q(r: mpmath.mpf) -> mpmath.mpf:
    """(expm1(r) - r - r**2/2) / r**3, from its series (no cancellation at 0)."""
    total, term, j = mpmath.mpf(0), mpmath.mpf(1) / 6, 3
    while abs(term) > mpmath.mpf(10) ** -45:
        total, j = total + term, j + 1
        term = term * r / j
    return total


def fit(dtype: str, portable: bool = False) -> tuple[float, ...]:
    """Q of expm1(r) = r + r**2/2 + r**3 Q(r) on [-log(2)/2, log(2)/2] (on
    [-0.75, 0] for ``portable``), lowest degree first, rounded to ``dtype``."""
    mpmath.mp.dps = 50
    half = mpmath.log(2) / 2
    interval = [mpmath.mpf(-0.75), 0] if portable else [-half, half]
    poly = mpmath.chebyfit(lambda r: _q(mpmath.mpf(r)), interval, DEGREE[dtype] + 1)
    return tuple(float(np.dtype(dtype).type(float(c))) for c in reversed(poly))


def _ulps(x: np.ndarray, exact: np.ndarray) -> np.ndarray:
    y = _formulas.expm1_reduced(x, NUMPY_OPS, x.dtype.name)
    spacing = np.spacing(np.abs(exact).astype(x.dtype))
    return np.asarray(np.abs(y - exact) / spacing, np.float64)


def worst_float32(step: int) -> tuple[float, float]:
    lowest = int(np.float32(-20.0).view(np.int32))  # negative floats: the bits run down
    highest = int(np.float32(-np.finfo(np.float32).smallest_subnormal).view(np.int32))
    worst, at = 0.0, 0.0
    for start in range(highest, lowest, 1 << 24):
        bits = np.arange(start, min(start + (1 << 24), lowest), step, dtype=np.int64)
        x = bits.astype(np.int32).view(np.float32)
        with np.errstate(under="ignore"):
            error = _ulps(x, np.expm1(x.astype(np.float64)))
        i = int(np.argmax(error))
        if error[i] > worst:
            worst, at = float(error[i]), float(x[i])
    return worst, at


def worst_float64(samples: int) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    x = np.concatenate([
        -np.exp(rng.uniform(np.log(1e-10), np.log(40.0), samples // 2)),
        -rng.uniform(0.0, 1.0, samples // 2),
    ])  # fmt: skip
    error = _ulps(x, np.expm1(x.astype(np.longdouble)))
    i = int(np.argmax(error))
    return float(error[i]), float(x[i])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=int, default=1)
    parser.add_argument("--samples", type=int, default=10_000_000)
    args = parser.parse_args()
    for dtype in ("float32", "float64"):
        print(f"{dtype} fitted: {fit(dtype)}")
        print(f"{dtype} in use: {_formulas._EXPM1_Q[dtype]}")
        print(f"{dtype} portable, fitted: {fit(dtype, portable=True)}")
        print(f"{dtype} portable, in use: {_formulas._PORTABLE_Q[dtype]}")
    worst, at = worst_float32(args.step)
    print(f"float32, every {args.step}th in [-20, 0): {worst:.3f} ULP at most, at {at!r}")
    if np.finfo(np.longdouble).nmant <= 52:
        print("float64: not checked, long double is no wider than float64 here")
        return
    worst, at = worst_float64(args.samples)
    print(f"float64, {args.samples} samples: {worst:.3f} ULP at most, at {at!r}")


if __name__ == "__main__":
    main()
