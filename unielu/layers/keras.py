"""Keras 3 ELU layers (any Keras backend), computed by :func:`unielu.elu`.

The layers are registered with Keras under the package ``"unielu"``: a model
saved with them (``.keras``) loads again in a process that has imported this
module. They are defined in :mod:`unielu.backends.keras`, which applies them
to symbolic tensors (``unielu.elu(keras_tensor)``): a backend imports no layer.
"""

from __future__ import annotations

from unielu.backends.keras import ELU, ELUDerivative

__all__ = ["ELU", "ELUDerivative"]
