"""ELU layers, thin over :func:`unielu.elu`: one submodule per framework.

Each framework's layer is the module ``unielu.layers.<framework>``, found by
its file name and imported only when asked for, so that ``import
unielu.layers`` imports no framework: :mod:`unielu.layers.torch` (an
``nn.Module``, a drop-in for ``torch.nn.ELU``), :mod:`unielu.layers.keras` (a
Keras 3 layer for any Keras backend, a drop-in for ``keras.layers.ELU``),
:mod:`unielu.layers.flax` (a Flax NNX module), and those of the backends whose
docs page documents a layer.

All of them compute :func:`unielu.elu` on the framework's own tensors, so the
contract's accuracy and gradients hold inside a model, and with
``learn_alpha=True`` they hold ``alpha`` as a trainable parameter.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from unielu._checks import check_layer_alpha, check_num_parameters

__all__: list[str] = []
# One module per framework, found by file name (a new layer file needs no entry
# here); not in __all__: a star import imports no framework.
_SUBMODULES = frozenset(p.stem for p in Path(__file__).parent.glob("[!_]*.py"))


def _per_channel_arguments(
    layer: Any, name: str, alpha: float, learn_alpha: bool, num_parameters: int, channel_dim: int
) -> tuple[float, tuple[int, ...]]:
    """Check the arguments of a layer with one alpha per channel (``name``, as in
    errors) and set its ``learn_alpha``, ``num_parameters`` and ``channel_dim``:
    alpha as a float, and the learned alpha's shape (0-d, or one per channel)."""
    value = check_layer_alpha(alpha, name)
    check_num_parameters(num_parameters, learn_alpha, name)
    layer.learn_alpha = bool(learn_alpha)
    layer.num_parameters = num_parameters
    layer.channel_dim = int(channel_dim)
    return value, () if num_parameters == 1 else (num_parameters,)


def _channel_alpha(alpha: Any, shape: Sequence[int], channel_dim: int, layer: str) -> Any:
    """A layer's array ``alpha`` for an input of ``shape``: as it is if 0-d; one
    value per channel, shaped ``(C, 1, ..., 1)`` to broadcast along ``channel_dim``
    (a ValueError if that dimension is missing or not of size C; ``layer`` names
    the layer in it)."""
    if alpha.ndim == 0:
        return alpha
    n = alpha.shape[0]
    ndim = len(shape)
    dim = channel_dim + ndim if channel_dim < 0 else channel_dim
    if not 0 <= dim < ndim or shape[dim] != n:
        raise ValueError(
            f"unielu.{layer} with num_parameters={n} needs an input whose "
            f"dimension {channel_dim} (channel_dim) has size {n}; got 'x' of shape "
            f"{tuple(shape)}"
        )
    return alpha.reshape((n,) + (1,) * (ndim - dim - 1))


def __getattr__(name: str) -> ModuleType:
    # ``unielu.layers.torch`` after a plain ``import unielu.layers``: import on first use.
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
