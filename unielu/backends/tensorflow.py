"""TensorFlow backend: eager tensors, variables and symbolic tensors in tf.function.

``tf.nn.elu`` computes ``exp(x) - 1`` (hundreds of ULP off near zero) and a
gradient of ``y + 1`` (0 below about -17 in float32, 1 at 0), so this backend
builds ELU from ``expm1`` with a custom gradient equal to
:func:`elu_derivative`. ``alpha`` is passed as data (a tensor), never as a
trace-time constant, so a new alpha costs no trace and no compilation.

Where it runs:

* eager, small host tensor, number alpha, no tape: the NumPy backend (calling
  any ``tf.function`` costs more than the work);
* eager, a shape seen before: one XLA-compiled kernel (TF's own kernels would
  be a dozen passes, and its ``expm1`` is not vectorized);
* eager, a shape seen for the first time: nothing is compiled -- the NumPy
  backend where that is allowed (host tensor, number alpha, no tape), else the
  same function uncompiled, on TF's own kernels;
* inside a user's ``tf.function``: a call to that function, whose operations
  are marked for XLA (``jit_scope``): TensorFlow compiles them per run-time
  shape, static or not, and runs them uncompiled until then. Where the input
  there is the result of arithmetic (a layer before the ELU), the graph holds
  formulas with no bit operation and no Expm1, which TFLite and tf2onnx
  convert (:func:`_symbolic`; docs/models.rst, "Deploying").

Eager calls are placed on the input's device: TF's default placement would
move a CPU tensor to GPU:0.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from unielu._checks import alpha_type_error, check_alpha_fits, check_alpha_shape, dtype_error
from unielu.backends import _formulas
from unielu.backends import numpy as _numpy

# Read by unielu._registry from this source, without importing the module: literals only.
SPEC = {
    "name": "tensorflow",
    "framework": "tensorflow",
    "requirement": "tensorflow>=2.16.1",
    "priority": 50,
    "types": ["tensorflow:Tensor", "tensorflow:Variable"],
    "description": "a TensorFlow tensor or variable",
    "autodiff": True,
    "ulp": 5,
    "flush_subnormals": True,
    # tf2onnx, onnxruntime, ai-edge-litert (TFLite's interpreter): tests/test_tensorflow_deploy.py.
    # onnx (tf2onnx's) at its floor with TensorFlow 2.16's ml-dtypes ~=0.3.1: from 1.18 onnx
    # reads ml_dtypes.float4_e2m1fn (ml_dtypes 0.5) on import, and 1.19 does not declare it.
    "test_requirements": [
        "tensorflow-cpu>=2.16.1",
        "tf2onnx",
        "onnx>=1.17",
        "onnxruntime",
        "ai-edge-litert",
    ],
    "newest_tested": "tensorflow-cpu 2.21.0",
    "native_elu": "tensorflow:nn.elu(x)",
}


_KEPT = frozenset({tf.float16, tf.bfloat16, tf.float32, tf.float64})
_HALF = frozenset({tf.float16, tf.bfloat16})


def _as_float(x: Any, func: str) -> tf.Tensor:
    x = tf.convert_to_tensor(x)  # reads a tf.Variable
    if x.dtype in _KEPT:
        return x
    if x.dtype.is_integer or x.dtype == tf.bool:
        return tf.cast(x, tf.float32)
    raise dtype_error(func, x.dtype.name, "float32")


def _compute_dtype(dtype: tf.DType) -> tf.DType:
    """float16/bfloat16 are computed in float32 and rounded once."""
    return tf.float32 if dtype in _HALF else dtype


def _alpha_tensor(alpha: Any, dtype: tf.DType) -> tf.Tensor:
    """alpha in the compute dtype (tf.cast would round a number through float32)."""
    return tf.constant(alpha, dtype) if type(alpha) is float else tf.cast(alpha, dtype)


def _array_alpha(alpha: Any, x: tf.Tensor, func: str) -> tf.Tensor:
    """A tensor or variable alpha, checked (framework, dtype, shape) and read."""
    if not isinstance(alpha, (tf.Tensor, tf.Variable)):
        raise alpha_type_error(func, alpha, "a tf.Tensor or tf.Variable")
    if not (alpha.dtype.is_floating or alpha.dtype.is_integer):
        raise alpha_type_error(func, alpha, "a tf.Tensor or tf.Variable")
    a, s = alpha.shape, x.shape
    if a.rank is not None and s.rank is not None:  # else TF checks when it runs
        # Unknown dimensions (inside tf.function) are taken to match.
        dims = [d for d in a]
        shape = [e for e in s]
        for i in range(1, min(len(dims), len(shape)) + 1):
            if dims[-i] is None:
                dims[-i] = 1
            elif shape[-i] is None:
                shape[-i] = dims[-i]
        check_alpha_shape([1 if d is None else d for d in dims], shape, func)
    return tf.convert_to_tensor(alpha)  # reads a tf.Variable, on the tape


def _assert_alpha_broadcasts(a: tf.Tensor, x: tf.Tensor, func: str) -> tf.Tensor:
    """``a``, with a run-time check that it broadcasts to ``x`` unchanged.

    For shapes the trace cannot prove (unknown rank or dimensions): an alpha
    that does not fit would raise deep in TF, or silently give the result
    alpha's shape. The check raises InvalidArgumentError naming alpha.
    """
    sa, sx = tf.shape(a), tf.shape(x)
    ra, rx = tf.size(sa), tf.size(sx)
    n = tf.maximum(ra, rx)
    pa = tf.concat([tf.ones([n - ra], sa.dtype), sa], 0)
    px = tf.concat([tf.ones([n - rx], sx.dtype), sx], 0)
    fits = tf.logical_and(ra <= rx, tf.reduce_all((pa == 1) | (pa == px)))
    check = tf.debugging.Assert(
        fits,
        [
            f"unielu.{func}() argument 'alpha' does not broadcast to the shape of 'x' "
            f"without changing it; accepted: a number, a 0-d tensor, or a tensor "
            f"broadcastable to x's shape. Shapes of alpha and x:",
            sa,
            sx,
        ],
    )
    with tf.control_dependencies([check]):
        return tf.identity(a)


def _widen(x: tf.Tensor) -> tf.Tensor:
    return tf.cast(x, tf.float32) if x.dtype in _HALF else x


def _where(c: Any, a: Any, b: Any) -> tf.Tensor:
    like = b if isinstance(b, tf.Tensor) else a
    return tf.where(c, tf.cast(a, like.dtype), tf.cast(b, like.dtype))


OPS = _formulas.Ops(
    where=_where,
    exp=tf.exp,
    isnan=tf.math.is_nan,
    bits=lambda w: tf.bitcast(w, tf.int32 if w.dtype == tf.float32 else tf.int64),
    from_bits=lambda i, like: tf.bitcast(i, like.dtype),
    minimum=tf.minimum,
    maximum=tf.maximum,
    rint=tf.math.round,  # half to even
    to_int=lambda k: tf.cast(k, tf.int32 if k.dtype == tf.float32 else tf.int64),
)


def _forward(x: tf.Tensor, a: Any, portable: bool = False) -> tf.Tensor:
    w = _widen(x)
    if portable:
        return tf.cast(_formulas.elu_portable(w, a, OPS, w.dtype.name), x.dtype)
    return tf.cast(_formulas.elu(w, a, OPS, w.dtype.name), x.dtype)


def _derivative(x: tf.Tensor, a: Any, portable: bool = False) -> tf.Tensor:
    # Differentiable ops throughout: its gradient (in x and in alpha) is autodiff's.
    w = _widen(x)
    return tf.cast(_formulas.derivative(w, a, OPS, w.dtype.name, portable), x.dtype)


def _grad_x(dy: tf.Tensor, x: tf.Tensor, a: Any, portable: bool) -> tf.Tensor:
    """``dy * elu_derivative(x)``, as a select with ``dy`` itself where ``x > 0``
    (the same values: the derivative is 1 there). A select, as tf.nn.elu's
    gradient is, not a product: XLA's CPU backend hands the reduction that
    usually follows (a bias's gradient) to its fast library (YNNPACK) unless
    the reduced operand is a multiplication, and then runs it as a slow loop
    fused with the whole derivative."""
    w = _widen(x)
    pos = w > 0 if portable else _formulas.positive(w, OPS)
    return tf.where(pos, dy, dy * _derivative(x, a, portable))


def _elu(x: tf.Tensor, a: Any, portable: bool = False) -> tf.Tensor:
    """elu with a number alpha (a constant): the gradient is for x alone."""

    @tf.custom_gradient
    def f(x: tf.Tensor) -> Any:
        # The gradient is made of differentiable ops: second derivatives follow.
        return _forward(x, a, portable), lambda dy: _grad_x(dy, x, a, portable)

    return f(x)


def _d_elu_d_alpha(w: tf.Tensor) -> tf.Tensor:
    """d elu / d alpha, whose own derivative (second order) is exp(w) for w <= 0:
    TensorFlow's expm1 gives that derivative, unielu's the value (the reduced
    expm1's clamp and rounding would differentiate to 0 below -20)."""
    plain = tf.math.expm1(tf.where(w > 0, tf.zeros_like(w), w))
    unit = tf.stop_gradient(_formulas.elu_alpha(w, OPS, w.dtype.name))
    # A difference, not a sum of sums, which TF's graph optimizer would make an
    # AddN outside the XLA cluster (see _symbolic).
    return unit - (tf.stop_gradient(plain) - plain)


def _elu_tensor_alpha(x: tf.Tensor, a: tf.Tensor, portable: bool = False) -> tf.Tensor:
    """elu with a tensor alpha: the gradient is for x and for alpha."""

    @tf.custom_gradient
    def f(x: tf.Tensor, a: tf.Tensor) -> Any:
        def grad(dy: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            w = _widen(x)
            if portable:
                unit = _formulas.elu_alpha_portable(w, OPS, w.dtype.name)
            else:
                unit = _d_elu_d_alpha(w)
            da = tf.cast(dy, w.dtype) * unit
            # Summed over the dimensions alpha was broadcast along.
            axes, _ = tf.raw_ops.BroadcastGradientArgs(s0=tf.shape(a), s1=tf.shape(da))
            dx = _grad_x(dy, x, a, portable)
            return dx, tf.reshape(tf.reduce_sum(da, axes), tf.shape(a))

        return _forward(x, a, portable), grad

    return f(x, a)


#: (function, alpha is a tensor) -> what is traced
_BODIES: dict[tuple[str, bool], Callable[..., tf.Tensor]] = {
    ("elu", False): _elu,
    ("elu", True): _elu_tensor_alpha,
    ("elu_derivative", False): _derivative,
    ("elu_derivative", True): _derivative,
}


@functools.cache
def _traced(
    func: str,
    array_alpha: bool,
    dtype: tf.DType,
    jit: bool,
    portable: bool = False,
    lazy: bool = False,
) -> Any:
    """The function traced once for any shape of x and alpha: one concrete function,
    never retraced. With XLA, it is compiled once per shape when first run.
    ``portable``: the formulas with no bit operation and no expm1 (see _symbolic).
    ``lazy``: its ops are marked for XLA (see _symbolic)."""
    spec = (tf.TensorSpec(None, dtype), tf.TensorSpec(None, _compute_dtype(dtype)))
    inner = functools.partial(_BODIES[func, array_alpha], portable=portable)

    def body(x: tf.Tensor, a: tf.Tensor) -> tf.Tensor:
        if not lazy:
            return inner(x, a)
        with tf.xla.experimental.jit_scope():
            return inner(x, a)

    return tf.function(body, jit_compile=jit, autograph=False).get_concrete_function(*spec)


# Calling a tf.function costs far more than tf.nn.elu on a small tensor. A
# small tensor in host memory, with no tape that could want its gradient, is
# computed by the NumPy backend instead (same contract, no device transfer),
# up to about the size where the compiled call overtakes it.
HOST_MAX = 1 << 17
_host = {"elu": _numpy.elu, "elu_derivative": _numpy.elu_derivative}
try:
    from tensorflow.python.eager.record import could_possibly_record as _recording
except ImportError:  # another TF layout: assume a tape, take the differentiable path

    def _recording() -> bool:
        return True


# Eager shapes seen once: compiled from their second call on, so that a stream
# of distinct shapes never waits for XLA. Bounded; forgetting costs one uncompiled call.
_SEEN: dict[tuple[Any, ...], None] = {}
_SEEN_MAX = 4096


def _first_sighting(key: tuple[Any, ...]) -> bool:
    if key in _SEEN:
        return False
    if len(_SEEN) >= _SEEN_MAX:
        _SEEN.clear()
    _SEEN[key] = None
    return True


def _call(func: str, x: Any, alpha: Any) -> tf.Tensor:
    x = _as_float(x, func)
    array_alpha = type(alpha) is not float
    if array_alpha:
        alpha = _array_alpha(alpha, x, func)
        if not (x.shape.is_fully_defined() and alpha.shape.is_fully_defined()):
            alpha = _assert_alpha_broadcasts(alpha, x, func)
    else:
        check_alpha_fits(alpha, x.dtype, func)
    if x.shape.rank is None or x.shape.rank > 8:
        # TF's kernels broadcast (SelectV2) up to rank 8: elementwise, so flattened.
        shape = tf.shape(x)
        if array_alpha:
            alpha = tf.reshape(tf.broadcast_to(alpha, shape), [-1])
        y = _call(func, tf.reshape(x, [-1]), alpha)
        y = tf.reshape(y, shape)
        y.set_shape(x.shape)
        return y
    if not tf.executing_eagerly():
        return _symbolic(func, x, alpha, array_alpha)
    with tf.device(x.device):  # TF's default placement would move a CPU tensor to GPU:0
        on_host = not array_alpha and "CPU" in x.device and not _recording()
        # np.asarray: tf.constant caches scalars by value, where -0.0 == 0.0.
        if on_host and x.shape.num_elements() <= HOST_MAX:
            return tf.constant(np.asarray(_host[func](x.numpy(), alpha)))
        a_shape = tuple(alpha.shape) if array_alpha else ()
        fresh = _first_sighting((func, x.dtype, tuple(x.shape), a_shape, x.device))
        if fresh and on_host:
            return tf.constant(np.asarray(_host[func](x.numpy(), alpha)))
        a = _alpha_tensor(alpha, _compute_dtype(x.dtype))
        # A first sighting runs TF's own kernels, uncompiled. (A traced function
        # either way, not the ops one by one: under a ForwardAccumulator, eager
        # ops would be differentiated one by one, ignoring the custom gradient.)
        return _traced(func, array_alpha, x.dtype, not fresh)(x, a)


#: Ops whose float result TF's runtime (and XLA) computes with subnormals flushed.
_ARITHMETIC = frozenset(
    "Add AddV2 AddN BiasAdd Sub Mul RealDiv Div MatMul BatchMatMul BatchMatMulV2 "
    "BatchMatMulV3 _FusedMatMul Einsum Conv1D Conv2D Conv3D _FusedConv2D "
    "DepthwiseConv2dNative FusedBatchNorm FusedBatchNormV2 FusedBatchNormV3 Sum Mean "
    "Square SquaredDifference".split()
)
_PASS_THROUGH = frozenset({"Identity", "IdentityN", "StopGradient"})


def _computed(x: tf.Tensor) -> bool:
    """True if x is the result of arithmetic in its graph (through identities)."""
    op = x.op
    while op.type in _PASS_THROUGH and op.inputs:
        op = op.inputs[0].op
    return op.type in _ARITHMETIC


def _symbolic(func: str, x: tf.Tensor, alpha: Any, array_alpha: bool) -> tf.Tensor:
    """Inside a user's tf.function: a call to the traced function, its operations
    (and its gradient's) marked for XLA with ``jit_scope``. TensorFlow's
    clustering pass compiles them into one kernel per run-time shape, with
    dynamic shapes too: a shape the first time the function ever runs, any
    other on its second run (a function that keeps seeing new shapes runs
    uncompiled, on TF's kernels). A mark on the call (``jit_compile=True``)
    would compile every new shape at once, and tf2onnx cannot inline such a call.
    A call, not the ops inline: a ForwardAccumulator would differentiate inline
    ops one by one, ignoring the custom gradient.

    Where ``x`` is the result of arithmetic in the same graph (a Dense or
    convolution layer before the ELU), the graph gets the portable formulas: no
    bitcast or bitwise op and no Expm1, so that it converts to TFLite builtins
    and to ONNX (which ignore the marks). They give the same values in TF's
    runtime: the bit tests are there for subnormal inputs, which TF reads as
    zero, and a result of its arithmetic is never subnormal (flushed). A graph
    input, constant or variable read can be subnormal: it keeps the exact formulas."""
    a = _alpha_tensor(alpha, _compute_dtype(x.dtype))
    portable = _computed(x)
    y = _traced(func, array_alpha, x.dtype, False, portable, True)(x, a)
    y.set_shape(x.shape)  # traced for any shape: give the user's graph its static shape
    return y


def elu(x: Any, alpha: Any) -> tf.Tensor:
    return _call("elu", x, alpha)


def elu_derivative(x: Any, alpha: Any) -> tf.Tensor:
    return _call("elu_derivative", x, alpha)


def devices() -> list[str]:
    return [d.name.replace("/device:", "") for d in tf.config.list_logical_devices()]


def from_numpy(a: Any) -> tf.Tensor:
    return tf.constant(a)


def to_numpy(y: Any) -> Any:
    return y.numpy()
