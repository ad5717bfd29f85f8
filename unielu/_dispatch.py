"""The choice of a backend for an input (from the registry, ``_registry.py``),
and the checks of ``alpha`` and ``out`` shared by all backends.

Detection never imports a framework either: an array of framework F can only
exist if F is already in ``sys.modules``, so a backend's array types are
looked up there and nowhere else. The answer depends only on ``type(x)``, so
it is cached per type; a subclass resolves like its base.
"""

from __future__ import annotations

import math
import numbers
import sys
from types import ModuleType
from typing import Any, cast

import numpy as np

from unielu._registry import (
    _ON_CHANGE,
    BackendSpec,
    get_spec,
    register,
    registry,
    spec_of,
    unregister,
)

__all__ = [
    "BackendSpec", "alpha_type_error", "backend_module", "check_alpha", "check_alpha_shape",
    "check_out", "dtype_error", "get_spec",
    "register", "registry", "spec_of", "unregister",
]  # fmt: skip


def accepted() -> str:
    """What ``x`` may be, in words, for error messages."""
    names = [b.description for b in registry() if b.description]
    return "; ".join(names)


# type -> backend module. Plain dict reads and writes are atomic, and
# importlib serialises concurrent imports of one module, so threads racing
# on a first call at worst detect the same type twice: no lock needed.
_CACHE: dict[type, ModuleType] = {}
_ON_CHANGE.append(_CACHE.clear)  # in place: the public functions hold this very dict


def backend_module(x: object, func: str) -> ModuleType:
    """Return the implementation module of the backend that handles ``x``."""
    try:
        return _CACHE[type(x)]
    except KeyError:
        pass
    # A subclass of a known type (torch.nn.Parameter, say) resolves like its
    # base with dict lookups alone, which a tracer can follow.
    for base in type(x).__mro__[1:]:
        if base in _CACHE:
            _CACHE[type(x)] = module = _CACHE[base]
            return module
    for spec in registry():
        if spec.accepts(x):
            module = spec.load()
            _CACHE[type(x)] = module
            return module
    raise TypeError(
        f"unielu.{func}() argument 'x' must be an array: {accepted()}; "
        f"got {type(x).__module__}.{type(x).__qualname__}"
    )


def load_early() -> None:
    """Load the backends that ask for it whose framework is already imported.

    Imports no framework: only backends of frameworks already in ``sys.modules``.
    A framework older than its floor is left for the first call to report.
    """
    for spec in registry():
        if spec.load_early and spec.framework in sys.modules:
            try:
                spec.check_version()
            except ImportError:
                continue
            module = spec.load()
            for array_type in spec.array_types():
                _CACHE[array_type] = module


def check_alpha(alpha: Any, func: str) -> Any:
    """Return a number ``alpha`` as a Python float, pass an array ``alpha`` through.

    The public functions skip this call for a plain finite ``float > 0``. A
    number is returned as a float ``>= 0``, ``-0.0`` as ``+0.0``
    (docs/contract.rst); one too large for a float64 is refused here, one
    too large for a float32 compute dtype by the backend
    (:func:`unielu._checks.check_alpha_fits`). An array (anything with
    ``shape`` and ``dtype`` that is not a NumPy scalar) is returned as it is:
    the backend checks its framework, dtype, device and layout, and its shape
    with :func:`check_alpha_shape`. Its values are not checked, since that
    would need a device synchronisation.
    """
    if isinstance(alpha, (bool, np.bool_)):
        raise TypeError(
            f"unielu.{func}() argument 'alpha' must be a real number or an array of the "
            f"input's framework; got a bool ({alpha!r})"
        )
    if isinstance(alpha, (np.timedelta64, np.datetime64)):  # timedelta64 is a signedinteger
        raise TypeError(
            f"unielu.{func}() argument 'alpha' must be a real number or an array of the "
            f"input's framework; got {type(alpha).__module__}.{type(alpha).__qualname__} "
            f"({alpha!r}), a time, not a number"
        )
    if isinstance(alpha, (numbers.Real, np.integer, np.floating)):
        try:
            value = float(alpha)
        except OverflowError:  # a Python int or Fraction beyond float64
            value = math.inf if cast(Any, alpha) > 0 else -math.inf
        if not (0.0 <= value < math.inf):
            raise ValueError(
                f"unielu.{func}() argument 'alpha' must be finite and >= 0; got {_short(alpha)}; "
                f"accepted: a real number from 0 to the largest finite float64 "
                f"({sys.float_info.max!r})"
            )
        return value + 0.0  # -0.0 means 0.0
    try:
        is_array = hasattr(alpha, "shape") and hasattr(alpha, "dtype")
    except Exception:  # a property that raises (PyTorch's nested tensors): the backend says why
        is_array = True
    if is_array and not isinstance(alpha, np.generic):
        return alpha
    raise TypeError(
        f"unielu.{func}() argument 'alpha' must be a real number (int, float or NumPy "
        f"real scalar) or an array of the input's framework; "
        f"got {type(alpha).__module__}.{type(alpha).__qualname__}"
    )


def _short(value: Any) -> str:
    """repr of a value, its middle cut out if long (10**400 has 401 digits)."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:30]}...{text[-12:]} ({len(text)} characters)"


def check_alpha_shape(alpha_shape: Any, x_shape: Any, func: str) -> None:
    """Refuse an array ``alpha`` that does not broadcast to ``x``'s shape unchanged."""
    a, x = tuple(alpha_shape), tuple(x_shape)
    ok = len(a) <= len(x) and all(
        d == 1 or d == e for d, e in zip(reversed(a), reversed(x), strict=False)
    )
    if not ok:
        raise ValueError(
            f"unielu.{func}() argument 'alpha' of shape {a} does not broadcast to the "
            f"shape {x} of 'x' without changing it; accepted: a number, a 0-d array, or "
            f"an array broadcastable to {x} (one value per channel, for example)"
        )


def alpha_type_error(func: str, alpha: Any, accepted: str) -> TypeError:
    """The error for an array ``alpha`` of the wrong framework or dtype."""
    kind = f"{type(alpha).__module__}.{type(alpha).__qualname__}"
    dtype = getattr(alpha, "dtype", None)
    return TypeError(
        f"unielu.{func}() argument 'alpha' must be a real number or {accepted} of a real "
        f"floating or integer dtype; got {kind} of dtype {dtype}"
    )


def check_out(module: ModuleType, out: Any, func: str) -> None:
    """Refuse ``out=`` for a backend whose arrays cannot be written."""
    spec = spec_of(module)
    if not spec.mutable:
        mutable = ", ".join(b.name for b in registry() if b.mutable)
        raise TypeError(
            f"unielu.{func}() argument 'out' must be None for {spec.name} arrays, "
            f"which cannot be written in place; got {type(out).__module__}."
            f"{type(out).__qualname__}. out= is accepted for the backends {mutable}"
        )


def dtype_error(func: str, dtype: object, default_float: str) -> TypeError:
    """The one error every backend raises for an unsupported dtype."""
    return TypeError(
        f"unielu.{func}() argument 'x' has unsupported dtype {dtype}; accepted: "
        f"float16, bfloat16, float32, float64 (kept), or integer and bool "
        f"(promoted to {default_float})"
    )
