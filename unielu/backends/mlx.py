"""MLX backend: ``mlx.core.array`` in, ``mlx.core.array`` out, on the default stream.

``mlx.nn.elu`` computes ``exp(x) - 1`` (19% off at -1e-7 in float32) and
differentiates it as MLX's autodiff does. Here the value is ``alpha *
mx.expm1(x)``: MLX's CPU ``expm1`` is within 0.8 ULP in float32 and float64.
MLX's ``exp`` is not (63 ULP near -86.6 in float32, 0 below -88; in float64
it computes in float32), so the derivative ``alpha * exp(x)`` is built from
``expm1`` instead: ``x = k log(2) + r``, ``exp(x) = 2**k (expm1(r) + 1)``,
with ``2**k`` applied in three normal factors so that ``alpha * exp(x)`` is
right even where ``exp(x)`` alone underflows.

Each formula is one kernel, ``mx.compile(shapeless=True)``: MLX fuses it and
a new shape compiles nothing. The public functions are ``mx.custom_function``
s whose VJP and JVP are unielu's derivatives, themselves custom functions, so
that ``mx.grad``, ``mx.vjp``, ``mx.jvp`` and ``mx.vmap`` give exact
derivatives of any order, in ``x`` and in an array ``alpha``. A Python-number
``alpha`` is passed into each kernel as a 0-d array: a new value compiles
nothing.

MLX arrays have no device: they live in unified memory and each operation
runs on a stream, the default one unless the caller says otherwise (``with
mx.stream(...)``). unielu computes on the default stream. float64 exists on
the CPU only, so a float64 input is computed on the CPU stream when the
default device is a GPU (no copy: the memory is shared).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import mlx.core as mx

from unielu._checks import alpha_type_error, check_alpha_fits, check_alpha_shape, dtype_error

# Read by unielu._registry from this source, without importing the module: literals only.
SPEC = {
    "name": "mlx",
    "framework": "mlx",
    "requirement": "mlx>=0.32.3",
    "priority": 45,
    "types": ["mlx.core:array"],
    "description": "an MLX array (mlx.core.array)",
    "autodiff": True,
    # On Linux mlx alone has no backend: mlx[cpu] adds it (mlx-cpu)
    "test_requirements": ["mlx[cpu]>=0.32.3"],
    "newest_tested": "mlx 0.32.4 (Linux CPU, mlx-cpu)",
    "native_elu": "mlx.nn:elu",
}

_HALF = (mx.float16, mx.bfloat16)
_KEPT = (mx.float16, mx.bfloat16, mx.float32, mx.float64)

#: compute dtype -> (log(2) in two parts, k * the first exact for every k used; the
#: clamp below which alpha * exp(x) underflows for every finite alpha; the lowest
#: exponent of each factor of 2**k, a normal number; 1 / log(2))
_EXP = {
    mx.float32: (0.693145751953125, 1.4286068202862268e-06, -200.0, -120.0, 1.4426950408889634),
    mx.float64: (0.6931471803691238, 1.9082149292705877e-10, -1500.0, -1000.0, 1.4426950408889634),
}


def _compute_dtype(x: Any) -> Any:
    return mx.float32 if x.dtype in _HALF else x.dtype


def _widen(x: Any) -> Any:
    return x.astype(mx.float32) if x.dtype in _HALF else x


def _pow2(k: Any) -> Any:
    """2**k for integer-valued floats k, exactly (MLX's power; a bit cast, view(),
    would stop the shapeless compilation, which cannot infer its shape)."""
    return mx.power(2.0, k)


def _alpha_exp(w: Any, a: Any) -> Any:
    """``a * exp(w)`` for ``w <= 0`` (NaN and -inf included), within 1.3 ULP.

    ``exp(w) = 2**k (expm1(r) + 1)``, ``|r| <= log(2)/2``; ``2**k`` in three
    factors, none below the smallest normal, applied after ``a``: ``a * exp(w)``
    may be normal where ``exp(w)`` is not (``a`` up to the float's largest).
    The constants are arrays of w's dtype, so that their precision does not
    depend on how MLX promotes a Python float (before 0.32.3, to float32 beside
    a float64 array).
    """
    hi, lo, clamp, lowest, log2e = (mx.array(c, dtype=w.dtype) for c in _EXP[w.dtype])
    n = mx.where(w < clamp, clamp, w)  # a select: NaN stays NaN
    k = mx.round(n * log2e)
    r = (n - k * hi) - k * lo
    m = mx.expm1(r) + 1.0
    k1 = mx.maximum(k, lowest)
    rest = k - k1
    k2 = mx.maximum(rest, lowest)
    return (((a * _pow2(k1)) * m) * _pow2(k2)) * _pow2(rest - k2)


def _as_compute(a: Any, w: Any) -> Any:
    """alpha as an array of w's dtype (a number too: see :func:`_alpha_exp`)."""
    if not isinstance(a, mx.array):
        return mx.array(a, dtype=w.dtype)
    return a.astype(w.dtype) if a.dtype != w.dtype else a


# -- formulas, and their kernels: one fused MLX kernel each, compiled once per dtype and rank


def _elu_body(x: Any, a: Any) -> Any:
    w = _widen(x)
    # w >= 0 keeps both zeros (and +inf) as they are, whatever alpha.
    return mx.where(w >= 0, w, _as_compute(a, w) * mx.expm1(w)).astype(x.dtype)


def _derivative_body(x: Any, a: Any) -> Any:
    w = _widen(x)
    n = mx.where(w > 0, 0.0, w)
    return mx.where(w > 0, 1.0, _alpha_exp(n, _as_compute(a, w))).astype(x.dtype)


def _alpha_exp_body(x: Any, a: Any) -> Any:
    w = _widen(x)
    n = mx.where(w > 0, 0.0, w)
    return mx.where(w > 0, 0.0, _alpha_exp(n, _as_compute(a, w))).astype(x.dtype)


def _elu_alpha_body(w: Any) -> Any:
    return mx.where(w > 0, 0.0, mx.expm1(w))


_elu_kernel = mx.compile(_elu_body, shapeless=True)
_derivative_kernel = mx.compile(_derivative_body, shapeless=True)


# -- differentiable functions --------------------------------------------------------
#
# The entry points' forward passes are the compiled kernels. The functions their
# derivative rules call run the formulas as plain operations: a compiled kernel
# inside a rule is seen by an enclosing mx.jvp (forward over forward, or over
# reverse), which cannot differentiate a compiled primitive. Under the caller's own
# mx.compile they are fused all the same.


def _kernel_alpha(a: Any, x: Any) -> Any:
    """A number alpha as a 0-d array of the compute dtype: an input of the compiled
    kernel, so that a new value compiles nothing."""
    return a if isinstance(a, mx.array) else mx.array(a, dtype=_compute_dtype(x))


def _reduce_to(g: Any, a: Any) -> Any:
    """The gradient ``g`` (x's shape) of a broadcast ``a``, summed to ``a``'s shape and dtype."""
    extra = g.ndim - a.ndim
    axes = list(range(extra)) + [
        extra + i for i, d in enumerate(a.shape) if d == 1 and g.shape[extra + i] != 1
    ]
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(a.shape).astype(a.dtype)


def _alpha_term(t: Any, x: Any, of: Any) -> Any:
    """``t * of(w)`` in the compute dtype, ``w`` the widened ``x``."""
    w = _widen(x)
    return t.astype(w.dtype) * of(w)


def _unit_exp(w: Any) -> Any:
    return _alpha_exp_fn(w, 1.0)


def _one(primals: Any) -> Any:
    """The primal of a one-argument custom function (MLX passes it alone, not in a tuple)."""
    return primals if isinstance(primals, mx.array) else primals[0]


def _tangent(x: Any, tx: Any, ta: Any, a: Any, in_x: Any, in_alpha: Any) -> Any:
    """The tangent ``tx * in_x(x, a) + ta * in_alpha(w)``; a tangent not asked for is None."""
    terms = []
    if tx is not None:
        terms.append(tx * in_x(x, a))
    if ta is not None and isinstance(a, mx.array):
        terms.append(_alpha_term(ta, x, in_alpha).astype(x.dtype))
    if not terms:
        return mx.zeros_like(x)
    return terms[0] if len(terms) == 1 else terms[0] + terms[1]


def _cotangent(primals: Any, cotangent: Any, in_x: Any, in_alpha: Any) -> Any:
    """The VJP ``(ct * in_x(x, a), ct * in_alpha(w) summed to alpha's shape)``."""
    x, a = primals
    gx = cotangent * in_x(x, a)
    if not isinstance(a, mx.array):
        return gx, None
    return gx, _reduce_to(_alpha_term(cotangent, x, in_alpha), a)


def _with_rules(function: Any, in_x: Any, in_alpha: Any) -> Any:
    """``function``, a custom function, given the VJP and JVP of a derivative
    ``in_x(x, a)`` in x and ``in_alpha(w)`` in alpha."""

    @function.vjp
    def vjp(primals: Any, cotangent: Any, output: Any) -> Any:
        return _cotangent(primals, cotangent, in_x, in_alpha)

    @function.jvp
    def jvp(primals: Any, tangents: Any) -> Any:
        (x, a), (tx, ta) = primals, tangents
        return _tangent(x, tx, ta, a, in_x, in_alpha)

    return function


@mx.custom_function
def _alpha_exp_fn(x: Any, a: Any) -> Any:
    """0 where ``x > 0``, else ``a * exp(x)``: the second derivative, and the
    derivative's derivative in x; its own derivative in x is itself."""
    return _alpha_exp_body(x, a)


_with_rules(_alpha_exp_fn, _alpha_exp_fn, _unit_exp)


@mx.custom_function
def _elu_alpha_fn(w: Any) -> Any:
    """d elu / d alpha: ``expm1(w)`` where ``w <= 0``, else 0 (``w`` of a compute dtype)."""
    return _elu_alpha_body(w)


@_elu_alpha_fn.vjp
def _elu_alpha_vjp(primals: Any, cotangent: Any, output: Any) -> Any:
    return (cotangent * _unit_exp(_one(primals)),)


@_elu_alpha_fn.jvp
def _elu_alpha_jvp(primals: Any, tangents: Any) -> Any:
    return _one(tangents) * _unit_exp(_one(primals))


#: The derivative inside derivative rules (plain operations) and as an entry point (a kernel).
_derivative_fn = _with_rules(
    mx.custom_function(lambda x, a: _derivative_body(x, a)), _alpha_exp_fn, _unit_exp
)
_derivative_entry = _with_rules(
    mx.custom_function(lambda x, a: _derivative_kernel(x, _kernel_alpha(a, x))),
    _alpha_exp_fn,
    _unit_exp,
)


@mx.custom_function
def _elu_fn(x: Any, a: Any) -> Any:
    return _elu_kernel(x, _kernel_alpha(a, x))


_with_rules(_elu_fn, _derivative_fn, _elu_alpha_fn)


# -- entry points --------------------------------------------------------------------


def _as_float(x: Any, func: str) -> Any:
    if x.dtype in _KEPT:
        return x
    if mx.issubdtype(x.dtype, mx.integer) or x.dtype == mx.bool_:
        return x.astype(mx.float32)
    raise dtype_error(func, x.dtype, "float32")


def _check_alpha(alpha: Any, x: Any, func: str) -> Any:
    """A number passes; an array alpha must be a real MLX array that broadcasts to x."""
    if type(alpha) is float:
        check_alpha_fits(alpha, x.dtype, func)
    elif isinstance(alpha, mx.array) and (
        mx.issubdtype(alpha.dtype, mx.floating) or mx.issubdtype(alpha.dtype, mx.integer)
    ):
        check_alpha_shape(alpha.shape, x.shape, func)
    else:
        raise alpha_type_error(func, alpha, "an mlx.core.array")
    return alpha


#: True while a graph is traced for mx.export_function (unielu.layers.mlx.export_function):
#: the kernels are called without their custom derivative rules, which MLX cannot
#: serialize. Exported graphs hold standard operations only.
EXPORTING: ContextVar[bool] = ContextVar("unielu_mlx_exporting", default=False)


def _elu_export(x: Any, a: Any) -> Any:
    return _elu_kernel(x, _kernel_alpha(a, x))


def _derivative_export(x: Any, a: Any) -> Any:
    return _derivative_kernel(x, _kernel_alpha(a, x))


def _run(function: Any, x: Any, alpha: Any) -> Any:
    if x.dtype == mx.float64 and mx.default_device() != mx.cpu:
        # float64 exists on the CPU only; the arrays are in memory both can read.
        with mx.stream(mx.cpu):
            return function(x, alpha)
    return function(x, alpha)


def elu(x: Any, alpha: Any) -> Any:
    x = _as_float(x, "elu")
    function = _elu_export if EXPORTING.get() else _elu_fn
    return _run(function, x, _check_alpha(alpha, x, "elu"))


def elu_derivative(x: Any, alpha: Any) -> Any:
    x = _as_float(x, "elu_derivative")
    function = _derivative_export if EXPORTING.get() else _derivative_entry
    return _run(function, x, _check_alpha(alpha, x, "elu_derivative"))


def devices() -> list[str]:
    found = ["cpu"]
    if mx.is_available(mx.gpu):
        found.append("gpu")
    return found


def from_numpy(a: Any) -> Any:
    return mx.array(a, dtype=mx.float64) if a.dtype == "float64" else mx.array(a)


def to_numpy(y: Any) -> Any:
    import numpy as np

    return np.array(y.astype(mx.float32) if y.dtype == mx.bfloat16 else y)
