"""The choice of a backend for an input, from the registry (``_registry.py``);
the arguments are checked in ``_checks.py``.

Detection never imports a framework: an array of framework F can only
exist if F is already in ``sys.modules``, so a backend's array types are
looked up there and nowhere else. The answer depends only on ``type(x)``, so
it is cached per type; a subclass resolves like its base.
"""

from __future__ import annotations

import sys
from types import ModuleType

from unielu._checks import x_type_error
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
    "BackendSpec", "backend_module", "get_spec", "load_early",
    "register", "registry", "spec_of", "unregister",
]  # fmt: skip

# type -> backend module. Plain dict reads and writes are atomic, and
# importlib serialises concurrent imports of one module, so threads racing
# on a first call at worst detect the same type twice: no lock needed.
_CACHE: dict[type, ModuleType] = {}
_ON_CHANGE.append(_CACHE.clear)  # in place: the public functions hold this very dict


def backend_module(x: object, func: str) -> ModuleType:
    """Return the implementation module of the backend that handles ``x``."""
    module = _CACHE.get(type(x))
    if module is not None:
        return module
    name = _find_backend(type(x))
    if name is not None:
        module = _LOADED[name]
    else:  # an instance check: JAX's tracers, any Array API object
        spec = next((s for s in registry() if s.accepts(x)), None)
        if spec is None:
            raise x_type_error(x, func)
        module = spec.load()
    _CACHE[type(x)] = module
    return module


#: The backend modules :func:`_find_backend` loaded, by module name: a small dict
#: that Dynamo reads with a constant key (sys.modules would do, and it would guard on it).
_LOADED: dict[str, ModuleType] = {}


def _find_backend(array_type: type) -> str | None:
    """The module name of the backend for ``array_type``, loaded; None if no
    backend names the type or one of its bases.

    A subclass of a known type (``torch.nn.Parameter``, say) resolves like its base.
    """
    module = next(filter(None, map(_CACHE.get, array_type.__mro__[1:])), None)
    if module is None:
        spec = next((s for s in registry() if s.accepts_type(array_type)), None)
        if spec is None:
            return None
        module = spec.load()
    _LOADED[module.__name__] = module
    return module.__name__


# torch.compile's Dynamo runs a function so marked as it is, while it traces, and
# takes its result as a constant (torch.compiler.assume_constant_result sets this
# attribute). Tracing it instead would meet the registry's file reads and the
# imports, which end a fullgraph=True compile whose first call of unielu is inside
# the compiled function. The result depends on the type alone, as the mark assumes.
_find_backend._dynamo_marked_constant = True  # type: ignore[attr-defined]


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
