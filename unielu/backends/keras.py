"""Keras backend: symbolic tensors (``keras.KerasTensor``) of a functional model.

A ``KerasTensor`` has a shape and a dtype but no values, under every Keras
backend. ``unielu.elu(t)`` on one applies the registered layer
:class:`unielu.layers.keras.ELU` (``elu_derivative``:
:class:`unielu.layers.keras.ELUDerivative`) and returns its output tensor:
the functional model then computes unielu's ELU on the backend's own
tensors when it runs, and saves and loads as a ``.keras`` file (where
:mod:`unielu.layers.keras` is imported). The layer does not autocast: the
result keeps the input's floating dtype, and integers and bool follow the
Keras backend's own promotion.

The layers are defined here, where this backend applies them, and published
by :mod:`unielu.layers.keras` (their ``__module__``, and so the module a saved
model names): layers sit above backends, and no backend imports a layer.

``from_numpy(a)`` gives a symbolic input of ``a``'s shape and dtype that
remembers ``a``; ``to_numpy(y)`` runs the functional model from such inputs
to ``y`` and returns its values. The report, the plot and the tests use
these; a model's own inputs are made with ``keras.Input``.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import keras
import numpy as np

from unielu._checks import (
    alpha_type_error,
    check_alpha_fits,
    check_alpha_shape,
    check_layer_alpha,
    dtype_error,
)
from unielu._dispatch import backend_module

# Read by unielu._registry from this source, without importing the module: literals only.
SPEC = {
    "name": "keras",
    "framework": "keras",
    "requirement": "keras>=3.6",
    "priority": 60,
    "types": ["keras:KerasTensor"],
    "description": "a Keras 3 symbolic tensor (keras.KerasTensor, any Keras backend)",
    # The values come from the Keras backend's tensors when the model runs:
    # TensorFlow's and JAX's bound and subnormal flushing, the looser of the three.
    "ulp": 5,
    "flush_subnormals": True,
    # Keras brings no backend of its own: all three, each tested. JAX at its floor
    # (Keras 3.6 calls jax.spmd_mode, gone from later JAX); TensorFlow without its
    # floor: 2.16 (ml-dtypes ~=0.3.1) cannot share an environment with JAX 0.6.
    # onnx*: Keras' ONNX export on PyTorch (tests/test_keras_deploy.py)
    "test_requirements": [
        "keras>=3.6", "tensorflow-cpu", "jax>=0.6.0", "torch", "onnx", "onnxscript", "onnxruntime",
    ],
    "test_env": [
        {"KERAS_BACKEND": "tensorflow"}, {"KERAS_BACKEND": "jax"}, {"KERAS_BACKEND": "torch"},
    ],
    "newest_tested": "keras 3.15.1",
}  # fmt: skip

_FLOATS = ("float16", "bfloat16", "float32", "float64")  # not float8_*
_REAL = ("int", "uint", "bool")
_NUMBER = ("int", "uint")


def _check(x: Any, alpha: Any, func: str) -> dict[str, Any]:
    """Refuse what the model could not compute; the layer call's keyword arguments."""
    if str(x.dtype) not in _FLOATS and not str(x.dtype).startswith(_REAL):
        raise dtype_error(func, x.dtype, "the Keras backend's default floating dtype")
    if isinstance(alpha, float):
        # Integers and bool: the Keras backend promotes them (float64 under JAX's
        # x64), and its unielu backend checks alpha when the model runs.
        if str(x.dtype) in _FLOATS:
            check_alpha_fits(alpha, x.dtype, func)
        return {}
    # An array alpha is another symbolic tensor of the model, passed to the layer.
    if not isinstance(alpha, keras.KerasTensor) or not (
        str(alpha.dtype) in _FLOATS or str(alpha.dtype).startswith(_NUMBER)
    ):
        raise alpha_type_error(func, alpha, "(for a KerasTensor x) a KerasTensor")
    check_alpha_shape(alpha.shape, x.shape, func)
    return {"alpha": alpha}


def elu(x: Any, alpha: Any) -> Any:
    kwargs = _check(x, alpha, "elu")
    return ELU(alpha if not kwargs else 1.0, autocast=False)(x, **kwargs)


def elu_derivative(x: Any, alpha: Any) -> Any:
    kwargs = _check(x, alpha, "elu_derivative")
    return ELUDerivative(alpha if not kwargs else 1.0, autocast=False)(x, **kwargs)


# -- the layers (public as unielu.layers.keras.ELU and .ELUDerivative) -----------------


def _inner(x: Any, func: str) -> ModuleType:
    """The unielu backend of the Keras backend's own tensor ``x`` (TensorFlow, JAX or
    PyTorch): what ``unielu.elu`` would call, chosen as it chooses."""
    return backend_module(x, func)


@keras.saving.register_keras_serializable(package="unielu")
class ELU(keras.layers.Layer):
    r"""Exponential Linear Unit, a drop-in for :class:`keras.layers.ELU`.

    ``call(x)`` is ``unielu.elu(x, alpha)`` on the Keras backend's own tensor
    (TensorFlow, JAX or PyTorch, whichever ``KERAS_BACKEND`` picks), so the
    contract's accuracy and gradients hold: Keras's own ELU computes
    ``exp(x) - 1`` (0 for tiny negative ``x``) and, on TensorFlow and JAX, a
    gradient that is 0 below about -17 in float32. Masks pass through.

    Parameters
    ----------
    alpha : float, default 1.0
        A finite real number ``>= 0``; with ``learn_alpha=True``, the initial
        value of the weight (and what the configuration keeps).
    learn_alpha : bool, default False
        Hold ``alpha`` as a trainable scalar weight named ``"alpha"``, saved
        with the model's weights.
    **kwargs
        Passed to :class:`keras.layers.Layer` (``name``, ``dtype``, ...).

    Notes
    -----
    ``call(inputs, alpha=None)``: a tensor ``alpha`` given to the call replaces
    the configured one; ``unielu.elu(x, alpha)`` on ``KerasTensor`` s passes it so.

    Raises
    ------
    TypeError
        If ``alpha`` is not a real number.
    ValueError
        If ``alpha`` is negative, NaN or infinite.

    Examples
    --------
    >>> import keras
    >>> from unielu.layers.keras import ELU
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), ELU(0.5)])
    """

    def __init__(self, alpha: float = 1.0, learn_alpha: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alpha = check_layer_alpha(alpha, "layers.keras.ELU")
        self.learn_alpha = bool(learn_alpha)
        self.supports_masking = True
        self.alpha_weight: Any = None

    def build(self, input_shape: Any) -> None:
        if self.learn_alpha:
            self.alpha_weight = self.add_weight(
                shape=(),
                initializer=keras.initializers.Constant(self.alpha),
                name="alpha",
                trainable=True,
            )
        self.built = True

    def _alpha(self) -> Any:
        if self.alpha_weight is None:
            return self.alpha
        return self.alpha_weight.value  # the backend's own tensor (or variable)

    def call(self, inputs: Any, alpha: Any = None) -> Any:
        # alpha: a tensor, when unielu.elu is given a KerasTensor alpha (one value per
        # channel...). The number alpha was checked by __init__, a tensor one is by the
        # backend: unielu.elu's own alpha check would pass both through unchanged.
        return _inner(inputs, "elu").elu(inputs, self._alpha() if alpha is None else alpha)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(alpha=self.alpha, learn_alpha=self.learn_alpha)
        return config


@keras.saving.register_keras_serializable(package="unielu")
class ELUDerivative(keras.layers.Layer):
    r"""The derivative of ELU with respect to its input, as a Keras layer.

    ``call(x)`` is ``unielu.elu_derivative(x, alpha)``: 1 for ``x > 0`` and
    ``alpha * exp(x)`` for ``x <= 0``. This is what
    ``unielu.elu_derivative`` applies to a :class:`keras.KerasTensor`, so
    that a functional model calling it saves and loads.

    Parameters
    ----------
    alpha : float, default 1.0
        A finite real number ``>= 0``.
    **kwargs
        Passed to :class:`keras.layers.Layer`.
    """

    def __init__(self, alpha: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alpha = check_layer_alpha(alpha, "layers.keras.ELUDerivative")
        self.supports_masking = True

    def call(self, inputs: Any, alpha: Any = None) -> Any:
        module = _inner(inputs, "elu_derivative")
        return module.elu_derivative(inputs, self.alpha if alpha is None else alpha)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(alpha=self.alpha)
        return config


# Their public home: the name in the docs, and the module a saved model records.
ELU.__module__ = ELUDerivative.__module__ = "unielu.layers.keras"


def devices() -> list[str]:
    return [f"symbolic (computed by the {keras.backend.backend()} backend when the model runs)"]


def from_numpy(a: Any) -> Any:
    a = np.asarray(a)
    x = keras.Input(batch_shape=a.shape, dtype=str(a.dtype))
    x._unielu_values = a  # what to_numpy feeds this input with
    return x


def _inputs(y: Any) -> list[Any]:
    """The input tensors of the functional graph that computes ``y``."""
    found: list[Any] = []
    stack = [y]
    while stack:
        t = stack.pop()
        operation, node_index, _ = t._keras_history
        node = operation._inbound_nodes[node_index]
        if node.is_input:
            if not any(t is f for f in found):
                found.append(t)
        else:
            stack.extend(node.input_tensors)
    return found


def to_numpy(y: Any) -> Any:
    inputs = _inputs(y)
    missing = [t.name for t in inputs if not hasattr(t, "_unielu_values")]
    if missing:
        raise TypeError(
            f"to_numpy() evaluates symbolic tensors made by from_numpy(); {missing} were not"
        )
    values = [t._unielu_values for t in inputs]
    if len(inputs) == 1 and inputs[0] is y:
        return values[0]
    model = keras.Model(inputs if len(inputs) > 1 else inputs[0], y)
    return _numpy(model(values if len(values) > 1 else values[0]))


def _numpy(t: Any) -> Any:
    # Not keras.ops.convert_to_numpy: its np.array(tensor) warns under NumPy 2.
    if keras.backend.backend() == "torch":
        t = t.detach().cpu()
        if str(t.dtype) == "torch.bfloat16":  # NumPy has no bfloat16 of its own
            import ml_dtypes

            return t.float().numpy().astype(ml_dtypes.bfloat16)
        return t.numpy()
    if keras.backend.backend() == "tensorflow":
        return t.numpy()
    return np.asarray(t)
