"""CuPy backend: one fused elementwise kernel per function, on the input's GPU.

Each kernel reads the input once and writes the output once (a ``where`` /
``expm1`` / ``minimum`` composition would make four or five passes). It runs
with the input's device current and on the current stream, without a host
synchronisation. float16 is computed in float32 and rounded once; CuPy
compiles each kernel once per dtype and caches it.

``alpha`` may be a CuPy array on ``x``'s device (0-d, or broadcastable to
``x``'s shape, e.g. one value per channel; real floating or integer dtype):
the kernel broadcasts it, still in one pass. ``out=`` is the kernel's output
argument: a CuPy array of ``x``'s shape, the result dtype and device, which
may be ``x`` itself (each element is read before it is written).
"""

from __future__ import annotations

from typing import Any

import cupy as cp
import numpy as np

from unielu._dispatch import alpha_type_error, check_alpha_shape, dtype_error

# Read by unielu._dispatch from this source, without importing the module: literals only.
SPEC = {
    "name": "cupy",
    "framework": "cupy",
    "requirement": "cupy-cuda12x",
    "priority": 20,
    "types": ["cupy:ndarray"],
    "description": "a CuPy array",
    "mutable": True,
    "needs_gpu": True,
}


# T is the array dtype. CuPy binds type placeholders from array arguments
# only, so a number alpha arrives as float64, an array alpha binds its own
# placeholder A, and the compute type C is derived from T in C++: float32 for
# half and single precision, float64 for double.
_PREAMBLE = """
template <typename T> struct unielu_compute { typedef float type; };
template <> struct unielu_compute<double> { typedef double type; };
"""
# The ternary never evaluates expm1/exp for x > 0 (no overflow); NaN takes
# the second branch and stays NaN; -0.0 gives alpha * expm1(-0.0) = -0.0.
_BODIES = {
    "elu": "v > 0 ? v : a * expm1(v)",
    "elu_derivative": "v > 0 ? (C)1 : a * exp(v)",
}


def _kernel(func: str, alpha_type: str, suffix: str) -> Any:
    return cp.ElementwiseKernel(
        f"T x, {alpha_type} alpha",
        "T y",
        "typedef typename unielu_compute<T>::type C;"
        f"const C v = (C)x; const C a = (C)alpha; y = (T)({_BODIES[func]});",
        f"unielu_{func}{suffix}",
        preamble=_PREAMBLE,
    )


#: func -> (kernel for a number alpha, kernel for an array alpha)
_KERNELS = {func: (_kernel(func, "float64", ""), _kernel(func, "A", "_alpha")) for func in _BODIES}


def _launch(func: str, x: Any, alpha: Any, out: Any) -> Any:
    with x.device:  # the input's GPU, whichever is current
        source = x
        if x.dtype.kind in "biu":
            x = x.astype(cp.float64)
        elif x.dtype not in (np.float16, np.float32, np.float64):
            raise dtype_error(func, x.dtype, "float64")
        if isinstance(alpha, float):
            kernel, alpha = _KERNELS[func][0], np.float64(alpha)
        else:
            _check_alpha(alpha, x, func)
            kernel = _KERNELS[func][1]
        if out is None:
            return kernel(x, alpha)
        _check_out(out, x, source, func)
        return kernel(x, alpha, out)


def elu(x: Any, alpha: Any, out: Any = None) -> Any:
    return _launch("elu", x, alpha, out)


def elu_derivative(x: Any, alpha: Any, out: Any = None) -> Any:
    return _launch("elu_derivative", x, alpha, out)


def _check_alpha(alpha: Any, x: Any, func: str) -> None:
    if not isinstance(alpha, cp.ndarray) or alpha.dtype.kind not in "fiu":
        raise alpha_type_error(func, alpha, f"a cupy.ndarray on x's device (cuda:{x.device.id})")
    check_alpha_shape(alpha.shape, x.shape, func)
    if alpha.device.id != x.device.id:
        raise TypeError(
            f"unielu.{func}() argument 'alpha' is on cuda:{alpha.device.id} but 'x' is on "
            f"cuda:{x.device.id}; accepted: a number, or a CuPy array on x's device "
            f"(unielu never copies it between devices implicitly)"
        )


def _check_out(out: Any, x: Any, source: Any, func: str) -> None:
    """Refuse an ``out`` that cannot take the result, before anything is written.

    ``x`` is the array the kernel reads, ``source`` the one the caller gave
    (they differ when integers were promoted); ``out`` must not overlap
    ``source`` other than by being it.
    """
    wanted = f"a cupy.ndarray of shape {x.shape}, dtype {x.dtype} on cuda:{x.device.id}"
    got = (
        f"a cupy.ndarray of shape {out.shape}, dtype {out.dtype} on cuda:{out.device.id}"
        if isinstance(out, cp.ndarray)
        else f"{type(out).__module__}.{type(out).__qualname__}"
    )

    def refuse(error: type[Exception], why: str) -> Exception:
        return error(f"unielu.{func}() argument 'out' {why}; got {got}; accepted: {wanted}")

    if not isinstance(out, cp.ndarray):
        raise refuse(TypeError, "must be a CuPy array")
    if out.dtype != x.dtype:
        raise refuse(TypeError, "must have the result dtype")
    if out.device.id != x.device.id:
        raise refuse(TypeError, "must be on the device of 'x'")
    if out.shape != x.shape:
        raise refuse(ValueError, "must have the shape of 'x'")
    if any(s == 0 and n > 1 for n, s in zip(out.shape, out.strides, strict=True)):
        raise refuse(ValueError, "has elements that share memory (a broadcast view?)")
    if _partial_overlap(out, source):
        raise refuse(
            ValueError,
            "overlaps the memory of 'x' without being 'x' itself (same memory, dtype and "
            "strides), so the result would depend on the order elements are written",
        )


def _partial_overlap(a: Any, b: Any) -> bool:
    """True if a and b may share memory without being the same elements (in-place is fine)."""
    if a.size == 0 or b.size == 0:
        return False

    def extent(t: Any) -> tuple[int, int]:
        low = sum(min(0, (n - 1) * s) for n, s in zip(t.shape, t.strides, strict=True))
        high = sum(max(0, (n - 1) * s) for n, s in zip(t.shape, t.strides, strict=True))
        return t.data.ptr + low, t.data.ptr + high + t.itemsize

    (a_lo, a_hi), (b_lo, b_hi) = extent(a), extent(b)
    if a_hi <= b_lo or b_hi <= a_lo:
        return False  # disjoint
    same = a.data.ptr == b.data.ptr and a.dtype == b.dtype
    return not (
        same and all(s == t for n, s, t in zip(a.shape, a.strides, b.strides, strict=True) if n > 1)
    )


def devices() -> list[str]:
    return [f"cuda:{i}" for i in range(cp.cuda.runtime.getDeviceCount())]


def from_numpy(a: Any) -> Any:
    return cp.asarray(a)


def to_numpy(y: Any) -> Any:
    return cp.asnumpy(y)
