"""PaddlePaddle backend: tensors on any place, autograd to every order, ``paddle.jit.to_static``.

Eager, on the CPU, the values come from the NumPy backend's compiled kernel,
run on a zero-copy DLPack view of the tensor and handed back zero-copy
(``paddle.from_dlpack``): Paddle's own ``F.elu`` computes ``exp(x) - 1``
(``-1.19e-7`` at ``-1e-7``), and its CPU ``expm1`` is up to 2.5 ULP off in
float32, which ``alpha * expm1`` takes to the contract's 3. Where the tensor
cannot be viewed so (a ``paddle.pir.Value`` while ``paddle.jit.to_static``
builds a program, any tensor while its SOT mode simulates the bytecode, a
tensor on a GPU or XPU place) the same formula is written in Paddle's own
ops on the tensor's place, in float64, rounded once to the input's dtype:
float64 ``expm1`` and ``exp`` are within 1 ULP, so the float32 results are
correctly rounded but for double rounding, and the float64 ones within 2 ULP.

bfloat16 has no CPU kernels for ``exp``, ``expm1`` or ``where`` in Paddle:
half precisions are computed in float32 (float64 in a graph) and rounded once.

When a derivative is wanted (``x`` not ``stop_gradient`` in grad mode) the
call goes through a :class:`paddle.autograd.PyLayer` whose backward is
:func:`elu_derivative`, itself a PyLayer whose backward is
``elu_derivative(x) * (x <= 0)``, so that ``paddle.grad(...,
create_graph=True)`` gives exact derivatives of every order: ``alpha *
exp(x)``, not Paddle's ``y + alpha`` rebuilt from the output (0 below about
-17 in float32 and -37 in float64).

A tensor ``alpha`` (0-d, or broadcastable to ``x``'s shape without changing
it; real floating or integer dtype) must be on ``x``'s place. It is computed
as ``where(x > 0, x, alpha * elu(x', 1))`` with ``x'`` the clamped ``x <= 0``
branch, so its gradient (``expm1(x)``, or ``exp(x)`` for
:func:`elu_derivative`) and its reduction to ``alpha``'s shape come from
Paddle's own rules.

``out=`` is refused (``mutable`` is False): Paddle's functional API has no
``out=`` for its activations, and a write into a tensor that autograd
recorded would need Paddle's inplace-version checks to stay sound;
``y = unielu.elu(x)`` is the call (docs/backends/paddle.rst).
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any

import numpy as np

with warnings.catch_warnings():
    # Paddle's C++-extension helper warns at import that ccache is missing: noise
    # for a user who never builds an extension (its report, `python -m unielu`).
    warnings.filterwarnings("ignore", message="No ccache found")
    import paddle
from paddle.autograd import PyLayer

import unielu
from unielu._checks import (
    alpha_device_error,
    alpha_type_error,
    check_alpha_fits,
    check_alpha_shape,
    dtype_error,
)
from unielu.backends import numpy as _numpy

# Read by unielu._registry from this source, without importing the module: literals only.
SPEC = {
    "name": "paddle",
    "framework": "paddle",
    "requirement": "paddlepaddle>=3.0.0",
    "priority": 45,
    "types": [
        # Parameters too (EagerParamBase is a subclass).
        "paddle:Tensor",
        # What paddle.jit.to_static's functions see while it builds their program.
        "paddle:pir.Value",
    ],
    "description": "a PaddlePaddle tensor",
    "autodiff": True,
    # paddle.jit.to_static's AST mode must call unielu as it is, not rewrite it
    # (paddle.jit.ignore_module, below): loaded at `import unielu` when Paddle is
    # already imported, before any program is built.
    "load_early": True,
    # paddle2onnx, onnxruntime: the ONNX export test (tests/test_paddle.py)
    # setuptools: `import paddle` imports it without declaring it (a uv environment lacks it).
    "test_requirements": ["paddlepaddle>=3.0.0", "setuptools", "paddle2onnx", "onnxruntime"],
    # Paddle logs to stderr through glog at import; the tests keep to errors.
    "test_env": [{"GLOG_minloglevel": "2", "FLAGS_call_stack_level": "1"}],
    "newest_tested": "paddlepaddle 3.3.1 (CPU)",
    "native_elu": "paddle.nn.functional:elu",
}

# to_static's AST mode rewrites the Python functions a program calls, unless their
# module is ignored; unielu's dispatch is not written for that rewriting (and
# needs none: it takes pir.Value as it is).
paddle.jit.ignore_module([unielu])

_Value: type = paddle.pir.Value
_F16, _BF16, _F32, _F64 = paddle.float16, paddle.bfloat16, paddle.float32, paddle.float64
_KEPT = frozenset({_F16, _BF16, _F32, _F64})
_PROMOTED = frozenset(
    {paddle.bool, paddle.uint8, paddle.int8, paddle.int16, paddle.int32, paddle.int64}
)
_ALPHA_DTYPES = _KEPT | (_PROMOTED - {paddle.bool})

# True while SOT (to_static's default mode) simulates the caller's bytecode: SOT
# answers this very function object itself. Tensors there are symbolic, so the
# values must come from Paddle's ops.
_in_sot: Any = getattr(paddle.base.dygraph.base, "in_sot_simulation_mode", lambda: False)


def _in_graph(x: Any) -> bool:
    """Whether ``x``'s values must come from Paddle's ops (not a DLPack view)."""
    return isinstance(x, _Value) or bool(_in_sot()) or not x.place.is_cpu_place()


def _as_float(x: Any, func: str) -> Any:
    dtype = x.dtype
    if dtype in _KEPT:
        return x
    if dtype in _PROMOTED:
        return x.astype(paddle.get_default_dtype())
    raise dtype_error(func, dtype, "paddle.get_default_dtype()")


# -- values -------------------------------------------------------------------------


def _on_cpu(kernel: Any, w: Any, alpha: float) -> Any:
    """The NumPy backend's kernel on a zero-copy view of CPU tensor ``w``."""
    if w.dtype == _BF16:  # DLPack has no bfloat16 here; float32 is exact for it
        return _on_cpu(kernel, w.astype(_F32), alpha).astype(_BF16)
    if not w.stop_gradient:
        w = w.detach()
    return paddle.from_dlpack(np.asarray(kernel(np.from_dlpack(w), alpha)))


def _alpha_in(w: Any, alpha: float) -> float:
    """``alpha`` as the compute dtype holds it (float32 but for float64 inputs)."""
    return alpha if w.dtype == _F64 else float(np.float32(alpha))


def _scalar(value: float, like: Any) -> Any:
    # A 0-d tensor of like's dtype: a Python float would go through a float32
    # attribute in some of Paddle's ops.
    return paddle.full([], value, dtype=like.dtype)


def _full(value: float, like: Any) -> Any:
    """A tensor of ``like``'s shape and dtype filled with ``value``: ``where``'s
    operands must not need broadcasting, which in a program it does by adding
    zeros (``-0.0 + 0.0`` is ``+0.0``)."""
    shape = paddle.shape(like) if isinstance(like, _Value) else like.shape
    return paddle.full(shape, value, dtype=like.dtype)


def _expm1_portable(n: Any) -> Any:
    """``expm1(n)`` for float64 ``n <= 0`` (or NaN) from ``exp`` and ``log``, within a
    few float64 ULP: far below a float32 ULP, for the results rounded to float32.

    Kahan's ``n * (u - 1) / log(u)`` with ``u = exp(n)``; ``u - 1`` below 0.5,
    where it has no cancellation. paddle2onnx has no ``expm1``: a saved float32
    model then converts to ONNX (docs/backends/paddle.rst).
    """
    u = paddle.exp(n)
    far = u < 0.5
    one = _full(1.0, n)
    v = paddle.where(far, _full(0.5, n), u)
    # v >= 1, not v == 1 (Paddle's float equality has a 1e-8 tolerance): where u
    # rounds to 1, expm1(n) rounds to n (-0.0 kept). Tensors, not Python numbers,
    # in the subtractions: v - 1 would be Paddle's scale op, which paddle2onnx
    # computes in float32.
    ratio = paddle.where(v >= 1, one, (v - one) / paddle.log(v))
    return paddle.where(far, u - one, n * ratio)


def _graph_elu(w: Any, alpha: float) -> Any:
    """elu in Paddle's ops, in float64, rounded once to ``w``'s dtype.

    Differentiable by Paddle's autodiff, to every order, with the exact
    derivative ``alpha * exp(x)``: Paddle's ``expm1`` gradient is computed from
    its output (``out + 1``, 0 at -40 in float64), so the value is ``alpha *
    expm1`` with the gradient of ``alpha * exp`` added as ``e - e``.
    """
    wide = w if w.dtype == _F64 else w.astype(_F64)
    positive = wide > 0
    # The branch not taken is clamped: expm1 cannot overflow. where, not minimum,
    # keeps -0.0 (expm1(-0.0) is -0.0).
    negative = paddle.where(positive, _full(0.0, wide), wide)
    a = _scalar(_alpha_in(w, alpha), wide)
    unit = paddle.expm1(negative) if w.dtype == _F64 else _expm1_portable(negative)
    branch = unit.detach() * a
    if _recorded(w):
        e = paddle.exp(negative) * a
        # Subtracted, not added: -0.0 - 0.0 keeps the sign of -0.0.
        branch = branch - (e.detach() - e)
    y = paddle.where(positive, wide, branch)
    return y if w.dtype == _F64 else y.astype(w.dtype)


def _graph_derivative(w: Any, alpha: float) -> Any:
    """elu_derivative in Paddle's ops, in float64, rounded once to ``w``'s dtype."""
    wide = w if w.dtype == _F64 else w.astype(_F64)
    positive = wide > 0
    negative = paddle.where(positive, _full(0.0, wide), wide)
    a = _scalar(_alpha_in(w, alpha), wide)
    # Where exp(x) alone is subnormal (few digits) but alpha * exp(x) is not:
    # (alpha * exp(x/2)) * exp(x/2). Float32 inputs never get there in float64.
    half = paddle.exp(negative * _scalar(0.5, wide))
    tiny = negative < math.log(np.finfo(np.float64).tiny)
    branch = paddle.where(tiny, (a * half) * half, a * paddle.exp(negative))
    y = paddle.where(positive, _full(1.0, wide), branch)
    return y if w.dtype == _F64 else y.astype(w.dtype)


# -- autograd -----------------------------------------------------------------------


def _times(*factors: Any) -> Any:
    """The product, in float32 for float16 (Paddle's CPU multiply has no float16)."""
    dtype = factors[0].dtype
    if dtype != _F16:
        product = factors[0]
        for f in factors[1:]:
            product = product * f
        return product
    return _times(*[f.astype(_F32) for f in factors]).astype(_F16)


def _forward(function: Any, ctx: Any, x: Any, alpha: float) -> Any:
    """A PyLayer's forward: ``function(x, alpha)``, keeping x and alpha for the backward."""
    ctx.save_for_backward(x)
    ctx.alpha = alpha
    return _on_cpu(function, x, alpha)


def _backward(masked: bool, ctx: Any, grad: Any) -> Any:
    """A PyLayer's backward: ``grad`` times the derivative, and times ``x <= 0`` if ``masked``."""
    (x,) = ctx.saved_tensor()
    derivative = _Derivative.apply(x, ctx.alpha)
    if not masked:
        return _times(grad, derivative)
    # (x <= 0) is False at NaN, where the derivative is NaN: NaN * 0 stays NaN.
    return _times(grad, derivative, (x <= 0).astype(x.dtype))


class _Derivative(PyLayer):
    """elu_derivative, whose own derivative is itself where x <= 0 (0 above)."""

    forward = staticmethod(functools.partial(_forward, _numpy.elu_derivative))
    backward = staticmethod(functools.partial(_backward, True))


class _ELU(PyLayer):
    """elu, whose derivative is elu_derivative."""

    forward = staticmethod(functools.partial(_forward, _numpy.elu))
    backward = staticmethod(functools.partial(_backward, False))


def _recorded(x: Any) -> bool:
    """Whether autograd would record a call on ``x``."""
    return not x.stop_gradient and paddle.is_grad_enabled()


# -- the public functions -----------------------------------------------------------


def _call(
    x: Any, alpha: float | Any, func: str, array_alpha: Any, graph: Any, layer: Any, kernel: Any
) -> Any:
    """``func`` on ``x``: ``array_alpha`` for a tensor alpha, ``graph`` inside a
    static program, the PyLayer ``layer`` where autograd records, else ``kernel``."""
    w = _as_float(x, func)
    if type(alpha) is not float:
        _check_alpha(alpha, w, func)
        return array_alpha(w, alpha)
    check_alpha_fits(alpha, w.dtype, func)
    if _in_graph(w):
        return graph(w, alpha)
    if _recorded(w):
        return layer.apply(w, alpha)
    return _on_cpu(kernel, w, alpha)


def elu(x: Any, alpha: float | Any) -> Any:
    return _call(x, alpha, "elu", _elu_array_alpha, _graph_elu, _ELU, _numpy.elu)


def elu_derivative(x: Any, alpha: float | Any) -> Any:
    return _call(
        x,
        alpha,
        "elu_derivative",
        _derivative_array_alpha,
        _graph_derivative,
        _Derivative,
        _numpy.elu_derivative,
    )


def _compute(w: Any) -> Any:
    """The dtype half precisions are computed in: float32 (bfloat16 has no CPU kernels)."""
    return w.astype(_F32) if w.dtype in (_F16, _BF16) else w


def _elu_array_alpha(x: Any, alpha: Any) -> Any:
    w = _compute(x)
    positive = w > 0
    # elu(., 1) is expm1 on the clamped x <= 0 branch, through the scalar path:
    # accurate, with its exact gradient.
    unit = elu(paddle.where(positive, _full(0.0, w), w), 1.0)
    y = paddle.where(positive, w, alpha.astype(w.dtype) * unit)
    # Zeros as they are whatever alpha holds (NaN, inf, negative), with the
    # gradients of alpha * unit: y - y is 0 (NaN where alpha is not finite).
    exact = w.detach() - paddle.nan_to_num(y.detach() - y, nan=0.0)
    # Not w == 0: Paddle's float equality is |a - b| < 1e-8, true at -1e-9.
    zero = paddle.logical_and(w >= 0, w <= 0)
    return paddle.where(zero, exact, y).astype(x.dtype)


def _derivative_array_alpha(x: Any, alpha: Any) -> Any:
    w = _compute(x)
    positive = w > 0
    negative = paddle.where(positive, _full(0.0, w), w)
    a = alpha.astype(w.dtype)
    # exp through the scalar path (exact gradients); (alpha * exp(x/2)) * exp(x/2)
    # where exp(x) alone would be subnormal while alpha * exp(x) is not.
    half = elu_derivative(negative * 0.5, 1.0)
    tiny = negative < math.log(np.finfo(np.float64 if w.dtype == _F64 else np.float32).tiny)
    branch = paddle.where(tiny, (a * half) * half, a * elu_derivative(negative, 1.0))
    return paddle.where(positive, _full(1.0, branch), branch).astype(x.dtype)


def _check_alpha(alpha: Any, x: Any, func: str) -> None:
    if isinstance(x, _Value):
        kinds: Any = (paddle.Tensor, _Value)
        where = "a paddle.Tensor"
    else:
        kinds = (paddle.Tensor,)
        where = f"a paddle.Tensor on x's place ({x.place})"
    if not isinstance(alpha, kinds) or alpha.dtype not in _ALPHA_DTYPES:
        raise alpha_type_error(func, alpha, where)
    check_alpha_shape(alpha.shape, x.shape, func)
    if isinstance(alpha, paddle.Tensor) and isinstance(x, paddle.Tensor):
        if str(alpha.place) != str(x.place):
            move = f"move it once with alpha.to({str(x.place)!r})"
            raise alpha_device_error(func, alpha.place, x.place, move)


def devices() -> list[str]:
    gpus = paddle.device.cuda.device_count() if paddle.is_compiled_with_cuda() else 0
    return ["cpu"] + [f"gpu:{i}" for i in range(gpus)]


def from_numpy(a: Any, device: str | None = None) -> Any:
    return paddle.to_tensor(a, place=device or "cpu")


def to_numpy(y: Any) -> Any:
    return y.detach().cpu().numpy()
