"""Pick the backend module for an input, and check ``alpha``.

Detection never imports a framework: an array of framework F can only exist
if F is already in ``sys.modules``, so the ``array_api_compat.is_*_array``
helpers (and our own TensorFlow check) look there and nowhere else. The
answer depends only on ``type(x)``, so it is cached per type; a subclass
resolves like its base because the checks are ``issubclass`` checks.
"""

from __future__ import annotations

import functools
import importlib
import math
import numbers
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

#: Backend names, in the order they are tried.
BACKENDS = ("dask", "cupy", "torch", "jax", "tensorflow", "numpy", "array_api")

#: The module whose presence makes a backend installed.
FRAMEWORK_MODULE = {
    "numpy": "numpy",
    "torch": "torch",
    "tensorflow": "tensorflow",
    "jax": "jax",
    "cupy": "cupy",
    "dask": "dask",
    "array_api": "array_api_compat",
}

ACCEPTED = (
    "a NumPy, PyTorch, TensorFlow, CuPy, JAX or Dask array, any array with "
    "__array_namespace__ (Array API standard), or a Python/NumPy number or "
    "a list or tuple of numbers"
)


def _is_tensorflow(x: object) -> bool:
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(x, (tf.Tensor, tf.Variable))


@functools.cache
def _detectors() -> tuple[tuple[str, Callable[[object], bool]], ...]:
    # array_api_compat is imported on the first cache miss, not with unielu:
    # it costs about a tenth of NumPy's import time.
    import array_api_compat as aac

    def is_numpy_input(x: object) -> bool:
        # NumPy object arrays pass here and are refused by the backend's dtype check.
        return aac.is_numpy_array(x) or isinstance(x, (int, float, complex, list, tuple))

    return (
        # Dask and CuPy arrays also carry __array_namespace__: known frameworks
        # come before the generic Array API fallback.
        ("dask", aac.is_dask_array),
        ("cupy", aac.is_cupy_array),
        ("torch", aac.is_torch_array),
        ("jax", aac.is_jax_array),
        ("tensorflow", _is_tensorflow),
        ("numpy", is_numpy_input),
        ("array_api", lambda x: hasattr(x, "__array_namespace__")),
    )


# type -> backend module. Plain dict reads and writes are atomic, and
# importlib serialises concurrent imports of one module, so threads racing
# on a first call at worst detect the same type twice: no lock needed.
_CACHE: dict[type, ModuleType] = {}


def backend_module(x: object, func: str) -> ModuleType:
    """Return the ``unielu._<backend>`` module that handles ``x``."""
    try:
        return _CACHE[type(x)]
    except KeyError:
        pass
    for name, detect in _detectors():
        if detect(x):
            module = importlib.import_module(f"unielu._{name}")
            _CACHE[type(x)] = module
            return module
    raise TypeError(
        f"unielu.{func}() argument 'x' must be an array: {ACCEPTED}; "
        f"got {type(x).__module__}.{type(x).__qualname__}"
    )


def check_alpha(alpha: Any, func: str) -> float:
    """Return ``alpha`` as a Python float, or raise naming what is accepted.

    The public functions skip this call for a plain finite ``float >= 0``.
    """
    if isinstance(alpha, (bool, np.bool_)) or not isinstance(
        alpha, (numbers.Real, np.integer, np.floating)
    ):
        raise TypeError(
            f"unielu.{func}() argument 'alpha' must be a real number (int, float "
            f"or NumPy real scalar); got {type(alpha).__module__}.{type(alpha).__qualname__}"
        )
    value = float(alpha)
    if not (0.0 <= value < math.inf):
        raise ValueError(f"unielu.{func}() argument 'alpha' must be finite and >= 0; got {alpha!r}")
    return value


def dtype_error(func: str, dtype: object, default_float: str) -> TypeError:
    """The one error every backend raises for an unsupported dtype."""
    return TypeError(
        f"unielu.{func}() argument 'x' has unsupported dtype {dtype}; accepted: "
        f"float16, bfloat16, float32, float64 (kept), or integer and bool "
        f"(promoted to {default_float})"
    )
