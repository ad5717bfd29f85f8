"""TensorFlow backend: eager tensors, variables and symbolic tensors in tf.function.

``tf.nn.elu`` computes ``exp(x) - 1`` (hundreds of ULP off near zero) and a
gradient of ``y + 1`` (0 below about -17 in float32, 1 at 0), so this backend
builds ELU from ``expm1`` with a custom gradient equal to
:func:`elu_derivative`. Eager calls are placed on the input's device: TF's
default placement would move a CPU tensor to GPU:0.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from unielu._dispatch import dtype_error
from unielu.backends import _formulas
from unielu.backends import numpy as _numpy

# Read by unielu._dispatch from this source, without importing the module: literals only.
SPEC = {
    "name": "tensorflow",
    "framework": "tensorflow",
    "requirement": "tensorflow",
    "priority": 50,
    "types": ["tensorflow:Tensor", "tensorflow:Variable"],
    "description": "a TensorFlow tensor or variable",
    "autodiff": True,
    "ulp": 5,
    "flush_subnormals": True,
    "test_requirements": ["tensorflow-cpu"],
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


def _widen(x: tf.Tensor) -> tf.Tensor:
    return tf.cast(x, tf.float32) if x.dtype in _HALF else x


class _Ops:
    @staticmethod
    def where(c: Any, a: Any, b: Any) -> tf.Tensor:
        like = b if isinstance(b, tf.Tensor) else a
        return tf.where(c, tf.cast(a, like.dtype), tf.cast(b, like.dtype))

    expm1, exp, isnan = (
        staticmethod(tf.math.expm1),
        staticmethod(tf.exp),
        staticmethod(tf.math.is_nan),
    )

    @staticmethod
    def bits(x: tf.Tensor) -> tf.Tensor:
        return tf.bitcast(x, tf.int32 if x.dtype == tf.float32 else tf.int64)

    @staticmethod
    def from_bits(i: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
        return tf.bitcast(i, like.dtype)


def _forward(x: tf.Tensor, alpha: float) -> tf.Tensor:
    w = _widen(x)  # float16/bfloat16: compute in float32, round once
    return tf.cast(_formulas.elu(w, alpha, _Ops, w.dtype.name), x.dtype)


def _derivative(x: tf.Tensor, alpha: float) -> tf.Tensor:
    w = _widen(x)
    return tf.cast(_formulas.derivative(w, alpha, _Ops, w.dtype.name), x.dtype)


def _elu(x: tf.Tensor, alpha: float) -> tf.Tensor:
    @tf.custom_gradient
    def f(x: tf.Tensor) -> Any:
        # The gradient is made of differentiable ops: second derivatives follow.
        return _forward(x, alpha), lambda dy: dy * _derivative(x, alpha)

    return f(x)


# Eager calls run as one XLA-compiled function: the composite's dozen eager ops
# would cost 4-8x tf.nn.elu. alpha is a trace-time constant (one trace per
# dtype and alpha); XLA compiles once per shape. Inside a user's tf.function
# the ops are inlined into their graph instead.
_compiled = {
    f: tf.function(f, jit_compile=True, reduce_retracing=True, autograph=False)
    for f in (_elu, _derivative)
}

# Calling a tf.function costs about 0.3 ms, 20x tf.nn.elu on a small tensor. A
# small tensor in host memory, with no tape that could want its gradient, is
# computed by the NumPy backend instead: same contract, no device transfer.
HOST_MAX = 1 << 16
_host = {_elu: _numpy.elu, _derivative: _numpy.elu_derivative}
try:
    from tensorflow.python.eager.record import could_possibly_record as _recording
except ImportError:  # another TF layout: assume a tape, take the differentiable path

    def _recording() -> bool:
        return True


def _call(func: Any, x: Any, alpha: float, name: str) -> tf.Tensor:
    x = _as_float(x, name)
    if not tf.executing_eagerly():
        return func(x, alpha)
    with tf.device(x.device):  # TF's default placement would move a CPU tensor to GPU:0
        if x.shape.num_elements() <= HOST_MAX and "CPU" in x.device and not _recording():
            return tf.constant(_host[func](x.numpy(), alpha))
        return _compiled[func](x, alpha)


def elu(x: Any, alpha: float) -> tf.Tensor:
    return _call(_elu, x, alpha, "elu")


def elu_derivative(x: Any, alpha: float) -> tf.Tensor:
    return _call(_derivative, x, alpha, "elu_derivative")


def devices() -> list[str]:
    return [d.name.replace("/device:", "") for d in tf.config.list_logical_devices()]


def from_numpy(a: Any) -> tf.Tensor:
    return tf.constant(a)


def to_numpy(y: Any) -> Any:
    return y.numpy()
