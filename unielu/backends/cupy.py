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

from unielu._checks import (
    alpha_device_error,
    alpha_type_error,
    check_alpha_fits,
    check_alpha_shape,
    check_out_layout,
    describe,
    dtype_error,
    out_error,
)

# Read by unielu._registry from this source, without importing the module: literals only.
SPEC = {
    "name": "cupy",
    "framework": "cupy",
    "requirement": "cupy-cuda12x>=13.4",
    "priority": 20,
    "types": ["cupy:ndarray"],
    "description": "a CuPy array",
    "mutable": True,
    "needs_gpu": True,
    "newest_tested": "cupy-cuda12x 14.2 (on an NVIDIA H200)",
    "not_at_floor": "declared; tested on a GPU machine only, at the newest release (nox -s gpu)",
}


# CuPy compiles every kernel with -ftz=true (it cannot be turned off): single
# precision reads subnormal inputs as 0 and flushes subnormal results, which
# the contract does not allow here. So float32 is tested from its bits, tiny
# values are computed exactly in double (which -ftz leaves alone), and results
# below FLT_MIN are rounded to float32 by hand. float16 is computed in float32
# (where its subnormals are normal numbers) and float64 as it is.
_PREAMBLE = r"""
template <typename T> struct unielu_compute { typedef float type; };
template <> struct unielu_compute<double> { typedef double type; };

__device__ __forceinline__ double unielu_exact(float x) {  // float32 -> double, subnormals too
    const unsigned int b = __float_as_uint(x);
    if ((b & 0x7f800000u) != 0u) return (double)x;
    const double m = (double)(b & 0x007fffffu) * 0x1p-149;
    return (b >> 31) ? -m : m;
}

__device__ __forceinline__ float unielu_round(double r) {  // double -> float32, subnormals too
    const double m = fabs(r);
    if (!(m < 0x1p-126)) return (float)r;
    const unsigned int q = (unsigned int)rint(m * 0x1p149);
    return __uint_as_float((signbit(r) ? 0x80000000u : 0u) | q);
}

// The ternary never evaluates expm1/exp for x > 0 (no overflow); NaN takes the
// second branch and stays NaN; -0.0 gives alpha * expm1(-0.0) = -0.0.
template <typename T, typename A>
__device__ __forceinline__ T unielu_elu(T x, A alpha) {
    typedef typename unielu_compute<T>::type C;
    const C v = (C)x;
    const C a = (C)alpha;
    return (T)(v > 0 ? v : a * expm1(v));
}

template <typename A>
__device__ __forceinline__ float unielu_elu(float x, A alpha) {
    if (__float_as_int(x) > 0) return x;  // x > 0, positive subnormals included
    const float a = (float)alpha;
    // |x| < 2**-60: expm1(x) is x to float32 precision, exact in double.
    const bool tiny = (__float_as_uint(x) & 0x7fffffffu) < 0x21800000u;
    if (!tiny) {
        const float r = a * expm1f(x);
        if (!(fabsf(r) < 0x1p-125f)) return r;  // a normal result (or NaN): as computed
    }
    return unielu_round((double)a * (tiny ? unielu_exact(x) : (double)expm1f(x)));
}

template <typename T, typename A>
__device__ __forceinline__ T unielu_elu_derivative(T x, A alpha) {
    typedef typename unielu_compute<T>::type C;
    const C v = (C)x;
    const C a = (C)alpha;
    return (T)(v > 0 ? (C)1 : a * exp(v));
}

template <typename A>
__device__ __forceinline__ float unielu_elu_derivative(float x, A alpha) {
    if (__float_as_int(x) > 0 && !isnan(x)) return 1.0f;  // positive NaN stays NaN
    const float a = (float)alpha;
    if (x >= -87.0f) {
        const float r = a * expf(x);
        if (!(fabsf(r) < 0x1p-125f)) return r;
    }
    // Below log(FLT_MIN) exp(x) alone would be subnormal; NaN too: in double.
    return unielu_round((double)a * (x < -87.0f ? exp((double)x) : (double)expf(x)));
}
"""

# Contiguous arrays and a number alpha: each thread loads ILP elements before it
# computes any, so enough loads are in flight to use the memory bandwidth (an
# ElementwiseKernel has one per thread). A warp's k-th loads are consecutive.
_ILP, _BLOCK = 8, 256
_RAW = r"""
extern "C" __global__ void unielu_FUNC_TYPE(
    const TYPE* __restrict__ x, TYPE* __restrict__ y, const double alpha, const long long n) {
    const long long base = (long long)blockIdx.x * blockDim.x * ILP + threadIdx.x;
    TYPE v[ILP];
#pragma unroll
    for (int k = 0; k < ILP; ++k) {
        const long long i = base + (long long)k * blockDim.x;
        if (i < n) v[k] = x[i];
    }
#pragma unroll
    for (int k = 0; k < ILP; ++k) {
        const long long i = base + (long long)k * blockDim.x;
        if (i < n) y[i] = unielu_FUNC(v[k], alpha);
    }
}
"""
_RAW_TYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}
# float32 arrays aligned to 16 bytes: 16-byte loads and stores, 4 elements each.
_RAW4 = r"""
extern "C" __global__ void unielu_FUNC_float4(
    const float4* __restrict__ x, float4* __restrict__ y, const double alpha, const long long n) {
    const long long base = (long long)blockIdx.x * blockDim.x * 2 + threadIdx.x;
    float4 v[2];
#pragma unroll
    for (int k = 0; k < 2; ++k) {
        const long long i = base + (long long)k * blockDim.x;
        if (i < n) v[k] = x[i];
    }
#pragma unroll
    for (int k = 0; k < 2; ++k) {
        const long long i = base + (long long)k * blockDim.x;
        if (i < n) {
            float4 r;
            r.x = unielu_FUNC(v[k].x, alpha);
            r.y = unielu_FUNC(v[k].y, alpha);
            r.z = unielu_FUNC(v[k].z, alpha);
            r.w = unielu_FUNC(v[k].w, alpha);
            y[i] = r;
        }
    }
}
"""


def _raw_kernel(func: str, ctype: str) -> Any:
    body = _RAW.replace("FUNC", func).replace("TYPE", ctype).replace("ILP", str(_ILP))
    return cp.RawKernel(_PREAMBLE + body, f"unielu_{func}_{ctype}")


def _kernel(func: str, alpha_type: str, suffix: str) -> Any:
    return cp.ElementwiseKernel(
        f"T x, {alpha_type} alpha",
        "T y",
        f"y = unielu_{func}(x, alpha);",
        f"unielu_{func}{suffix}",
        preamble=_PREAMBLE,
    )


#: func -> (kernel for a number alpha, kernel for an array alpha)
_KERNELS = {
    func: (_kernel(func, "float64", ""), _kernel(func, "A", "_alpha"))
    for func in ("elu", "elu_derivative")
}
_RAW4_KERNELS = {
    func: cp.RawKernel(_PREAMBLE + _RAW4.replace("FUNC", func), f"unielu_{func}_float4")
    for func in ("elu", "elu_derivative")
}
#: (func, dtype) -> the contiguous kernel for a number alpha
_RAW_KERNELS = {
    (func, dtype): _raw_kernel(func, ctype)
    for func in ("elu", "elu_derivative")
    for dtype, ctype in _RAW_TYPES.items()
}


def _launch(func: str, x: Any, alpha: Any, out: Any) -> Any:
    with x.device:  # the input's GPU, whichever is current
        source = x
        if x.dtype.kind in "biu":
            x = x.astype(cp.float64)
        elif x.dtype not in (np.float16, np.float32, np.float64):
            raise dtype_error(func, x.dtype, "float64")
        if out is not None:
            _check_out(out, x, source, func)
        if isinstance(alpha, float):
            check_alpha_fits(alpha, x.dtype, func)
            raw = _RAW_KERNELS.get((func, x.dtype))
            if raw is not None and x.flags.c_contiguous:
                y = cp.empty_like(x) if out is None else out
                if y.flags.c_contiguous:
                    _run_raw(func, raw, x, y, np.float64(alpha))
                    return y
            kernel, alpha = _KERNELS[func][0], np.float64(alpha)
        else:
            _check_alpha(alpha, x, func)
            kernel = _KERNELS[func][1]
        return kernel(x, alpha) if out is None else kernel(x, alpha, out)


def _run_raw(func: str, raw: Any, x: Any, y: Any, alpha: Any) -> None:
    n, start = x.size, 0
    if x.dtype == np.float32 and x.data.ptr % 16 == 0 and y.data.ptr % 16 == 0 and n >= 4:
        n4 = n // 4
        blocks = -(-n4 // (_BLOCK * 2))
        _RAW4_KERNELS[func]((blocks,), (_BLOCK,), (x, y, alpha, np.int64(n4)))
        start = 4 * n4
    if n > start:  # what is left: all of it, or the last 1-3 float32 elements
        xs, ys = x.reshape(-1)[start:], y.reshape(-1)[start:]
        blocks = -(-(n - start) // (_BLOCK * _ILP))
        raw((blocks,), (_BLOCK,), (xs, ys, alpha, np.int64(n - start)))


def elu(x: Any, alpha: Any, out: Any = None) -> Any:
    return _launch("elu", x, alpha, out)


def elu_derivative(x: Any, alpha: Any, out: Any = None) -> Any:
    return _launch("elu_derivative", x, alpha, out)


def _check_alpha(alpha: Any, x: Any, func: str) -> None:
    if not isinstance(alpha, cp.ndarray) or alpha.dtype.kind not in "fiu":
        raise alpha_type_error(func, alpha, f"a cupy.ndarray on x's device (cuda:{x.device.id})")
    check_alpha_shape(alpha.shape, x.shape, func)
    if alpha.device.id != x.device.id:
        raise alpha_device_error(
            func, f"cuda:{alpha.device.id}", f"cuda:{x.device.id}", "move it with cupy.asarray"
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
        else describe(out)
    )

    def refuse(error: type[Exception], why: str) -> Exception:
        return out_error(func, why, got, wanted, error)

    if not isinstance(out, cp.ndarray):
        raise refuse(TypeError, "must be a CuPy array")
    if out.dtype != x.dtype:
        raise refuse(TypeError, "must have the result dtype")
    if out.device.id != x.device.id:
        raise refuse(TypeError, "must be on the device of 'x'")
    if out.shape != x.shape:
        raise refuse(ValueError, "must have the shape of 'x'")

    def layout(a: Any) -> tuple[int, tuple[int, ...], tuple[int, ...], int]:
        return a.data.ptr, a.shape, a.strides, a.itemsize

    same = out.dtype == source.dtype
    check_out_layout(func, layout(out), [layout(source)], got, wanted, same)


def devices() -> list[str]:
    return [f"cuda:{i}" for i in range(cp.cuda.runtime.getDeviceCount())]


def from_numpy(a: Any) -> Any:
    return cp.asarray(a)


def to_numpy(y: Any) -> Any:
    return cp.asnumpy(y)
