"""NumPy backend: Python numbers, sequences, NumPy arrays and scalars.

The work is done in cache-sized blocks with in-place ufuncs, so a call reads
the input once, writes the output once and allocates nothing beyond the
output and a few block-sized scratch buffers. The formula is branch-free:

    elu(x) = max(x, 0) + alpha * expm1(min(x, 0)),  then zeros copied from x
           = max(x, alpha * expm1(min(x, 0)))       when alpha <= 1

``min(x, 0)`` keeps ``expm1`` away from overflow for large ``x``; copying the
zeros back restores the sign of ``-0.0`` that ``min`` and ``max`` lose. Large
arrays are split across threads, since ufuncs release the GIL; the thread
pools are made once per process (a forked child makes its own). Within
:func:`one_thread` a thread's calls are not split: the Dask backend runs its
blocks so when Dask already runs them in parallel.

``out=`` writes the blocks straight into ``out``: no allocation, no page
faults on fresh memory. An array ``alpha`` (one value per channel, say) takes
a whole-array path with ``where``, written for clarity rather than speed.

That is the pure-NumPy path. Where the compiled kernel ``unielu._ufuncs`` was
built (two NumPy ufuncs with unielu's own exp/expm1, docs/backends/numpy.rst),
float16, bfloat16, float32, float64, integer and bool inputs go through it
instead, large arrays split over the same threads; ``UNIELU_KERNEL=numpy``
forces the pure-NumPy path.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np

from unielu._checks import FLOAT32_MAX, check_alpha_fits, check_out_layout, describe, out_error
from unielu._dispatch import alpha_type_error, check_alpha_shape, dtype_error


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
    """Which kernel runs: ``"compiled (SIMD level)"`` or ``"numpy (why)"``."""
    if _ufuncs is not None:
        return f"compiled ufunc, SIMD {_ufuncs.simd_level()}"
    return f"pure NumPy ({_fallback_reason})"


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
}  # fmt: skip


#: Elements per block: big enough that per-call ufunc overhead is small, small
#: enough that the block and its scratch stay in L2 (measured best at 2**16).
BLOCK = 1 << 16
#: Below this many elements one thread is faster than handing work out: waking
#: an idle thread costs about as much as 2**19 float32 elements of work on a
#: 2-core VM (measured 1.6x slower threaded at 2**18, 0.88x at 10**6).
PARALLEL_MIN = 1 << 20
#: Most threads used by default: between its ufunc calls each thread needs the
#: GIL, and past this many they queue for it (measured slower on 16 cores).
MAX_THREADS = 4


_local = threading.local()


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Within it, this thread's calls run on this thread alone, at any size.

    For callers that already run calls in parallel, one per core (the Dask
    backend's blocks): the pool's threads on top would only compete for the
    same cores. Other threads are not affected; the bits are the same.
    """
    before = getattr(_local, "one_thread", False)
    _local.one_thread = True
    try:
        yield
    finally:
        _local.one_thread = before


def num_threads() -> int:
    """Threads used for large arrays: 1 inside :func:`one_thread`, else
    ``UNIELU_NUM_THREADS``, else the usable cores, at most :data:`MAX_THREADS`."""
    if getattr(_local, "one_thread", False):
        return 1
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
    cores = len(affinity(0)) if affinity else os.cpu_count() or 1
    return min(cores, MAX_THREADS)


# One pool per thread count, made on first use and kept: threads are reused.
_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _executor(threads: int) -> ThreadPoolExecutor:
    pool = _pools.get(threads)
    if pool is None:
        # Locked, so that threads making their first large call at once share one pool.
        with _pools_lock:
            pool = _pools.get(threads)
            if pool is None:
                pool = ThreadPoolExecutor(threads, thread_name_prefix="unielu")
                _pools[threads] = pool
    return pool


def run_split(calls: Sequence[Callable[[], Any]]) -> None:
    """Run the calls at once, one per thread: all but the last on the pool (of
    that many threads, made as needed), the last on this thread, which would
    otherwise only wait: one thread fewer to wake."""
    if len(calls) == 1:
        calls[0]()
        return
    pool = _executor(len(calls))
    jobs = [pool.submit(call) for call in calls[:-1]]
    try:
        calls[-1]()
    finally:
        for job in jobs:  # every job ends before the caller reads out (or sees an error)
            job.result()


def _after_fork_in_child() -> None:
    # A forked child has only the thread that forked. An inherited pool counts
    # its parent's workers as idle and starts none, so a job sent to it would
    # wait forever: forget the pools (the child makes its own), and the lock,
    # which another thread may have held at the fork.
    global _pools_lock
    _pools.clear()
    _pools_lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # not on Windows, which cannot fork
    os.register_at_fork(after_in_child=_after_fork_in_child)


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
        _fix_subnormal_exp(x, out, alpha, mask)
    np.greater(x, 0, out=mask)
    np.copyto(out, 1, where=mask)


def _fix_subnormal_exp(x: np.ndarray, d: np.ndarray, alpha: Any, mask: np.ndarray) -> None:
    """Where exp(x) is subnormal (few bits) but alpha * exp(x) need not be:
    d = (alpha * exp(x/2)) * exp(x/2), with no subnormal intermediate."""
    log_tiny = _LOG_SMALLEST_NORMAL.get(x.dtype)
    if log_tiny is None:
        log_tiny = float(np.log(np.finfo(x.dtype).smallest_normal))
        _LOG_SMALLEST_NORMAL[x.dtype] = log_tiny
    np.less(x, log_tiny, out=mask)
    if mask.any():
        half = np.exp(x[mask] * 0.5)
        a = alpha if np.ndim(alpha) == 0 else np.broadcast_to(alpha, x.shape)[mask]
        d[mask] = (a * half) * half


#: log of the smallest normal number, by working dtype (filled on first use).
_LOG_SMALLEST_NORMAL: dict[np.dtype[Any], float] = {}


Kernel = Callable[[np.ndarray, np.ndarray, float, _Scratch], None]


def _run(
    kernel: Kernel,
    x: np.ndarray,
    out: np.ndarray,
    alpha: float,
    work: np.dtype[Any],
    in_place: bool = False,
) -> None:
    """Apply ``kernel`` block by block; x and out are 1-d and contiguous.

    The kernels read ``x`` after writing ``out``: in place, each block of x is
    first copied to scratch.
    """
    n = x.size
    if n == 0:
        return
    step = min(n, BLOCK)
    scratch = _Scratch(step, work)
    stage_in = in_place or x.dtype != work
    stage_out = out.dtype != work
    wx = np.empty(step, dtype=work) if stage_in else x
    wout = np.empty(step, dtype=work) if stage_out else out
    # NumPy's exp and expm1 flag a signaling NaN as invalid, though NaN is the right
    # result (no other input is invalid here). Set in this thread: it may be a pool's.
    with np.errstate(invalid="ignore"):
        for start in range(0, n, step):
            xb = x[start : start + step]
            ob = out[start : start + step]
            m = xb.size
            if stage_in:
                np.copyto(wx[:m], xb, casting="unsafe")
                xb = wx[:m]
            kernel(xb, wout[:m] if stage_out else ob, alpha, scratch)
            if stage_out:
                _cast_into(ob, wout[:m])


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
        _fix_subnormal_exp(x, d, alpha, np.empty(x.shape, dtype=np.bool_))
    np.copyto(d, 1.0, where=x > 0)
    return d


#: Up to this many elements, whole-array ufuncs: fewest calls, since each
#: ufunc call costs about as much as the arithmetic on a small array.
SMALL = 1 << 12


def _apply(
    small: Callable[[np.ndarray, float], Any],
    kernel: Kernel,
    whole: Callable[[np.ndarray, np.ndarray], np.ndarray],
    x: Any,
    alpha: Any,
    func: str,
    out: Any = None,
) -> Any:
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
        check_alpha_fits(alpha, str(work), func)
    if out_dtype != work and out_dtype.kind == "f" and np.geterr()["over"] != "ignore":
        # float16: a float32 result beyond its range rounds to inf, correctly, not a warning.
        with np.errstate(over="ignore"):
            return _apply(small, kernel, whole, x, alpha, func, out)
    if type(alpha) is not float:
        alpha = _check_alpha_array(alpha, x, func)
    in_place = False
    if out is not None:
        in_place = _check_out(out, x, out_dtype, func)
    if _ufuncs is not None and work in _KERNEL_DTYPES:
        if type(alpha) is not float:  # its values as written: cast to inf without warnings
            with np.errstate(over="ignore", invalid="ignore"):
                return _apply_kernel(func, x, alpha, out_dtype, work, out)
        return _apply_kernel(func, x, alpha, out_dtype, work, out)
    if type(x) is not np.ndarray:
        return _apply_subclass(small, kernel, whole, x, alpha, func, out)
    if work.itemsize < 8:
        # NumPy's float32 exp and expm1 (SVML where the CPU has AVX-512) are up to
        # about 4 ULP off, beyond the contract's 3: this path computes in float64 and
        # rounds once. alpha is still used in float32, as the contract says.
        if type(alpha) is float:
            alpha = float(np.float32(alpha))
        else:
            with np.errstate(over="ignore", invalid="ignore"):  # its values as written
                alpha = alpha.astype(work)
        work = _FLOAT64
    if type(alpha) is not float:  # its values as written: inf and NaN without warnings
        with np.errstate(over="ignore", invalid="ignore"):
            return _apply_alpha_array(whole, x, alpha, out_dtype, work, out)
    if x.size <= SMALL:
        with np.errstate(invalid="ignore"):  # a signaling NaN (see _run)
            w = x if x.dtype == work else x.astype(work)
            y = small(w if w.ndim else w.reshape(1), alpha)  # 0-d: ufuncs give scalars
        if out is not None:  # y is new memory, so out may be x
            _cast_into(out, y.reshape(out.shape))
            return out
        if y.dtype != out_dtype:
            y = _astype(y, out_dtype)
        return y if x.ndim else y[0]
    if out is not None and (out.flags.c_contiguous or out.flags.f_contiguous):
        # Straight into out (it may be x: the blocks are then staged).
        order: Literal["C", "F"] = "C" if out.flags.c_contiguous else "F"
        # out ravels to a view (of the base class); x to a view, or one copy if
        # it is laid out otherwise.
        flat_out = np.asarray(out).ravel(order=order)
        _blocks(kernel, x.ravel(order=order), flat_out, alpha, work, in_place)
        return out
    if not (x.flags.c_contiguous or x.flags.f_contiguous):
        x = np.ascontiguousarray(x)  # strided input: one copy, then the fast path
    # Same memory order as x, so both ravel to views that match element by element.
    y = np.empty_like(x, dtype=out_dtype, order="K", subok=False)
    _blocks(kernel, x.ravel(order="K"), y.ravel(order="K"), alpha, work)
    if out is not None:  # strided out: computed into new memory, then one copy
        np.copyto(out, y)
        return out
    return y[()] if y.ndim == 0 else y


def _blocks(
    kernel: Kernel,
    flat_x: np.ndarray,
    flat_out: np.ndarray,
    alpha: float,
    work: np.dtype[Any],
    in_place: bool = False,
) -> None:
    """The blocked kernel on 1-d contiguous arrays, split across threads when large."""
    n = flat_x.size
    threads = num_threads() if n >= PARALLEL_MIN else 1
    if threads == 1:
        _run(kernel, flat_x, flat_out, alpha, work, in_place)
        return
    bounds = np.linspace(0, n, threads + 1).astype(int)
    run_split([
        functools.partial(_run, kernel, flat_x[a:b], flat_out[a:b], alpha, work, in_place)
        for a, b in itertools.pairwise(bounds)
    ])  # fmt: skip


# Half precisions overflow to inf, as rounding says, and a signaling NaN becomes a
# NaN (ml_dtypes' bfloat16 cast flags it invalid): results, not warnings.
def _cast_into(dst: np.ndarray, src: np.ndarray) -> None:
    with np.errstate(over="ignore", invalid="ignore"):
        np.copyto(dst, src, casting="unsafe")


def _astype(y: Any, dtype: np.dtype[Any]) -> Any:
    with np.errstate(over="ignore", invalid="ignore"):
        return y.astype(dtype)


#: Working dtypes of the compiled kernel; the ufuncs' own loops by result dtype,
#: with alpha's dtype (float32 for the half precisions, as the contract says).
_KERNEL_DTYPES = {np.dtype(np.float32), np.dtype(np.float64)}
_FLOAT64 = np.dtype(np.float64)
_SIGNATURES = {
    np.dtype(np.float16): (np.float16, np.float32, np.float16),
    np.dtype(np.float32): (np.float32, np.float32, np.float32),
    np.dtype(np.float64): (np.float64, np.float64, np.float64),
}


def _refuses_ufuncs(x: Any, func: str) -> None:
    if getattr(type(x), "__array_ufunc__", True) is None:
        raise TypeError(
            f"unielu.{func}() argument 'x' is a {type(x).__module__}.{type(x).__qualname__}, "
            f"an ndarray subclass that refuses NumPy ufuncs (__array_ufunc__ = None); "
            f"accepted: a NumPy array or scalar (subclasses that take ufuncs included)"
        )


def _apply_kernel(
    func: str, x: np.ndarray, alpha: Any, out_dtype: np.dtype[Any], work: np.dtype[Any], out: Any
) -> Any:
    """Through the compiled ufunc, as NumPy's own ufuncs go: subclasses are kept
    (np.matrix stays one, a masked array keeps its mask), 0-d gives a scalar."""
    if type(x) is not np.ndarray:
        _refuses_ufuncs(x, func)
    ufunc = getattr(_ufuncs, func)
    signature = _SIGNATURES.get(out_dtype)
    if signature is not None:  # the ufunc's own dtypes; integers and bool give float64
        return _ufunc_call(ufunc, x, alpha, out, signature)
    # bfloat16: in float32, rounded once.
    y = _ufunc_call(ufunc, x.astype(work), alpha, None, _SIGNATURES[work])
    if out is not None:
        _cast_into(out, y)
        return out
    return _astype(y, out_dtype)


def _ufunc_call(ufunc: Any, x: np.ndarray, alpha: Any, out: Any, signature: Any) -> Any:
    """One ufunc call, or large plain arrays split over the threads: the loops
    release the GIL, and each element's bits do not depend on the split."""
    threads = num_threads() if x.size >= PARALLEL_MIN else 1
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
        for xs, a, os_ in _pieces(x, alpha, out, threads)
    ])  # fmt: skip
    return out


def _pieces(x: np.ndarray, alpha: Any, out: np.ndarray, threads: int) -> list[Any]:
    """(x, alpha, out) parts that cover x once: flat ranges where x and out are
    contiguous alike, else slabs along x's longest axis."""
    orders: tuple[Literal["C", "F"], ...] = ("C", "F")
    for order in orders:
        if np.ndim(alpha) == 0 and x.flags[order] and out.flags[order]:
            fx, fo = x.ravel(order=order), out.ravel(order=order)
            bounds = np.linspace(0, x.size, threads + 1).astype(int).tolist()
            return [(fx[a:b], alpha, fo[a:b]) for a, b in itertools.pairwise(bounds)]
    axis = int(np.argmax(x.shape))
    full = np.broadcast_to(alpha, x.shape) if np.ndim(alpha) else alpha
    bounds = np.linspace(0, x.shape[axis], threads + 1).astype(int).tolist()
    parts = []
    for a, b in itertools.pairwise(bounds):
        index = (slice(None),) * axis + (slice(a, b),)
        parts.append((x[index], full[index] if np.ndim(full) else full, out[index]))
    return parts


def _apply_subclass(
    small: Callable[[np.ndarray, float], Any],
    kernel: Kernel,
    whole: Callable[[np.ndarray, np.ndarray], np.ndarray],
    x: np.ndarray,
    alpha: Any,
    func: str,
    out: Any,
) -> Any:
    """Pure-NumPy path, an ndarray subclass: the values of its base array, in a
    result wrapped as NumPy's own ufuncs wrap it (np.positive's), at every size."""
    _refuses_ufuncs(x, func)
    y = _apply(small, kernel, whole, np.asarray(x), alpha, func, out)
    if out is not None:
        return out
    wrapped = np.positive(x)
    np.asarray(wrapped)[...] = y
    return wrapped


def _check_out(out: Any, x: np.ndarray, dtype: np.dtype[Any], func: str) -> bool:
    """Refuse an unusable ``out`` before anything is written; True if out is x (in place)."""

    # The messages are written only when needed: formatting dtypes costs more
    # than the checks, which the usual out= passes.
    def wanted() -> str:
        return (
            f"a writeable numpy.ndarray of shape {x.shape} and dtype {dtype} "
            f"(x itself, for in place)"
        )

    if not isinstance(out, np.ndarray):
        raise out_error(func, "must be a NumPy array", describe(out), wanted(), TypeError)

    def got() -> str:
        return f"an array of shape {out.shape} and dtype {out.dtype}"

    if out.dtype != dtype:
        why = f"has dtype {out.dtype}, but an input of dtype {x.dtype} gives {dtype}"
        raise out_error(func, why, got(), wanted(), TypeError)
    if out.shape != x.shape:
        raise out_error(func, f"must have the shape of 'x' {x.shape}", got(), wanted())
    if not out.flags.writeable:
        raise out_error(func, "is read-only", got(), wanted())

    def layout(a: np.ndarray) -> tuple[int, tuple[int, ...], tuple[int, ...], int]:
        return a.__array_interface__["data"][0], a.shape, a.strides, a.itemsize

    contiguous = out.flags.c_contiguous or out.flags.f_contiguous  # no element shares memory
    if not contiguous or np.may_share_memory(x, out):  # bounds only: cheap
        return check_out_layout(
            func, layout(out), [layout(x)], got(), wanted(), x.dtype == out.dtype
        )
    return False


def _check_alpha_array(alpha: Any, x: np.ndarray, func: str) -> Any:
    """A checked array ``alpha``: a float if it holds one valid value, else the array."""
    if not isinstance(alpha, np.ndarray) or not (
        alpha.dtype.kind in "iu"
        or (alpha.dtype.kind == "f" and alpha.dtype.itemsize >= 2)  # no float8
        or alpha.dtype.name == "bfloat16"
    ):
        raise alpha_type_error(func, alpha, "a NumPy array")
    check_alpha_shape(alpha.shape, x.shape, func)
    if alpha.size == 1:  # one value, broadcast: the scalar path, with the same results
        value = float(alpha.reshape(()))
        if 0.0 <= value <= FLOAT32_MAX and math.copysign(1.0, value) > 0:  # -0.0 as written
            return value
    return alpha


def _apply_alpha_array(
    whole: Callable[[np.ndarray, np.ndarray], np.ndarray],
    x: np.ndarray,
    alpha: np.ndarray,
    out_dtype: np.dtype[Any],
    work: np.dtype[Any],
    out: np.ndarray | None,
) -> Any:
    w = x if x.dtype == work else x.astype(work)
    # alpha in the working dtype (half precisions: float32), the result in x's.
    y = whole(w, alpha.astype(work, copy=False))  # new memory, so out may be x
    if out is not None:
        _cast_into(out, y)
        return out
    if y.dtype != out_dtype:
        y = _astype(y, out_dtype)
    return y[()] if y.ndim == 0 else y


# Whole-array forms, for an array alpha. where(x > 0, 0, x) rather than
# minimum(x, 0) keeps -0.0; the values of alpha are not checked, so the formula
# applies as written (its warnings for an inf alpha are the caller's choice).
def _elu_whole(w: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    positive = w > 0
    t = np.where(positive, 0, w)
    np.expm1(t, out=t)
    with np.errstate(invalid="ignore"):
        np.multiply(t, alpha, out=t)
    # Zeros (and NaN) as they are, whatever alpha holds (NaN and inf included).
    np.copyto(t, w, where=~(w < 0))
    return t


def _derivative_whole(w: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    positive = w > 0
    t = np.where(positive, 0, w)
    np.exp(t, out=t)
    with np.errstate(invalid="ignore", over="ignore"):
        np.multiply(t, alpha, out=t)
        _fix_subnormal_exp(w, t, alpha, np.empty(w.shape, dtype=np.bool_))
    np.copyto(t, 1, where=positive)
    return t


#: The ufunc's own loops: a plain array of these with a float alpha needs no
#: checks and no signature (a Python float does not promote them).
_NATIVE = (np.dtype(np.float32), np.dtype(np.float64))
_F32_MAX = float(np.finfo(np.float32).max)


def _straight_to_the_ufunc(x: Any, alpha: Any, out: Any) -> bool:
    """A plain float32/float64 array below the threaded size with a float alpha: on
    a small array the Python around the ufunc costs as much as the work."""
    return (
        out is None
        and type(x) is np.ndarray
        and x.dtype in _NATIVE
        and type(alpha) is float
        and alpha <= _F32_MAX
        and x.size < PARALLEL_MIN
        and _ufuncs is not None
    )


def elu(x: Any, alpha: Any, out: Any = None) -> Any:
    if _straight_to_the_ufunc(x, alpha, out):
        return _ufuncs.elu(x, alpha)
    return _apply(_elu_small, _elu_block, _elu_whole, x, alpha, "elu", out)


def elu_derivative(x: Any, alpha: Any, out: Any = None) -> Any:
    if _straight_to_the_ufunc(x, alpha, out):
        return _ufuncs.elu_derivative(x, alpha)
    return _apply(
        _derivative_small, _derivative_block, _derivative_whole, x, alpha, "elu_derivative", out
    )


def devices() -> list[str]:
    return ["cpu"]


def from_numpy(a: np.ndarray) -> np.ndarray:
    return a


def to_numpy(y: Any) -> np.ndarray:
    return np.asarray(y)
