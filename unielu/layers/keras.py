"""Keras 3 ELU layers (any Keras backend), computed by :func:`unielu.elu`.

The layers are registered with Keras under the package ``"unielu"``: a model
saved with them (``.keras``) loads again in a process that has imported this
module.
"""

from __future__ import annotations

from typing import Any

import keras

import unielu
from unielu.layers import _initial_alpha

__all__ = ["ELU", "ELUDerivative"]


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
        self.alpha = _initial_alpha(alpha, "layers.keras.ELU")
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
        # alpha: a tensor, when unielu.elu is given a KerasTensor alpha (one value per channel...).
        return unielu.elu(inputs, self._alpha() if alpha is None else alpha)

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
        self.alpha = _initial_alpha(alpha, "layers.keras.ELUDerivative")
        self.supports_masking = True

    def call(self, inputs: Any, alpha: Any = None) -> Any:
        return unielu.elu_derivative(inputs, self.alpha if alpha is None else alpha)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(alpha=self.alpha)
        return config
