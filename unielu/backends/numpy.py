"""NumPy backend: Python numbers, sequences, NumPy arrays and scalars.

The work is done in cache-sized blocks with in-place ufuncs, so a call reads
the input once, writes the output once and allocates nothing beyond the
output and a few block-sized scratch buffers. The formula is branch-free:

    elu(x) = max(x, 0) + alpha * expm1(min(x, 0)),  then zeros copied from x
           = max(x, alpha * expm1(min(x, 0)))       when alpha <= 1

``min(x, 0)`` keeps ``expm1`` away from overflow for large ``x``; copying the
zeros back restores the sign of ``-0.0`` that ``min`` and ``max`` lose. Large
arrays are split across threads, since ufuncs release the GIL.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from unielu._dispatch import dtype_error

# Read by unielu._dispatch from this source, without importing the module: literals only.
SPEC = {
    "name": "numpy",
    "framework": "numpy",
    "requirement": "numpy",
    "priority": 90,
    "types": [
        "numpy:ndarray", "numpy:generic",
        "builtins:int", "builtins:float", "builtins:complex", "builtins:list", "builtins:tuple",
    ],
    "description": "a NumPy array or scalar, a Python number, or a list or tuple of numbers",
    "mutable": True,
}  # fmt: skip


#: Elements per block: big enough that per-call ufunc overhead is small, small
#: enough that the block and its scratch stay in L2 (measured best at 2**16).
BLOCK = 1 << 16
#: Below this many elements one thread is faster than handing work out.
PARALLEL_MIN = 1 << 18


def num_threads() -> int:
    """Threads used for large arrays: ``UNIELU_NUM_THREADS``, else the usable cores."""
    env = os.environ.get("UNIELU_NUM_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(
                f"environment variable UNIELU_NUM_THREADS must be a whole number of "
                f"threads, such as 2; got {env!r}"
            ) from None
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else os.cpu_count() or 1


_pools: dict[int, ThreadPoolExecutor] = {}


def _executor(threads: int) -> ThreadPoolExecutor:
    # One pool per thread count, made on first use and kept: threads are reused.
    if threads not in _pools:
        _pools[threads] = ThreadPoolExecutor(threads, thread_name_prefix="unielu")
    return _pools[threads]


_DTYPES: dict[np.dtype[Any], tuple[np.dtype[Any], np.dtype[Any]]] = {}


def _dtypes(dtype: np.dtype[Any], func: str) -> tuple[np.dtype[Any], np.dtype[Any]]:
    """(result dtype, working dtype) for an input dtype."""
    try:
        return _DTYPES[dtype]
    except KeyError:
        _DTYPES[dtype] = pair = _resolve_dtypes(dtype, func)
        return pair


def _resolve_dtypes(dtype: np.dtype[Any], func: str) -> tuple[np.dtype[Any], np.dtype[Any]]:
    if dtype.kind == "f":
        # float16 is computed in float32 and rounded once.
        return dtype, (np.dtype(np.float32) if dtype.itemsize < 4 else dtype)
    if dtype.kind in "biu":
        return np.dtype(np.float64), np.dtype(np.float64)
    if dtype.name == "bfloat16":  # ml_dtypes.bfloat16
        return dtype, np.dtype(np.float32)
    raise dtype_error(func, dtype, "float64")


class _Scratch:
    """Block-sized buffers, reused across the blocks of one call."""

    def __init__(self, size: int, work: np.dtype[Any]) -> None:
        self.t = np.empty(size, dtype=work)
        # An array of zeros, not the scalar 0: NumPy's SIMD min/max loops for
        # two arrays run about 2.5x faster than the array-scalar ones.
        self.zeros = np.zeros(size, dtype=work)
        self.mask = np.empty(size, dtype=np.bool_)


def _elu_block(x: np.ndarray, out: np.ndarray, alpha: float, s: _Scratch) -> None:
    # x and out are 1-d and contiguous, of the working dtype.
    n = x.size
    t, zeros, mask = s.t[:n], s.zeros[:n], s.mask[:n]
    np.minimum(x, zeros, out=t)  # clamped: expm1 cannot overflow
    np.expm1(t, out=t)
    if alpha != 1.0:
        np.multiply(t, alpha, out=t)
    if alpha <= 1.0:
        # alpha * expm1(x) >= x for x <= 0 when alpha <= 1 (and t = 0 for x > 0),
        # so one max selects the branch; it also keeps alpha = 0's -0.0 for x < 0.
        np.maximum(x, t, out=out)
    else:
        np.maximum(x, zeros, out=out)
        np.add(out, t, out=out)
    # min and max may turn -0.0 into +0.0: put the zeros back as they were (a
    # mask that is almost always False costs far less than copysign on everything).
    np.equal(x, 0, out=mask)
    np.copyto(out, x, where=mask)


def _derivative_block(x: np.ndarray, out: np.ndarray, alpha: float, s: _Scratch) -> None:
    n = x.size
    zeros, mask = s.zeros[:n], s.mask[:n]
    np.minimum(x, zeros, out=out)
    np.exp(out, out=out)
    if alpha != 1.0:
        np.multiply(out, alpha, out=out)
    np.greater(x, 0, out=mask)
    np.copyto(out, 1, where=mask)


Kernel = Callable[[np.ndarray, np.ndarray, float, _Scratch], None]


def _run(kernel: Kernel, x: np.ndarray, out: np.ndarray, alpha: float, work: np.dtype[Any]) -> None:
    """Apply ``kernel`` block by block; x and out are 1-d and contiguous."""
    n = x.size
    if n == 0:
        return
    step = min(n, BLOCK)
    scratch = _Scratch(step, work)
    cast = x.dtype != work or out.dtype != work
    if cast:
        wx = np.empty(step, dtype=work)
        wout = np.empty(step, dtype=work)
    for start in range(0, n, step):
        xb = x[start : start + step]
        ob = out[start : start + step]
        if cast:
            m = xb.size
            np.copyto(wx[:m], xb, casting="unsafe")
            kernel(wx[:m], wout[:m], alpha, scratch)
            np.copyto(ob, wout[:m], casting="unsafe")
        else:
            kernel(xb, ob, alpha, scratch)


# On small arrays each ufunc call costs more than its arithmetic, and
# np.where costs as much as three: these use the fewest calls, and no where.
def _elu_small(x: np.ndarray, alpha: float) -> Any:
    t = np.expm1(np.minimum(x, 0.0))
    y = np.maximum(x, 0.0) + (t if alpha == 1.0 else t * alpha)
    return np.copysign(y, x)  # min and max lose the sign of -0.0


def _derivative_small(x: np.ndarray, alpha: float) -> Any:
    d = np.exp(np.minimum(x, 0.0))
    if alpha != 1.0:
        np.multiply(d, alpha, out=d)
    np.copyto(d, 1.0, where=x > 0)
    return d


#: Up to this many elements, whole-array ufuncs: fewest calls, since each
#: ufunc call costs about as much as the arithmetic on a small array.
SMALL = 1 << 12


def _apply(
    small: Callable[[np.ndarray, float], Any], kernel: Kernel, x: Any, alpha: float, func: str
) -> Any:
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except (ValueError, TypeError) as error:  # ragged or mixed sequences
            raise TypeError(
                f"unielu.{func}() argument 'x' must be a number or a rectangular list or "
                f"tuple of numbers; got {type(x).__name__} that NumPy cannot convert: {error}"
            ) from None
    out_dtype, work = _dtypes(x.dtype, func)
    if x.size <= SMALL:
        w = x if x.dtype == work else x.astype(work)
        y = small(w if w.ndim else w.reshape(1), alpha)  # 0-d: ufuncs give scalars
        if y.dtype != out_dtype:
            y = y.astype(out_dtype)
        return y if x.ndim else y[0]
    if not (x.flags.c_contiguous or x.flags.f_contiguous):
        x = np.ascontiguousarray(x)  # strided input: one copy, then the fast path
    # Same memory order as x, so both ravel to views that match element by element.
    out = np.empty_like(x, dtype=out_dtype, order="K", subok=False)
    flat_x, flat_out = x.ravel(order="K"), out.ravel(order="K")
    threads = num_threads() if x.size >= PARALLEL_MIN else 1
    if threads == 1:
        _run(kernel, flat_x, flat_out, alpha, work)
    else:
        bounds = np.linspace(0, x.size, threads + 1).astype(int)
        jobs = [
            _executor(threads).submit(_run, kernel, flat_x[a:b], flat_out[a:b], alpha, work)
            for a, b in itertools.pairwise(bounds)
        ]
        for job in jobs:
            job.result()
    return out[()] if out.ndim == 0 else out


def elu(x: Any, alpha: float) -> Any:
    return _apply(_elu_small, _elu_block, x, alpha, "elu")


def elu_derivative(x: Any, alpha: float) -> Any:
    return _apply(_derivative_small, _derivative_block, x, alpha, "elu_derivative")


def devices() -> list[str]:
    return ["cpu"]


def from_numpy(a: np.ndarray) -> np.ndarray:
    return a


def to_numpy(y: Any) -> np.ndarray:
    return np.asarray(y)
