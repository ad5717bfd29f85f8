"""PyTorch ELU layer: a drop-in for ``torch.nn.ELU``, computed by :func:`unielu.elu`."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

import unielu
from unielu.layers import _channel_alpha, _per_channel_arguments

__all__ = ["ELU", "onnx_translation_table"]

# Detect torch.Tensor now: dispatch reads the registry from files, which Dynamo
# cannot trace, so a first unielu call inside torch.compile would break the graph.
unielu.get_backend(torch.empty(0))


class ELU(nn.Module):
    r"""Exponential Linear Unit, a drop-in for :class:`torch.nn.ELU`.

    ``forward(x)`` is ``unielu.elu(x, alpha)``: accurate near zero and with
    the gradient ``alpha * exp(x)`` for ``x <= 0`` (``torch.nn.ELU``'s is
    computed from its output, ``y + alpha``, which is exactly 0 below about
    -17 in float32, and 1 at NaN). Works under ``torch.compile``,
    ``torch.export``, ``torch.func``, ``torch.jit.trace`` and
    ``torch.jit.script``; exported artifacts hold standard operators only.

    Parameters
    ----------
    alpha : float, default 1.0
        A finite real number ``>= 0``; with ``learn_alpha=True``, the initial
        value of the parameter.
    inplace : bool, default False
        Overwrite the input with the result, to save memory, where that keeps
        the gradient exact: when autograd does not need the input, that is
        when grad mode is off or neither the input nor a learned ``alpha``
        requires a gradient. Otherwise the result is computed out of place
        (the input is left as it is): the exact gradient ``alpha * exp(x)``
        needs ``x``, and recovering it from the output, as ``torch.nn.ELU``
        does in place, loses accuracy.
    learn_alpha : bool, default False
        Hold ``alpha`` as a trainable :class:`torch.nn.Parameter` (``self.alpha``,
        in the state dict as ``"alpha"``), differentiated exactly:
        ``d elu / d alpha = expm1(x)`` for ``x <= 0``.
    num_parameters : int, default 1
        With ``learn_alpha=True``: 1 for one scalar alpha (a 0-d parameter),
        or the number of channels for one alpha per channel, as in
        :class:`torch.nn.PReLU`.
    channel_dim : int, default 1
        The input's channel dimension for a per-channel alpha (1, as PReLU
        and ``(N, C, ...)`` inputs have it; -1 for channels last).
    device, dtype : optional
        Where, and in which dtype, the learned alpha is created (the default
        dtype). The result always has the input's dtype.

    Raises
    ------
    TypeError
        If ``alpha`` is not a real number.
    ValueError
        If ``alpha`` is negative, NaN or infinite; if ``num_parameters`` is
        not a positive integer, or not 1 without ``learn_alpha``; in
        ``forward``, if a per-channel alpha does not match the input's
        channel dimension.

    Examples
    --------
    >>> import torch
    >>> from unielu.layers.torch import ELU
    >>> ELU(alpha=0.5)(torch.tensor([-1e-10, 2.0]))
    tensor([-5.0000e-11,  2.0000e+00])
    >>> ELU(learn_alpha=True, num_parameters=3)
    ELU(learn_alpha=True, num_parameters=3, channel_dim=1)
    """

    __constants__: ClassVar[list[str]] = ["inplace", "learn_alpha", "num_parameters", "channel_dim"]

    def __init__(
        self,
        alpha: float = 1.0,
        inplace: bool = False,
        learn_alpha: bool = False,
        num_parameters: int = 1,
        channel_dim: int = 1,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        value, shape = _per_channel_arguments(
            self, "layers.torch.ELU", alpha, learn_alpha, num_parameters, channel_dim
        )
        self.inplace = bool(inplace)
        self.alpha: float | nn.Parameter = (
            nn.Parameter(torch.full(shape, value, device=device, dtype=dtype))
            if learn_alpha
            else value
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():
            return self._scripted(x)
        alpha = self.alpha
        if isinstance(alpha, torch.Tensor):
            alpha = _channel_alpha(alpha, x.shape, self.channel_dim, "layers.torch.ELU")
        if self.inplace and not (
            torch.is_grad_enabled()
            and (x.requires_grad or (isinstance(alpha, torch.Tensor) and alpha.requires_grad))
        ):
            return unielu.elu(x, alpha, out=x)
        return unielu.elu(x, alpha)

    def _scripted(self, x: torch.Tensor) -> torch.Tensor:
        """forward under ``torch.jit.script``, where :func:`unielu.elu` (which takes
        any array type) cannot be compiled: ``aten::elu``, as ``torch.jit.trace``
        records, exact in TorchScript's runtime, with its exact gradient."""
        w = x if x.is_floating_point() else x.float()
        alpha = self.alpha
        if isinstance(alpha, torch.Tensor):
            if alpha.dim() == 1:
                dim = self.channel_dim + w.dim() if self.channel_dim < 0 else self.channel_dim
                torch._assert(
                    0 <= dim < w.dim() and w.shape[dim] == alpha.shape[0],
                    "unielu.layers.torch.ELU with one alpha per channel needs an input whose "
                    "dimension channel_dim has num_parameters elements",
                )
                alpha = alpha.reshape([alpha.shape[0]] + [1] * (w.dim() - dim - 1))
            positive = w > 0
            # elu(., 1) on the clamped x <= 0 branch: expm1, with its gradient.
            unit = torch.nn.functional.elu(torch.where(positive, 0.0, w), 1.0)
            y = torch.where(positive, w, alpha.to(w.dtype) * unit)
        else:
            y = torch.nn.functional.elu(w, alpha)
        if self.inplace and not (torch.is_grad_enabled() and x.requires_grad):
            return x.copy_(y)
        return y

    def extra_repr(self) -> str:
        if self.learn_alpha:
            text = f"learn_alpha=True, num_parameters={self.num_parameters}"
            if self.num_parameters > 1:
                text += f", channel_dim={self.channel_dim}"
        else:
            text = f"alpha={self.alpha}"
        return text + (", inplace=True" if self.inplace else "")


def onnx_translation_table() -> dict[Any, Any]:
    """ONNX translations that keep ELU accurate, for ``torch.onnx.export``.

    ONNX has no ``expm1``, and ONNX Runtime computes ONNX's ``Elu`` as
    ``exp(x) - 1``: 0 for tiny negative ``x`` (millions of ULP off below about
    1e-8 in float32), and it has no float64 ``Elu`` at all. These translations
    build ``expm1`` from ``Exp`` and ``Log`` instead (Kahan's
    ``x * (u - 1) / log(u)`` with ``u = exp(x)``, and ``u - 1`` where there is no
    cancellation): within 2.3 ULP in float32 and 1.4 ULP in float64 in ONNX
    Runtime (alpha 1.7, over the tests' grid of the whole range), ``-0.0`` and
    the special values kept. They cover ``aten.elu`` (what
    ``torch.nn.ELU`` exports as; ``unielu.elu`` exports standard ops) and
    ``aten.expm1``.

    Returns
    -------
    dict
        For ``torch.onnx.export(..., dynamo=True, custom_translation_table=...)``.
        Needs ``onnxscript``.

    Examples
    --------
    >>> import torch
    >>> from unielu.layers.torch import ELU, onnx_translation_table
    >>> program = torch.onnx.export(
    ...     ELU(), (torch.zeros(3),), dynamo=True, verbose=False,
    ...     custom_translation_table=onnx_translation_table(),
    ... )  # doctest: +SKIP
    """
    import numpy as np
    from onnx.numpy_helper import from_array
    from onnxscript import opset18 as op

    def const(value: float, like: Any) -> Any:
        # A float64 constant rounded once to x's dtype (a bare Python float becomes
        # a float32 constant: alpha = 1.7 would be 3e-8 off in float64).
        return op.CastLike(op.Constant(value=from_array(np.array(value, np.float64))), like)

    def expm1(x: Any) -> Any:
        one = op.CastLike(1.0, x)
        u = op.Exp(x)
        # x * (u - 1) / log(u): exact where u rounds to 1 (ratio 1 there, so that
        # the sign of -0.0 survives); u - 1 has no cancellation below 0.5.
        ratio = op.Where(op.Equal(u, one), one, op.Div(op.Sub(u, one), op.Log(u)))
        near = op.Where(op.IsInf(u), u, op.Mul(x, ratio))
        return op.Where(op.Less(u, op.CastLike(0.5, x)), op.Sub(u, one), near)

    def elu(x: Any, alpha: float = 1.0, scale: float = 1.0, input_scale: float = 1.0) -> Any:
        zero = op.CastLike(0.0, x)
        positive = op.Greater(x, zero)
        negative = op.Where(positive, zero, x)  # the branch not taken cannot overflow
        if input_scale != 1.0:
            negative = op.Mul(negative, const(input_scale, x))
        y = op.Where(positive, x, op.Mul(const(alpha, x), expm1(negative)))
        return y if scale == 1.0 else op.Mul(y, const(scale, x))

    return {
        torch.ops.aten.elu.default: elu,
        torch.ops.aten.expm1.default: expm1,
    }
