"""NumPy backend: Python numbers, sequences, NumPy arrays and scalars.

This module converts and checks the arguments (with ``unielu._checks``) and
drives the compiled kernel ``unielu._ufuncs`` (two NumPy ufuncs with unielu's
own exp/expm1, docs/backends/numpy.rst): float16, bfloat16, float32, float64,
integer and bool inputs go through it, large arrays split over the threads of
``unielu._threads`` (the loops release the GIL). Where it was not built, with
``UNIELU_KERNEL=numpy``, and for longdouble, the pure-NumPy path
(``_numpy_fallback``) computes instead.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np

from unielu._checks import (
    FLOAT32_MAX,
    check_alpha_fits,
    check_numpy_alpha,
    check_numpy_out,
    check_takes_ufuncs,
    dtype_error,
)
from unielu._threads import PARALLEL_MIN, pieces, run_split, threads_for
from unielu.backends import _numpy_fallback
from unielu.backends._numpy_fallback import cast, cast_into

# Read by unielu._registry from this source, without importing the module: literals only.
SPEC = {
    "name": "numpy",
    "framework": "numpy",
    "requirement": "numpy>=1.24.4",
    "priority": 90,
    "types": [
        "numpy:ndarray", "numpy:generic",
        "builtins:int", "builtins:float", "builtins:complex", "builtins:list", "builtins:tuple",
    ],
    "description": "a NumPy array or scalar, a Python number, or a list or tuple of numbers",
    "mutable": True,
    # The matrix runs twice: on the compiled kernel, and on the pure-NumPy fallback.
    "test_env": [{}, {"UNIELU_KERNEL": "numpy"}],
    "newest_tested": "numpy 2.4.6",
}  # fmt: skip


def _load_kernel() -> tuple[Any, str]:
    """The compiled ufuncs (or None) and why the pure-NumPy path runs instead."""
    choice = os.environ.get("UNIELU_KERNEL", "").strip().lower()
    if choice == "numpy":
        return None, "UNIELU_KERNEL=numpy"
    if choice not in ("", "compiled"):
        raise ValueError(
            f"environment variable UNIELU_KERNEL must be 'compiled' or 'numpy'; got {choice!r}"
        )
    try:
        from unielu import _ufuncs  # type: ignore[attr-defined]
    except ImportError as error:  # not built (no compiler at install), or not loadable
        return None, f"unielu._ufuncs not built or not loadable: {error}"
    return _ufuncs, ""


_ufuncs, _fallback_reason = _load_kernel()


def kernel() -> str:
    """What computes: the compiled kernel at its SIMD level, or the pure-NumPy
    path and why (``unielu info`` shows it)."""
    if _ufuncs is not None:
        return f"compiled ufunc, SIMD {_ufuncs.simd_level()}"
    return f"pure NumPy ({_fallback_reason})"


_DTYPES: dict[np.dtype[Any], tuple[np.dtype[Any], np.dtype[Any]]] = {}


def _dtypes(dtype: np.dtype[Any], func: str) -> tuple[np.dtype[Any], np.dtype[Any]]:
    """(result dtype, working dtype) for an input dtype."""
    try:
        return _DTYPES[dtype]
    except KeyError:
        _DTYPES[dtype] = pair = _resolve_dtypes(dtype, func)
        return pair


def _resolve_dtypes(dtype: np.dtype[Any], func: str) -> tuple[np.dtype[Any], np.dtype[Any]]:
    if dtype.kind == "f" and dtype.itemsize >= 2:  # not ml_dtypes' float8_e5m2
        # float16 is computed in float32 and rounded once.
        return dtype, (np.dtype(np.float32) if dtype.itemsize < 4 else dtype)
    if dtype.kind in "biu":
        return np.dtype(np.float64), np.dtype(np.float64)
    if dtype.name == "bfloat16":  # ml_dtypes.bfloat16
        return dtype, np.dtype(np.float32)
    raise dtype_error(func, dtype, "float64")


#: Working dtypes of the compiled kernel; the ufuncs' own loops by result dtype,
#: with alpha's dtype (float32 for the half precisions, as the contract says).
_KERNEL_DTYPES = {np.dtype(np.float32), np.dtype(np.float64)}
_SIGNATURES = {
    np.dtype(np.float16): (np.float16, np.float32, np.float16),
    np.dtype(np.float32): (np.float32, np.float32, np.float32),
    np.dtype(np.float64): (np.float64, np.float64, np.float64),
}


def _apply(func: str, x: Any, alpha: Any, out: Any = None) -> Any:
    """Convert and check the arguments, then compute through the kernel or the
    pure-NumPy path."""
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except Exception as error:  # ragged or mixed sequences, tensors that require grad
            raise TypeError(
                f"unielu.{func}() argument 'x' must be a number or a rectangular list or "
                f"tuple of numbers, which NumPy computes; got {type(x).__name__} that NumPy "
                f"cannot convert ({type(error).__name__}: {error}). For arrays of another "
                f"framework, pass one array (torch.stack(tensors), say), not a list of them"
            ) from None
    out_dtype, work = _dtypes(x.dtype, func)
    if type(alpha) is float and alpha > FLOAT32_MAX and work.itemsize < 8:
        check_alpha_fits(alpha, work, func)
    if out_dtype != work and out_dtype.kind == "f" and np.geterr()["over"] != "ignore":
        # float16: a float32 result beyond its range rounds to inf, correctly, not a warning.
        with np.errstate(over="ignore"):
            return _apply(func, x, alpha, out)
    if type(alpha) is not float:
        alpha = check_numpy_alpha(alpha, x, func)
    in_place = False
    if out is not None:
        in_place = check_numpy_out(out, x, out_dtype, func)
    if type(x) is not np.ndarray:
        check_takes_ufuncs(x, func)
    if _ufuncs is None or work not in _KERNEL_DTYPES:
        return _numpy_fallback.compute(func, x, alpha, out_dtype, work, out, in_place)
    if type(alpha) is not float:  # its values as written: cast to inf without warnings
        with np.errstate(over="ignore", invalid="ignore"):
            return _through_kernel(func, x, alpha, out_dtype, work, out)
    return _through_kernel(func, x, alpha, out_dtype, work, out)


def _through_kernel(
    func: str, x: np.ndarray, alpha: Any, out_dtype: np.dtype[Any], work: np.dtype[Any], out: Any
) -> Any:
    """Through the compiled ufunc, as NumPy's own ufuncs go: subclasses are kept
    (np.matrix stays one, a masked array keeps its mask), 0-d gives a scalar."""
    ufunc = getattr(_ufuncs, func)
    signature = _SIGNATURES.get(out_dtype)
    if signature is not None:  # the ufunc's own dtypes; integers and bool give float64
        return _ufunc_call(ufunc, x, alpha, out, signature)
    # bfloat16: in float32, rounded once.
    y = _ufunc_call(ufunc, x.astype(work), alpha, None, _SIGNATURES[work])
    if out is not None:
        cast_into(out, y)
        return out
    return cast(y, out_dtype)


def _ufunc_call(ufunc: Any, x: np.ndarray, alpha: Any, out: Any, signature: Any) -> Any:
    """One ufunc call, or large plain arrays split over the threads: the loops
    release the GIL, and each element's bits do not depend on the split."""
    threads = threads_for(x.size)
    if (
        threads == 1
        or type(x) is not np.ndarray
        or (out is not None and type(out) is not np.ndarray)
    ):
        return ufunc(x, alpha, out=out, signature=signature)  # subclasses: as NumPy's ufuncs
    if out is None:
        out = np.empty_like(x, dtype=signature[2], subok=False)  # x's memory order
    run_split([
        functools.partial(ufunc, xs, a, out=os_, signature=signature)
        for xs, a, os_ in pieces(x, alpha, out, threads)
    ])  # fmt: skip
    return out


#: The ufunc's own loops: a plain array of these with a float alpha needs no
#: checks and no signature (a Python float does not promote them).
_NATIVE = (np.dtype(np.float32), np.dtype(np.float64))


def _straight_to_the_ufunc(x: Any, alpha: Any, out: Any) -> bool:
    """A plain float32/float64 array below the threaded size with a float alpha: on
    a small array the Python around the ufunc costs as much as the work."""
    return (
        out is None
        and type(x) is np.ndarray
        and x.dtype in _NATIVE
        and type(alpha) is float
        and alpha <= FLOAT32_MAX
        and x.size < PARALLEL_MIN
        and _ufuncs is not None
    )


def elu(x: Any, alpha: Any, out: Any = None) -> Any:
    if _straight_to_the_ufunc(x, alpha, out):
        return _ufuncs.elu(x, alpha)
    return _apply("elu", x, alpha, out)


def elu_derivative(x: Any, alpha: Any, out: Any = None) -> Any:
    if _straight_to_the_ufunc(x, alpha, out):
        return _ufuncs.elu_derivative(x, alpha)
    return _apply("elu_derivative", x, alpha, out)


def devices() -> list[str]:
    return ["cpu"]


def from_numpy(a: np.ndarray) -> np.ndarray:
    return a


def to_numpy(y: Any) -> np.ndarray:
    return np.asarray(y)
