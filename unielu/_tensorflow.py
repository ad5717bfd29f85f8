"""TensorFlow backend: eager tensors, variables and symbolic tensors in tf.function.

``tf.nn.elu`` computes ``exp(x) - 1`` (hundreds of ULP off near zero) and a
gradient of ``y + 1`` (0 below about -17 in float32, 1 at 0), so this backend
builds ELU from ``expm1`` with a custom gradient equal to
:func:`elu_derivative`. Eager calls are placed on the input's device: TF's
default placement would move a CPU tensor to GPU:0.
"""

from __future__ import annotations

import contextlib
from typing import Any

import tensorflow as tf

from unielu import _flush
from unielu._dispatch import dtype_error

NAME = "tensorflow"

_KEPT = frozenset({tf.float16, tf.bfloat16, tf.float32, tf.float64})
_HALF = frozenset({tf.float16, tf.bfloat16})


def _as_float(x: Any, func: str) -> tf.Tensor:
    x = tf.convert_to_tensor(x)  # reads a tf.Variable
    if x.dtype in _KEPT:
        return x
    if x.dtype.is_integer or x.dtype == tf.bool:
        return tf.cast(x, tf.float32)
    raise dtype_error(func, x.dtype.name, "float32")


def _on_device(x: tf.Tensor) -> Any:
    # Symbolic tensors inside tf.function have no device yet: let TF place them.
    device = getattr(x, "device", "")
    return tf.device(device) if device else contextlib.nullcontext()


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
    return tf.cast(_flush.elu(w, alpha, _Ops, w.dtype.name), x.dtype)


def _derivative(x: tf.Tensor, alpha: float) -> tf.Tensor:
    w = _widen(x)
    return tf.cast(_flush.derivative(w, alpha, _Ops, w.dtype.name), x.dtype)


def _elu(x: tf.Tensor, alpha: float) -> tf.Tensor:
    @tf.custom_gradient
    def f(x: tf.Tensor) -> Any:
        # The gradient is made of differentiable ops: second derivatives follow.
        return _forward(x, alpha), lambda dy: dy * _derivative(x, alpha)

    return f(x)


def elu(x: Any, alpha: float) -> tf.Tensor:
    x = _as_float(x, "elu")
    with _on_device(x):
        return _elu(x, alpha)


def elu_derivative(x: Any, alpha: float) -> tf.Tensor:
    x = _as_float(x, "elu_derivative")
    with _on_device(x):
        return _derivative(x, alpha)
