"""Generic backend for any array with ``__array_namespace__`` (Array API standard).

Only standard functions are used, so any conforming library works; its
native kernels are not used. ``where(x > 0, 0, x)`` rather than
``minimum(x, 0)`` keeps the sign of ``-0.0``, and clamping the branch that is
not taken keeps ``exp`` from overflowing for large ``x``. An array ``alpha``
must come from the same namespace; standard broadcasting applies it.
"""

from __future__ import annotations

from typing import Any

from array_api_compat import array_namespace

from unielu._dispatch import alpha_type_error, check_alpha_shape, dtype_error

# Read by unielu._registry from this source, without importing the module: literals only.
SPEC = {
    "name": "array_api",
    "framework": "array_api_compat",
    # array-api-compat is one of unielu's own dependencies; array-api-strict is
    # the Array API library the tests run on (2.0 and 2.1 fail them: docs/versions.rst)
    "requirement": "array-api-compat>=1.9",
    "test_requirements": ["array-api-compat>=1.9", "array-api-strict>=2.2"],
    "priority": 100,
    "types": ["*"],
    "description": "any array with __array_namespace__ (Array API standard)",
}


def _prepare(x: Any, func: str) -> tuple[Any, Any, Any]:
    """(namespace, x in its working dtype, result dtype)."""
    xp = array_namespace(x)
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
    info = getattr(xp, "__array_namespace_info__", None)
    if info is None:  # namespaces older than the 2023.12 standard
        return xp.float64
    return info().default_dtypes(device=getattr(x, "device", None))["real floating"]


def _alpha(xp: Any, w: Any, alpha: Any, func: str) -> Any:
    """A float alpha as it is; an array one checked, in the working dtype of x."""
    if type(alpha) is float:
        return alpha
    try:
        same = array_namespace(alpha) is xp
    except TypeError:  # not an array of any namespace
        same = False
    if not same or not xp.isdtype(alpha.dtype, ("real floating", "integral")):
        raise alpha_type_error(func, alpha, f"an array of {xp.__name__}")
    check_alpha_shape(alpha.shape, w.shape, func)
    return xp.astype(alpha, w.dtype)


def elu(x: Any, alpha: Any) -> Any:
    xp, w, dtype = _prepare(x, "elu")
    a = _alpha(xp, w, alpha, "elu")
    positive = w > 0
    negative = xp.where(positive, xp.zeros_like(w), w)
    return xp.astype(xp.where(positive, w, a * xp.expm1(negative)), dtype, copy=False)


def elu_derivative(x: Any, alpha: Any) -> Any:
    xp, w, dtype = _prepare(x, "elu_derivative")
    a = _alpha(xp, w, alpha, "elu_derivative")
    positive = w > 0
    negative = xp.where(positive, xp.zeros_like(w), w)
    return xp.astype(xp.where(positive, xp.ones_like(w), a * xp.exp(negative)), dtype, copy=False)


def devices() -> list[str]:
    return ["the devices of its library (shown: array-api-strict)"]


def from_numpy(a: Any) -> Any:
    import array_api_strict

    return array_api_strict.asarray(a)


def to_numpy(y: Any) -> Any:
    import numpy as np

    return np.asarray(y)
