"""PaddlePaddle ELU layer: a drop-in for ``paddle.nn.ELU``, computed by :func:`unielu.elu`."""

from __future__ import annotations

from typing import Any

import paddle

import unielu
import unielu.backends.paddle  # to_static's AST mode must see unielu as ignored before it runs
from unielu.layers import _per_channel_arguments

__all__ = ["ELU"]


class ELU(paddle.nn.Layer):
    r"""Exponential Linear Unit, a drop-in for :class:`paddle.nn.ELU`.

    ``forward(x)`` is ``unielu.elu(x, alpha)``: accurate near zero
    (``paddle.nn.ELU`` computes ``exp(x) - 1``, ``-1.19e-7`` at ``-1e-7`` in
    float32) and with the gradient ``alpha * exp(x)`` for ``x <= 0``
    (``paddle.nn.ELU``'s is computed from its output, ``y + alpha``, which is
    exactly 0 below about -17 in float32 and -37 in float64). Works under
    ``paddle.jit.to_static`` (both modes) and ``paddle.jit.save``, whose saved
    program holds Paddle's standard operators only, so that ``paddle.jit.load``
    and ``paddle.inference`` run it where unielu is not installed.

    Parameters
    ----------
    alpha : float, default 1.0
        A finite real number ``>= 0``; with ``learn_alpha=True``, the initial
        value of the parameter.
    name : str, optional
        As for :class:`paddle.nn.ELU` (unused).
    learn_alpha : bool, default False
        Hold ``alpha`` as a trainable parameter (``self.alpha``, in the state
        dict as ``"alpha"``), differentiated exactly: ``d elu / d alpha =
        expm1(x)`` for ``x <= 0``.
    num_parameters : int, default 1
        With ``learn_alpha=True``: 1 for one scalar alpha (a 0-d parameter),
        or the number of channels for one alpha per channel, as in
        :class:`paddle.nn.PReLU`.
    channel_dim : int, default 1
        The input's channel dimension for a per-channel alpha (1 for
        ``NCHW``; -1 for channels last, ``NHWC``).
    dtype : str, optional
        The learned alpha's dtype (Paddle's default dtype). The result always
        has the input's dtype.

    Raises
    ------
    TypeError
        If ``alpha`` is not a real number, or ``num_parameters`` not an int.
    ValueError
        If ``alpha`` is negative, NaN or infinite, or ``num_parameters`` is
        below 1 (or above 1 with ``learn_alpha=False``); when called, if the
        input's ``channel_dim`` dimension is missing or its size is not
        ``num_parameters`` (a size unknown while ``paddle.jit.to_static``
        builds a program is checked by the broadcast when the program runs).

    Examples
    --------
    >>> import paddle
    >>> from unielu.layers.paddle import ELU
    >>> ELU(alpha=0.5)(paddle.to_tensor([-1e-10, 2.0])).numpy()
    array([-5.e-11,  2.e+00], dtype=float32)
    >>> ELU(learn_alpha=True, num_parameters=3)
    ELU(learn_alpha=True, num_parameters=3, channel_dim=1)
    """

    def __init__(
        self,
        alpha: float = 1.0,
        name: str | None = None,
        learn_alpha: bool = False,
        num_parameters: int = 1,
        channel_dim: int = 1,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        value, shape = _per_channel_arguments(
            self, "layers.paddle.ELU", alpha, learn_alpha, num_parameters, channel_dim
        )
        self._name = name
        self.alpha: Any
        if learn_alpha:
            self.alpha = self.create_parameter(
                list(shape),
                dtype=dtype or paddle.get_default_dtype(),
                default_initializer=paddle.nn.initializer.Constant(value),
            )
        else:
            self.alpha = value

    def _alpha_for(self, x: Any) -> Any:
        alpha = self.alpha
        # A float, or a parameter (a pir.Value while to_static builds a program).
        if isinstance(alpha, float) or len(alpha.shape) == 0:
            return alpha
        # One value per channel: shaped (C, 1, ..., 1) to broadcast along channel_dim.
        n = self.num_parameters
        ndim = len(x.shape)
        dim = self.channel_dim + ndim if self.channel_dim < 0 else self.channel_dim
        # A program's unknown sizes are -1: checked when it runs, by the broadcast.
        if not 0 <= dim < ndim or x.shape[dim] not in (n, -1):
            raise ValueError(
                f"unielu.layers.paddle.ELU with num_parameters={n} needs an input whose "
                f"dimension {self.channel_dim} (channel_dim) has size {n}; got 'x' of shape "
                f"{list(x.shape)}"
            )
        return alpha.reshape([n] + [1] * (ndim - dim - 1))

    def forward(self, x: Any) -> Any:
        return unielu.elu(x, self._alpha_for(x))

    def extra_repr(self) -> str:
        if self.learn_alpha:
            text = f"learn_alpha=True, num_parameters={self.num_parameters}"
            if self.num_parameters > 1:
                text += f", channel_dim={self.channel_dim}"
            return text
        name = f", name={self._name}" if self._name else ""
        return f"alpha={self.alpha}{name}"
