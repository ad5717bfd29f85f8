"""ELU layers for PyTorch, Keras 3, Flax NNX, MLX and PaddlePaddle, thin over :func:`unielu.elu`.

Each framework has its own submodule, imported only when asked for, so that
``import unielu.layers`` imports no framework:

* :mod:`unielu.layers.torch` -- :class:`unielu.layers.torch.ELU`, an
  ``nn.Module`` and a drop-in for ``torch.nn.ELU``;
* :mod:`unielu.layers.keras` -- :class:`unielu.layers.keras.ELU`, a Keras 3
  layer (any Keras backend) and a drop-in for ``keras.layers.ELU``;
* :mod:`unielu.layers.flax` -- :class:`unielu.layers.flax.ELU`, a Flax NNX
  module;
* :mod:`unielu.layers.mlx` -- :class:`unielu.layers.mlx.ELU`, an
  ``mlx.nn.Module`` and a drop-in for ``mlx.nn.ELU``;
* :mod:`unielu.layers.paddle` -- :class:`unielu.layers.paddle.ELU`, a
  ``paddle.nn.Layer`` and a drop-in for ``paddle.nn.ELU``.

All of them compute :func:`unielu.elu` on the framework's own tensors, so the
contract's accuracy and gradients hold inside a model, and with
``learn_alpha=True`` they hold ``alpha`` as a trainable parameter.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from unielu._checks import check_layer_alpha

__all__: list[str] = []
# One module per framework, found by file name (a new layer file needs no entry
# here); not in __all__: a star import imports no framework.
_SUBMODULES = frozenset(p.stem for p in Path(__file__).parent.glob("[!_]*.py"))
_initial_alpha = check_layer_alpha  # the layers' alpha check, by the name they import


def __getattr__(name: str) -> ModuleType:
    # ``unielu.layers.torch`` after a plain ``import unielu.layers``: import on first use.
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
