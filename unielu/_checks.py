"""Argument checks shared by the backends: ``out=`` and ``alpha``.

Memory checks work on plain layouts, ``(pointer, shape, strides, itemsize)``
with strides in bytes, so NumPy, CuPy and PyTorch arrays share one
implementation and no framework is imported here. Every error names its
argument, says what was given and what is accepted (docs/contract.rst).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np  # imported by unielu already

__all__ = [
    "FLOAT32_MAX", "FLOAT64_MAX", "Layout", "alpha_device_error", "check_alpha_fits",
    "check_out_layout", "describe", "internal_overlap", "out_error", "overlap",
]  # fmt: skip

#: Largest finite float32 and float64: a number alpha above the compute dtype's is refused.
FLOAT32_MAX = 3.4028234663852886e38
FLOAT64_MAX = 1.7976931348623157e308

#: ``(pointer, shape, strides in bytes, itemsize)`` of an array.
Layout = tuple[int, Sequence[int], Sequence[int], int]

#: Above this many elements, an ``out`` whose strides interleave is not
#: enumerated element by element: it is refused as possibly self-overlapping.
_ENUMERATE_MAX = 1 << 20


def describe(value: Any) -> str:
    """``module.Type`` of a value, for messages."""
    return f"{type(value).__module__}.{type(value).__qualname__}"


def _extent(layout: Layout) -> tuple[int, int]:
    """[low, high) byte range that the elements of a non-empty layout touch."""
    ptr, shape, strides, itemsize = layout
    low = sum(min(0, (n - 1) * s) for n, s in zip(shape, strides, strict=True))
    high = sum(max(0, (n - 1) * s) for n, s in zip(shape, strides, strict=True))
    return ptr + low, ptr + high + itemsize


def internal_overlap(layout: Layout) -> bool:
    """True if two elements of the layout share memory (zero or interleaved strides).

    Exact: the dimensions sorted by stride must nest (each stride at least the
    extent of the smaller ones); where they do not, the element offsets are
    enumerated (a refusal above :data:`_ENUMERATE_MAX` elements, where that
    would cost more than the call).
    """
    _, shape, strides, itemsize = layout
    dims = sorted((abs(s), n) for n, s in zip(shape, strides, strict=True) if n > 1)
    if any(n == 0 for n in shape) or not dims:
        return False
    if dims[0][0] == 0:
        return True
    span = itemsize
    for stride, n in dims:
        if stride < span:
            break
        span = stride * (n - 1) + span
    else:
        return False  # the dimensions nest: every element has its own bytes
    count = math.prod(n for _, n in dims)
    if count > _ENUMERATE_MAX:
        return True
    offsets = _offsets(layout)
    return bool((np.diff(offsets) < itemsize).any())


def _offsets(layout: Layout) -> Any:
    """The sorted byte addresses of a layout's elements."""
    ptr, shape, strides, _ = layout
    offsets = np.full(1, ptr, dtype=np.int64)
    for n, stride in zip(shape, strides, strict=True):
        offsets = (offsets[:, None] + stride * np.arange(n, dtype=np.int64)).ravel()
    offsets.sort()
    return offsets


def _progressions(a: Layout, b: Layout) -> str | None:
    """Two 1-d layouts with one stride (x = buf[::2], out = buf[1::2], at any
    size), exactly and at once: ``"partial"``, ``"disjoint"``, or None for others."""
    if len(a[1]) != 1 or len(b[1]) != 1 or a[2][0] != b[2][0] or a[2][0] == 0:
        return None
    (pa, (na,), (step,), ia), (pb, (nb,), _, ib) = a, b
    if step < 0:  # the same elements, walked forwards
        pa, pb, step = pa + (na - 1) * step, pb + (nb - 1) * step, -step
    # Element i of a and element j of b share bytes iff -ib < d + m*step < ia,
    # with d = pb - pa and m = j - i in [-(na - 1), nb - 1].
    d = pb - pa
    m = max((-ib - d) // step + 1, -(na - 1))  # the smallest m above the lower bound
    return "partial" if m <= nb - 1 and d + m * step < ia else "disjoint"


def overlap(a: Layout, b: Layout) -> str:
    """``"disjoint"``, ``"same"`` (same elements: in place) or ``"partial"``."""
    if any(n == 0 for n in a[1]) or any(n == 0 for n in b[1]):
        return "disjoint"
    (a_lo, a_hi), (b_lo, b_hi) = _extent(a), _extent(b)
    if a_hi <= b_lo or b_hi <= a_lo:
        return "disjoint"
    same = (
        a[0] == b[0]
        and a[3] == b[3]
        and tuple(a[1]) == tuple(b[1])
        and all(s == t for n, s, t in zip(a[1], a[2], b[2], strict=True) if n > 1)
    )
    if same:
        return "same"
    line = _progressions(a, b)
    if line is not None:
        return line
    if math.prod(a[1]) + math.prod(b[1]) > _ENUMERATE_MAX:
        return "partial"  # their bounds overlap: taken as overlapping
    # Interleaved views of one buffer (x = buf[::2], out = buf[1::2]) are disjoint.
    oa, ob = _offsets(a), _offsets(b)
    i = np.searchsorted(oa, ob, side="right")  # first element of a after each of b
    after = (i < oa.size) & (oa[np.minimum(i, oa.size - 1)] < ob + b[3])
    before = (i > 0) & (oa[np.maximum(i - 1, 0)] + a[3] > ob)
    return "partial" if bool((after | before).any()) else "disjoint"


def out_error(
    func: str, why: str, got: str, wanted: str, error: type[Exception] = ValueError
) -> Exception:
    """The error for an unusable ``out``: what is wrong, what was given, what is accepted."""
    return error(f"unielu.{func}() argument 'out' {why}; got {got}; accepted: {wanted}")


def check_out_layout(
    func: str,
    out: Layout,
    sources: Sequence[Layout],
    got: str,
    wanted: str,
    same_dtype: bool = True,
) -> bool:
    """Refuse an ``out`` whose elements share memory, or that partly overlaps an input.

    ``sources`` are the layouts the call reads (``x``, an array ``alpha``).
    Returns True when ``out`` is the first of them itself (in place), which
    needs ``same_dtype`` too: x's bytes seen as another dtype are refused.
    """
    if internal_overlap(out):
        raise out_error(
            func,
            "has elements that share memory (a broadcast, expanded or as_strided view with "
            "zero or overlapping strides), so one element's result would overwrite another's",
            got,
            wanted,
        )
    in_place = False
    for i, source in enumerate(sources):
        relation = overlap(out, source)
        if relation == "same" and i == 0 and same_dtype:
            in_place = True
        elif relation != "disjoint":
            name = "'x'" if i == 0 else "'alpha'"
            raise out_error(
                func,
                f"overlaps the memory of {name} without being 'x' itself (same memory, dtype "
                "and strides), so the result would depend on the order elements are written",
                got,
                wanted,
            )
    return in_place


def check_alpha_fits(alpha: float, compute_dtype: str, func: str) -> None:
    """Refuse a number alpha larger than the compute dtype's largest finite value.

    ``compute_dtype`` is ``"float64"`` or ``"float32"`` (float16, bfloat16 and
    float32 inputs are computed in float32). Backends call this only for
    ``alpha > FLOAT32_MAX``: below that every compute dtype holds it.
    """
    largest = FLOAT64_MAX if compute_dtype == "float64" else FLOAT32_MAX
    if alpha > largest:
        raise ValueError(
            f"unielu.{func}() argument 'alpha' is {alpha!r}, larger than the largest finite "
            f"value of the compute dtype {compute_dtype} ({largest!r}), where it would become "
            f"inf; accepted: a finite number <= {largest!r} (float16, bfloat16 and float32 "
            f"inputs are computed in float32), or a float64 input"
        )


def alpha_device_error(func: str, alpha_device: object, x_device: object, move: str) -> TypeError:
    """The error for an array ``alpha`` on another device than ``x``."""
    return TypeError(
        f"unielu.{func}() argument 'alpha' is on device {alpha_device} but 'x' is on "
        f"{x_device}; accepted: a number, or an array on x's device ({move}; unielu never "
        f"copies alpha between devices implicitly)"
    )
