"""Flax NNX ELU module, computed by :func:`unielu.elu`."""

from __future__ import annotations

from typing import Any

from unielu._registry import get_spec

# The layer's floors are above the functions' (the jax SPEC's layer_requirements):
# refused by name before an older Flax fails in its own words.
get_spec("jax").check_layer_version(__name__)

import jax.numpy as jnp  # noqa: E402
from flax import nnx  # noqa: E402

import unielu  # noqa: E402
from unielu._checks import check_layer_alpha  # noqa: E402

# A Param's value: get_value() where Flax has it (0.12.x deprecates .value);
# .value before (indexing with [...] fails on a float Param in 0.11-0.12.0).
_value: Any = nnx.Variable.get_value if hasattr(nnx.Variable, "get_value") else (lambda p: p.value)

__all__ = ["ELU"]


class ELU(nnx.Module):
    r"""Exponential Linear Unit as a Flax NNX module.

    ``__call__(x)`` is ``unielu.elu(x, alpha)``: accurate near zero, and
    differentiable with the gradient ``alpha * exp(x)`` for ``x <= 0``
    (``jax.nn.elu``'s is computed as ``y + 1``, exactly 0 below about -17 in
    float32). Works under ``nnx.jit``, ``jax.jit``, ``grad`` and ``vmap``.

    Parameters
    ----------
    alpha : float, default 1.0
        A finite real number ``>= 0`` (a static attribute); with
        ``learn_alpha=True``, the initial value of the parameter.
    learn_alpha : bool, default False
        Hold ``alpha`` as a trainable scalar :class:`flax.nnx.Param`
        (``self.alpha``), differentiated exactly: ``d elu / d alpha =
        expm1(x)`` for ``x <= 0``.
    param_dtype : dtype, default float32
        The dtype of the learned alpha. The result has the input's dtype.

    Raises
    ------
    TypeError
        If ``alpha`` is not a real number (an array too: a learned alpha is the
        layer's own parameter).
    ValueError
        If ``alpha`` is not finite, or below 0.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from unielu.layers.flax import ELU
    >>> ELU(alpha=0.5)(jnp.array([-1e-10, 2.0]))
    Array([-5.e-11,  2.e+00], dtype=float32)
    """

    def __init__(
        self, alpha: float = 1.0, learn_alpha: bool = False, *, param_dtype: Any = jnp.float32
    ) -> None:
        value = check_layer_alpha(alpha, "layers.flax.ELU")
        self.learn_alpha = bool(learn_alpha)
        self.alpha: float | nnx.Param = (
            nnx.Param(jnp.asarray(value, dtype=param_dtype)) if learn_alpha else value
        )

    def __call__(self, x: Any) -> Any:
        alpha = _value(self.alpha) if isinstance(self.alpha, nnx.Param) else self.alpha
        return unielu.elu(x, alpha)
