"""The argument checks: every check of ``x``, ``alpha`` and ``out``, and their errors.

The public functions check a number ``alpha`` (:func:`check_alpha`) and
refuse ``out=`` for immutable arrays (:func:`refuse_out_if_immutable`); each
backend checks the rest with the functions here (docs/adding-a-backend.rst
lists which). Every error names its argument, says what was given (one way:
:func:`describe`) and what is accepted (docs/contract.rst).

Memory checks work on plain layouts, ``(pointer, shape, strides, itemsize)``
with strides in bytes, so NumPy, CuPy and PyTorch arrays share one
implementation; NumPy is the one framework imported here (unielu's own
dependency), for the NumPy backend's checks at the end.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any, cast

import numpy as np  # imported by unielu already

from unielu._registry import registry, spec_of

__all__ = [
    "FLOAT32_MAX",
    "FLOAT64_MAX",
    "Layout",
    "accepted",
    "alpha_device_error",
    "alpha_type_error",
    "check_alpha",
    "check_alpha_fits",
    "check_alpha_shape",
    "check_layer_alpha",
    "check_num_parameters",
    "check_numpy_alpha",
    "check_numpy_out",
    "check_out_layout",
    "check_takes_ufuncs",
    "describe",
    "dtype_error",
    "internal_overlap",
    "is_alpha_dtype",
    "out_error",
    "overlap",
    "refuse_out_if_immutable",
    "x_type_error",
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


# -- x ---------------------------------------------------------------------------------


def accepted() -> str:
    """What ``x`` may be, in words, for error messages."""
    names = [b.description for b in registry() if b.description]
    return "; ".join(names)


def x_type_error(x: Any, func: str) -> TypeError:
    """The error for an ``x`` that no backend takes."""
    return TypeError(
        f"unielu.{func}() argument 'x' must be an array: {accepted()}; got {describe(x)}"
    )


def dtype_error(func: str, dtype: object, default_float: str) -> TypeError:
    """The one error every backend raises for an unsupported dtype."""
    return TypeError(
        f"unielu.{func}() argument 'x' has unsupported dtype {dtype}; accepted: "
        f"float16, bfloat16, float32, float64 (kept), or integer and bool "
        f"(promoted to {default_float})"
    )


# -- alpha -----------------------------------------------------------------------------


def check_alpha(alpha: Any, func: str) -> Any:
    """Return a number ``alpha`` as a Python float, pass an array ``alpha`` through.

    The public functions skip this call for a plain finite ``float > 0``. A
    number is returned as a float ``>= 0``, ``-0.0`` as ``+0.0``
    (docs/contract.rst); one too large for a float64 is refused here, one
    too large for a float32 compute dtype by the backend
    (:func:`check_alpha_fits`). An array (anything with ``shape`` and
    ``dtype`` that is not a NumPy scalar) is returned as it is: the backend
    checks its framework and dtype (:func:`alpha_type_error`), device
    (:func:`alpha_device_error`) and shape (:func:`check_alpha_shape`). Its
    values are not checked, since that would need a device synchronisation.
    """
    if isinstance(alpha, (bool, np.bool_)):
        raise TypeError(
            f"unielu.{func}() argument 'alpha' must be a real number or an array of the "
            f"input's framework; got a bool ({alpha!r})"
        )
    if isinstance(alpha, (np.timedelta64, np.datetime64)):  # timedelta64 is a signedinteger
        raise TypeError(
            f"unielu.{func}() argument 'alpha' must be a real number or an array of the "
            f"input's framework; got {describe(alpha)} ({alpha!r}), a time, not a number"
        )
    if isinstance(alpha, (numbers.Real, np.integer, np.floating)):
        try:
            value = float(alpha)
        except OverflowError:  # a Python int or Fraction beyond float64
            value = math.inf if cast(Any, alpha) > 0 else -math.inf
        if not (0.0 <= value < math.inf):
            raise ValueError(
                f"unielu.{func}() argument 'alpha' must be finite and >= 0; got {_short(alpha)}; "
                f"accepted: a real number from 0 to the largest finite float64 "
                f"({sys.float_info.max!r})"
            )
        return value + 0.0  # -0.0 means 0.0
    try:
        is_array = hasattr(alpha, "shape") and hasattr(alpha, "dtype")
    except Exception:  # a property that raises (PyTorch's nested tensors): the backend says why
        is_array = True
    if is_array and not isinstance(alpha, np.generic):
        return alpha
    raise TypeError(
        f"unielu.{func}() argument 'alpha' must be a real number (int, float or NumPy "
        f"real scalar) or an array of the input's framework; got {describe(alpha)}"
    )


def _short(value: Any) -> str:
    """repr of a value, its middle cut out if long (10**400 has 401 digits)."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:30]}...{text[-12:]} ({len(text)} characters)"


def check_alpha_fits(alpha: float, compute_dtype: object, func: str) -> None:
    """Refuse a number alpha larger than the compute dtype's largest finite value.

    ``compute_dtype`` is the dtype the backend computes ``x`` in, as its
    framework gives it (``x.dtype`` once integers are promoted; ``str`` of it
    says ``float64`` in every framework: ``float64``, ``torch.float64``,
    ``<dtype: 'float64'>``), or its name: float64 where that text says so,
    else float32 (float16, bfloat16 and float32 inputs are computed in
    float32), which refuses rather than lets a large alpha through. Every
    compute dtype holds an alpha up to ``FLOAT32_MAX``: one comparison, the
    dtype not read (a hot path may make that comparison itself first).
    """
    if alpha <= FLOAT32_MAX:
        return
    name = "float64" if "float64" in str(compute_dtype).lower() else "float32"
    largest = FLOAT64_MAX if name == "float64" else FLOAT32_MAX
    if alpha > largest:
        raise ValueError(
            f"unielu.{func}() argument 'alpha' is {alpha!r}, larger than the largest finite "
            f"value of the compute dtype {name} ({largest!r}), where it would become "
            f"inf; accepted: a finite number <= {largest!r} (float16, bfloat16 and float32 "
            f"inputs are computed in float32), or a float64 input"
        )


def check_alpha_shape(alpha_shape: Any, x_shape: Any, func: str) -> None:
    """Refuse an array ``alpha`` that does not broadcast to ``x``'s shape unchanged."""
    a, x = tuple(alpha_shape), tuple(x_shape)
    ok = len(a) <= len(x) and all(
        d == 1 or d == e for d, e in zip(reversed(a), reversed(x), strict=False)
    )
    if not ok:
        raise ValueError(
            f"unielu.{func}() argument 'alpha' of shape {a} does not broadcast to the "
            f"shape {x} of 'x' without changing it; accepted: a number, a 0-d array, or "
            f"an array broadcastable to {x} (one value per channel, for example)"
        )


def alpha_type_error(func: str, alpha: Any, accepted: str) -> TypeError:
    """The error for an array ``alpha`` of the wrong framework or dtype."""
    dtype = getattr(alpha, "dtype", None)
    return TypeError(
        f"unielu.{func}() argument 'alpha' must be a real number or {accepted} of a real "
        f"floating or integer dtype; got {describe(alpha)} of dtype {dtype}"
    )


def alpha_device_error(func: str, alpha_device: object, x_device: object, move: str) -> TypeError:
    """The error for an array ``alpha`` on another device than ``x``."""
    return TypeError(
        f"unielu.{func}() argument 'alpha' is on device {alpha_device} but 'x' is on "
        f"{x_device}; accepted: a number, or an array on x's device ({move}; unielu never "
        f"copies alpha between devices implicitly)"
    )


# -- out -------------------------------------------------------------------------------


def check_num_parameters(num_parameters: Any, learn_alpha: bool, layer: str) -> int:
    """A layer's ``num_parameters``: 1, or the number of channels of a learned alpha."""
    if isinstance(num_parameters, bool) or not isinstance(num_parameters, int):
        raise TypeError(
            f"unielu.{layer}() argument 'num_parameters' must be an int; "
            f"got {type(num_parameters).__qualname__}"
        )
    if num_parameters < 1 or (num_parameters > 1 and not learn_alpha):
        raise ValueError(
            f"unielu.{layer}() argument 'num_parameters' must be 1, or the number of "
            f"channels with learn_alpha=True; got {num_parameters} with learn_alpha={learn_alpha}"
        )
    return num_parameters


def refuse_out_if_immutable(module: ModuleType, out: Any, func: str) -> None:
    """Refuse ``out=`` for a backend whose arrays cannot be written.

    The public functions call this; a mutable backend then checks ``out``
    itself (its shape, dtype, device and memory: :func:`check_out_layout`).
    """
    spec = spec_of(module)
    if not spec.mutable:
        mutable = ", ".join(b.name for b in registry() if b.mutable)
        raise TypeError(
            f"unielu.{func}() argument 'out' must be None for {spec.name} arrays, "
            f"which cannot be written in place; got {describe(out)}. "
            f"out= is accepted for the backends {mutable}"
        )


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


# -- NumPy arrays (the NumPy backend; Dask's NumPy alpha) ------------------------------


def is_alpha_dtype(dtype: np.dtype[Any]) -> bool:
    """A NumPy dtype an array ``alpha`` may have: integer, or floating of 16 bits or
    more (ml_dtypes' bfloat16 included, its float8 types not)."""
    return (
        dtype.kind in "iu"
        or (dtype.kind == "f" and dtype.itemsize >= 2)
        or dtype.name == "bfloat16"
    )


def check_takes_ufuncs(x: Any, func: str) -> None:
    """Refuse an ndarray subclass that refuses NumPy ufuncs."""
    if getattr(type(x), "__array_ufunc__", True) is None:
        raise TypeError(
            f"unielu.{func}() argument 'x' is a {describe(x)}, "
            f"an ndarray subclass that refuses NumPy ufuncs (__array_ufunc__ = None); "
            f"accepted: a NumPy array or scalar (subclasses that take ufuncs included)"
        )


def check_numpy_alpha(alpha: Any, x: np.ndarray, func: str) -> Any:
    """A checked NumPy array ``alpha``: a float if it holds one valid value, else the array."""
    if not isinstance(alpha, np.ndarray) or not is_alpha_dtype(alpha.dtype):
        raise alpha_type_error(func, alpha, "a NumPy array")
    check_alpha_shape(alpha.shape, x.shape, func)
    if alpha.size == 1:  # one value, broadcast: the scalar path, with the same results
        value = float(alpha.reshape(()))
        if 0.0 <= value <= FLOAT32_MAX and math.copysign(1.0, value) > 0:  # -0.0 as written
            return value
    return alpha


def check_numpy_out(out: Any, x: np.ndarray, dtype: np.dtype[Any], func: str) -> bool:
    """Refuse an unusable NumPy ``out`` for a result of ``dtype``, before anything is
    written; True if out is x (in place)."""

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

    def layout(a: np.ndarray) -> Layout:
        return a.__array_interface__["data"][0], a.shape, a.strides, a.itemsize

    contiguous = out.flags.c_contiguous or out.flags.f_contiguous  # no element shares memory
    if not contiguous or np.may_share_memory(x, out):  # bounds only: cheap
        return check_out_layout(
            func, layout(out), [layout(x)], got(), wanted(), x.dtype == out.dtype
        )
    return False


def check_layer_alpha(alpha: object, layer: str) -> float:
    """``alpha`` for a layer: a finite real number ``>= 0``, as a float.

    Raises ``TypeError`` (not a real number: arrays too, since a layer's
    learned alpha is its own parameter) or ``ValueError`` (negative, NaN or
    infinite), naming the layer and ``'alpha'``.
    """
    value = check_alpha(alpha, layer)
    if not isinstance(value, float):
        raise TypeError(
            f"unielu.{layer}() argument 'alpha' must be a real number (int, float or NumPy "
            f"real scalar); got {describe(alpha)} (for a trainable alpha pass learn_alpha=True)"
        )
    return value
