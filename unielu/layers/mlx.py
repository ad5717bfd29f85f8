"""MLX ELU layer: a drop-in for ``mlx.nn.ELU``, computed by :func:`unielu.elu`."""

from __future__ import annotations

from typing import Any

import mlx.core as mx
import mlx.nn as nn

import unielu
from unielu.backends import mlx as _backend
from unielu.layers import _channel_alpha, _per_channel_arguments

__all__ = ["ELU", "export_function"]


class ELU(nn.Module):
    r"""Exponential Linear Unit, a drop-in for :class:`mlx.nn.ELU`.

    ``__call__(x)`` is ``unielu.elu(x, alpha)``: accurate near zero
    (``mlx.nn.ELU`` computes ``exp(x) - 1``, 19% off at ``-1e-7`` in float32)
    and differentiated exactly, with the gradient ``alpha * exp(x)`` for
    ``x <= 0``. Works under ``mx.grad``, ``mx.vmap``, ``mx.compile`` and
    ``mlx.nn.value_and_grad``; saved and loaded with ``save_weights`` and
    ``load_weights`` (``.safetensors`` or ``.npz``).

    Parameters
    ----------
    alpha : float, default 1.0
        The ELU's alpha, finite and ``>= 0``: fixed, or with
        ``learn_alpha=True`` the learned parameter's starting value.
    learn_alpha : bool, default False
        Hold ``alpha`` as a trainable parameter (``self.alpha``, an
        ``mx.array``, in the weights as ``"alpha"``), differentiated exactly:
        ``d elu / d alpha = expm1(x)`` for ``x <= 0``.
    num_parameters : int, default 1
        With ``learn_alpha=True``: 1 for one scalar alpha (a 0-d array), or the
        number of channels for one alpha per channel.
    channel_dim : int, default -1
        The input's channel dimension for a per-channel alpha: -1, since MLX's
        layers (``mlx.nn.Conv2d``) put channels last.
    dtype : mlx.core.Dtype, default mlx.core.float32
        The dtype of the learned alpha. The result has the input's dtype.

    Raises
    ------
    TypeError
        For an ``alpha`` that is no real number, or a ``num_parameters`` that
        is no int.
    ValueError
        For a negative, NaN or infinite ``alpha``, or a ``num_parameters``
        below 1 (or above 1 without ``learn_alpha``); from a call, when the
        alpha is one per channel and the input has no dimension
        ``channel_dim`` with ``num_parameters`` entries.

    Examples
    --------
    >>> import mlx.core as mx
    >>> from unielu.layers.mlx import ELU
    >>> ELU(alpha=0.5)(mx.array([-1e-10, 2.0]))
    array([-5e-11, 2], dtype=float32)
    >>> ELU(learn_alpha=True, num_parameters=3)
    ELU(learn_alpha=True, num_parameters=3, channel_dim=-1)
    """

    def __init__(
        self,
        alpha: float = 1.0,
        learn_alpha: bool = False,
        num_parameters: int = 1,
        channel_dim: int = -1,
        dtype: Any = mx.float32,
    ) -> None:
        super().__init__()
        value, shape = _per_channel_arguments(
            self, "layers.mlx.ELU", alpha, learn_alpha, num_parameters, channel_dim
        )
        self.alpha: float | mx.array = mx.full(shape, value, dtype=dtype) if learn_alpha else value

    def __call__(self, x: mx.array) -> mx.array:
        alpha = self.alpha
        if isinstance(alpha, mx.array):
            alpha = _channel_alpha(alpha, x.shape, self.channel_dim, "layers.mlx.ELU")
        return unielu.elu(x, alpha)

    def _extra_repr(self) -> str:
        if self.learn_alpha:
            text = f"learn_alpha=True, num_parameters={self.num_parameters}"
            if self.num_parameters > 1 or self.channel_dim != -1:
                text += f", channel_dim={self.channel_dim}"
            return text
        return f"alpha={self.alpha}"


def export_function(file: str, fun: Any, *args: Any, **kwargs: Any) -> None:
    """:func:`mlx.core.export_function`, for functions that call unielu.

    unielu's MLX functions carry their derivative rules
    (``mx.custom_function``), which ``mx.export_function`` cannot serialize.
    While this traces ``fun``, unielu calls its kernels alone: the exported
    file holds standard MLX operations (the same values), and
    ``mx.import_function`` runs it where unielu is not installed. The imported
    function is not differentiated with unielu's rules.

    Parameters
    ----------
    file : str
        Where to write the ``.mlxfn`` file.
    fun : callable
        The function (or an ``mlx.nn.Module``'s ``__call__``) to export.
    *args, **kwargs
        As for :func:`mlx.core.export_function` (example inputs, ``shapeless``).

    Examples
    --------
    >>> import mlx.core as mx
    >>> from unielu.layers.mlx import ELU, export_function
    >>> export_function("elu.mlxfn", ELU(0.5), mx.zeros(4), shapeless=True)  # doctest: +SKIP
    >>> mx.import_function("elu.mlxfn")(mx.array([-1e-10, 2.0]))  # doctest: +SKIP
    (array([-5e-11, 2], dtype=float32),)
    """
    token = _backend.EXPORTING.set(True)
    try:
        mx.export_function(file, fun, *args, **kwargs)
    finally:
        _backend.EXPORTING.reset(token)
