"""Generic backend for any array with ``__array_namespace__`` (Array API standard).

Only standard functions are used, so any conforming library works; its
native kernels are not used. float32 (and float16) is computed in float64
where x's device has it (see :func:`_widened`). ``where(x > 0, 0, x)`` rather than
``minimum(x, 0)`` keeps the sign of ``-0.0``, and clamping the branch that is
not taken keeps ``exp`` from overflowing for large ``x``. An array ``alpha``
must come from the same namespace; standard broadcasting applies it.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from array_api_compat import array_namespace, device

from unielu._checks import (
    alpha_device_error,
    alpha_type_error,
    check_alpha_fits,
    check_alpha_shape,
    describe,
    dtype_error,
)

# Read by unielu._registry from this source, without importing the module: literals only.
SPEC = {
    "name": "array_api",
    "framework": "array_api_compat",
    # one of unielu's own dependencies
    "requirement": "array-api-compat>=1.9",
    "priority": 100,
    "types": ["*"],
    "description": "any array with __array_namespace__ (Array API standard)",
    # array-api-strict: the Array API library the tests run on (2.0 and 2.1 fail
    # them: docs/versions.rst)
    "test_requirements": ["array-api-compat>=1.9", "array-api-strict>=2.2"],
    "newest_tested": "array-api-compat 1.16.0, array-api-strict 2.6.1",
}


def _prepare(x: Any, func: str) -> tuple[Any, Any, Any]:
    """(namespace, x in its working dtype, result dtype)."""
    try:
        xp = array_namespace(x)
    except Exception as error:  # __array_namespace__ raised, or returned junk
        raise TypeError(
            f"unielu.{func}() argument 'x' must be an array of an Array API namespace; "
            f"got {describe(x)}, whose namespace could not be found ({error})"
        ) from None
    if not callable(getattr(xp, "isdtype", None)):
        raise TypeError(
            f"unielu.{func}() argument 'x' must be an array whose __array_namespace__() "
            f"returns an Array API namespace; got {describe(x)}, whose returned {xp!r}"
        )
    if xp.isdtype(x.dtype, "real floating"):
        half = getattr(xp, "float16", None)
        if half is not None and x.dtype == half:
            return xp, xp.astype(x, xp.float32), x.dtype
        return xp, x, x.dtype
    if xp.isdtype(x.dtype, ("integral", "bool")):
        default = _default_float(xp, x)
        return xp, xp.astype(x, default), default
    raise dtype_error(func, x.dtype, "the namespace's default real floating dtype")


def _default_float(xp: Any, x: Any) -> Any:
    try:  # array-api-strict raises RuntimeError when set to an older api_version
        info = getattr(xp, "__array_namespace_info__", None)
        if info is not None:
            return info().default_dtypes(device=getattr(x, "device", None))["real floating"]
    except RuntimeError:
        pass
    return xp.float64  # namespaces older than the 2023.12 standard


def _alpha(xp: Any, w: Any, alpha: Any, func: str) -> Any:
    """A float alpha as it is; an array one checked, in the working dtype of x."""
    if type(alpha) is float:
        check_alpha_fits(alpha, w.dtype, func)
        return alpha
    try:
        same = array_namespace(alpha) is xp
    except TypeError:  # not an array of any namespace
        same = False
    if not same or not xp.isdtype(alpha.dtype, ("real floating", "integral")):
        raise alpha_type_error(func, alpha, f"an array of {xp.__name__}")
    check_alpha_shape(alpha.shape, w.shape, func)
    if device(alpha) != device(w):
        raise alpha_device_error(func, device(alpha), device(w), "xp.asarray(alpha, device=...)")
    return xp.astype(alpha, w.dtype)


def _widened(xp: Any, w: Any, a: Any) -> tuple[Any, Any]:
    """float32 ``w`` and its alpha in float64, where x's device has float64.

    A namespace's float32 ``exp`` and ``expm1`` may be further off than the
    contract allows (NumPy's, under array-api-strict, up to 4.5 ULP where the CPU
    has AVX-512): computed in float64, the result is rounded once. alpha keeps
    the float32 value that the contract says it is used with.
    """
    if w.dtype != xp.float32:
        return w, a
    try:
        info = xp.__array_namespace_info__()
        has_float64 = "float64" in info.dtypes(device=device(w), kind="real floating")
    except Exception:  # an older namespace, or one that cannot say: stay in float32
        return w, a
    if not has_float64:
        return w, a
    a = float(np.float32(a)) if type(a) is float else xp.astype(a, xp.float64)
    return xp.astype(w, xp.float64), a


def _quiet(func: Any) -> Any:
    """An array alpha's values are applied as written (inf * 0 is NaN), and a
    signaling NaN in x gives NaN: a namespace over NumPy (array-api-strict) must
    not warn about either."""

    @functools.wraps(func)
    def wrapper(x: Any, alpha: Any) -> Any:
        with np.errstate(invalid="ignore", over="ignore"):
            return func(x, alpha)

    return wrapper


def _operands(x: Any, alpha: Any, func: str) -> tuple[Any, Any, Any, Any, Any, Any]:
    """``xp``, ``x`` and ``alpha`` in the compute dtype, the result dtype, where
    ``x > 0``, and ``x`` with its positive values zeroed (so ``exp`` cannot overflow)."""
    xp, w, dtype = _prepare(x, func)
    w, a = _widened(xp, w, _alpha(xp, w, alpha, func))
    positive = w > 0
    return xp, w, a, dtype, positive, xp.where(positive, xp.zeros_like(w), w)


@_quiet
def elu(x: Any, alpha: Any) -> Any:
    xp, w, a, dtype, positive, negative = _operands(x, alpha, "elu")
    keep = positive | (w == 0)  # zeros as they are, whatever an array alpha holds
    return xp.astype(xp.where(keep, w, a * xp.expm1(negative)), dtype, copy=False)


@_quiet
def elu_derivative(x: Any, alpha: Any) -> Any:
    xp, w, a, dtype, positive, negative = _operands(x, alpha, "elu_derivative")
    # Where exp(x) alone is subnormal, alpha * exp(x/2) * exp(x/2) keeps its digits.
    half = xp.exp(negative / 2)
    tiny = negative < math.log(xp.finfo(w.dtype).smallest_normal)
    branch = xp.where(tiny, (a * half) * half, a * xp.exp(negative))
    return xp.astype(xp.where(positive, xp.ones_like(w), branch), dtype, copy=False)


def devices() -> list[str]:
    return ["the devices of its library (shown: array-api-strict)"]


def from_numpy(a: Any) -> Any:
    import array_api_strict

    return array_api_strict.asarray(a)


def to_numpy(y: Any) -> Any:
    import numpy as np

    return np.asarray(y)
