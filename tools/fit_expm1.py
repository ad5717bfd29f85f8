"""Fits the polynomial of ``unielu.backends._formulas.expm1_float32`` and checks it.

``python tools/fit_expm1.py`` prints the coefficients a fit gives (to paste into
``_EXPM1_Q``), then runs ``expm1_float32`` itself, in NumPy's float32 arithmetic,
over every float32 in [-20, 0) (``--step N``: every Nth) and prints its largest
error in ULP against float64's expm1. The JAX and TensorFlow runtimes are checked
by ``tests/test_conformance.py::test_float32_within_the_contract_over_the_negative_floats``.

Needs NumPy and mpmath (the test extra).
"""

from __future__ import annotations

import argparse

import mpmath
import numpy as np

from unielu.backends import _formulas

NUMPY_OPS = _formulas.Ops(
    where=np.where,
    expm1=np.expm1,
    exp=np.exp,
    isnan=np.isnan,
    bits=lambda w: w.view(np.int32),
    from_bits=lambda i, like: np.asarray(i, np.int32).view(like.dtype),
    rint=np.rint,
    to_int32=lambda k: k.astype(np.int32),
)


def fit(degree: int) -> np.ndarray:
    """Q of expm1(r) = r + r**2/2 + r**3 Q(r) on [-log(2)/2, log(2)/2], least squares
    on the relative error of expm1 at Chebyshev nodes."""
    mpmath.mp.dps = 40
    n = 4000
    r = np.cos(np.pi * (np.arange(n) + 0.5) / n) * (np.log(2) / 2)
    target = np.array(
        [float((mpmath.expm1(v) - v - v**2 / 2) / v**3) for v in map(mpmath.mpf, r.tolist())]
    )
    weight = np.abs(r**3 / np.expm1(r))
    powers = np.vander(r, degree + 1, increasing=True)
    return np.linalg.lstsq(powers * weight[:, None], target * weight, rcond=None)[0]


def worst_ulp(step: int) -> tuple[float, float]:
    lowest = int(np.float32(-20.0).view(np.int32))  # negative floats: bits run down
    highest = int(np.float32(-np.finfo(np.float32).smallest_subnormal).view(np.int32))
    worst, at = 0.0, 0.0
    for start in range(highest, lowest, 1 << 24):
        bits = np.arange(start, min(start + (1 << 24), lowest), step, dtype=np.int64)
        x = bits.astype(np.int32).view(np.float32)
        with np.errstate(under="ignore"):
            y = _formulas.expm1_float32(x, NUMPY_OPS)
        exact = np.expm1(x.astype(np.float64))
        ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
        error = np.abs(y.astype(np.float64) - exact) / ulp
        i = int(np.argmax(error))
        if error[i] > worst:
            worst, at = float(error[i]), float(x[i])
    return worst, at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--degree", type=int, default=len(_formulas._EXPM1_Q) - 1)
    parser.add_argument("--step", type=int, default=1)
    args = parser.parse_args()
    print("fitted:", ", ".join(repr(float(c)) for c in fit(args.degree).astype(np.float32)))
    print("in use:", ", ".join(repr(c) for c in _formulas._EXPM1_Q))
    worst, at = worst_ulp(args.step)
    print(f"expm1_float32 over [-20, 0), every {args.step}: {worst:.3f} ULP at most, at {at!r}")


if __name__ == "__main__":
    main()
