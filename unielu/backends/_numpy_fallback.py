"""The NumPy backend's pure-NumPy path, where the compiled kernel is not built,
is turned off (``UNIELU_KERNEL=numpy``), or does not take the dtype (longdouble).

The work is done in cache-sized blocks with in-place ufuncs, so a call reads
the input once, writes the output once and allocates nothing beyond the
output and a few block-sized scratch buffers. The formula is branch-free:

    elu(x) = max(x, 0) + alpha * expm1(min(x, 0)),  then zeros copied from x
           = max(x, alpha * expm1(min(x, 0)))       when alpha <= 1

``min(x, 0)`` keeps ``expm1`` away from overflow for large ``x``; copying the
zeros back restores the sign of ``-0.0`` that ``min`` and ``max`` lose. Large
arrays are split over the threads of ``unielu._threads``. ``out=`` writes the
blocks straight into ``out``: no allocation, no page faults on fresh memory.
An array ``alpha`` (one value per channel, say) takes a whole-array path with
``where``, written for clarity rather than speed.

Each function has three forms: ``small`` (whole-array ufuncs, for small
arrays), ``block`` (one block, in place into scratch) and ``alpha_array``
(whole-array, for an array alpha).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import numpy as np

from unielu._threads import ranges, run_split, threads_for

#: Elements per block: big enough that per-call ufunc overhead is small, small
#: enough that the block and its scratch stay in L2 (measured best at 2**16).
BLOCK = 1 << 16
#: Up to this many elements, whole-array ufuncs: fewest calls, since each
#: ufunc call costs about as much as the arithmetic on a small array.
SMALL = 1 << 12

_FLOAT64 = np.dtype(np.float64)


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


# Whole-array forms, for an array alpha. where(x > 0, 0, x) rather than
# minimum(x, 0) keeps -0.0; the values of alpha are not checked, so the formula
# applies as written (its warnings for an inf alpha are the caller's choice).
def _elu_alpha_array(w: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    positive = w > 0
    t = np.where(positive, 0, w)
    np.expm1(t, out=t)
    with np.errstate(invalid="ignore"):
        np.multiply(t, alpha, out=t)
    # Zeros (and NaN) as they are, whatever alpha holds (NaN and inf included).
    np.copyto(t, w, where=~(w < 0))
    return t


def _derivative_alpha_array(w: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    positive = w > 0
    t = np.where(positive, 0, w)
    np.exp(t, out=t)
    with np.errstate(invalid="ignore", over="ignore"):
        np.multiply(t, alpha, out=t)
        _fix_subnormal_exp(w, t, alpha, np.empty(w.shape, dtype=np.bool_))
    np.copyto(t, 1, where=positive)
    return t


Block = Callable[[np.ndarray, np.ndarray, float, _Scratch], None]


class _Forms(NamedTuple):
    small: Callable[[np.ndarray, float], Any]
    block: Block
    alpha_array: Callable[[np.ndarray, np.ndarray], np.ndarray]


_FORMS = {
    "elu": _Forms(_elu_small, _elu_block, _elu_alpha_array),
    "elu_derivative": _Forms(_derivative_small, _derivative_block, _derivative_alpha_array),
}


def compute(
    func: str,
    x: np.ndarray,
    alpha: Any,
    out_dtype: np.dtype[Any],
    work: np.dtype[Any],
    out: np.ndarray | None,
    in_place: bool,
) -> Any:
    """``func`` of checked arguments: the result dtype ``out_dtype``, computed in
    ``work``; ``in_place`` when ``out`` is ``x``."""
    if type(x) is not np.ndarray:
        # An ndarray subclass: the values of its base array, in a result wrapped as
        # NumPy's own ufuncs wrap it (np.positive's), at every size.
        y = compute(func, np.asarray(x), alpha, out_dtype, work, out, in_place)
        if out is not None:
            return out
        wrapped = np.positive(x)
        np.asarray(wrapped)[...] = y
        return wrapped
    forms = _FORMS[func]
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
            return _with_alpha_array(forms.alpha_array, x, alpha, out_dtype, work, out)
    if x.size <= SMALL:
        with np.errstate(invalid="ignore"):  # a signaling NaN (see _Blocked.run)
            w = x if x.dtype == work else x.astype(work)
            y = forms.small(w if w.ndim else w.reshape(1), alpha)  # 0-d: ufuncs give scalars
        if out is not None:  # y is new memory, so out may be x
            cast_into(out, y.reshape(out.shape))
            return out
        if y.dtype != out_dtype:
            y = cast(y, out_dtype)
        return y if x.ndim else y[0]
    if out is not None and (out.flags.c_contiguous or out.flags.f_contiguous):
        # Straight into out (it may be x: the blocks are then staged).
        order: Literal["C", "F"] = "C" if out.flags.c_contiguous else "F"
        # out ravels to a view (of the base class); x to a view, or one copy if
        # it is laid out otherwise.
        flat_out = np.asarray(out).ravel(order=order)
        _Blocked(forms.block, alpha, work, in_place)(x.ravel(order=order), flat_out)
        return out
    if not (x.flags.c_contiguous or x.flags.f_contiguous):
        x = np.ascontiguousarray(x)  # strided input: one copy, then the fast path
    # Same memory order as x, so both ravel to views that match element by element.
    y = np.empty_like(x, dtype=out_dtype, order="K", subok=False)
    _Blocked(forms.block, alpha, work)(x.ravel(order="K"), y.ravel(order="K"))
    if out is not None:  # strided out: computed into new memory, then one copy
        np.copyto(out, y)
        return out
    return y[()] if y.ndim == 0 else y


class _Blocked(NamedTuple):
    """``block`` over 1-d contiguous arrays, block by block, split across threads
    when large. The block forms read ``x`` after writing ``out``: in place, each
    block of x is first copied to scratch."""

    block: Block
    alpha: float
    work: np.dtype[Any]
    in_place: bool = False

    def __call__(self, flat_x: np.ndarray, flat_out: np.ndarray) -> None:
        n = flat_x.size
        run_split([
            functools.partial(self.run, flat_x[a:b], flat_out[a:b])
            for a, b in ranges(n, threads_for(n))
        ])  # fmt: skip

    def run(self, x: np.ndarray, out: np.ndarray) -> None:
        n, work = x.size, self.work
        if n == 0:
            return
        step = min(n, BLOCK)
        scratch = _Scratch(step, work)
        stage_in = self.in_place or x.dtype != work
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
                self.block(xb, wout[:m] if stage_out else ob, self.alpha, scratch)
                if stage_out:
                    cast_into(ob, wout[:m])


def _with_alpha_array(
    alpha_array: Callable[[np.ndarray, np.ndarray], np.ndarray],
    x: np.ndarray,
    alpha: np.ndarray,
    out_dtype: np.dtype[Any],
    work: np.dtype[Any],
    out: np.ndarray | None,
) -> Any:
    w = x if x.dtype == work else x.astype(work)
    # alpha in the working dtype (half precisions: float32), the result in x's.
    y = alpha_array(w, alpha.astype(work, copy=False))  # new memory, so out may be x
    if out is not None:
        cast_into(out, y)
        return out
    if y.dtype != out_dtype:
        y = cast(y, out_dtype)
    return y[()] if y.ndim == 0 else y


# Half precisions overflow to inf, as rounding says, and a signaling NaN becomes a
# NaN (ml_dtypes' bfloat16 cast flags it invalid): results, not warnings. The
# compiled kernel's driver (backends/numpy.py) casts with these too.
def cast_into(dst: np.ndarray, src: np.ndarray) -> None:
    with np.errstate(over="ignore", invalid="ignore"):
        np.copyto(dst, src, casting="unsafe")


def cast(y: Any, dtype: np.dtype[Any]) -> Any:
    with np.errstate(over="ignore", invalid="ignore"):
        return y.astype(dtype)
