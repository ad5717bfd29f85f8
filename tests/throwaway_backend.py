"""A backend that exists only in tests: proves that registering one backend at run
time reaches dispatch, installed_backends(), the report, the test matrix, the
benchmarks and the soak.

``Box`` wraps a NumPy array; the backend computes through unielu's NumPy backend.
Loaded as a pytest plugin (``-p throwaway_backend``, with ``tests`` on the path),
it registers itself and its adapter before the matrix is parametrized; merely
imported, it registers nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pytest
from adapter import ADAPTERS, Adapter, _float64

import unielu
from unielu._registry import register, spec_from_dict


class Box:
    """The throwaway framework's array type."""

    def __init__(self, a: Any) -> None:
        self.a = np.asarray(a)

    dtype = property(lambda self: self.a.dtype)
    shape = property(lambda self: self.a.shape)
    T = property(lambda self: Box(self.a.T))

    def __getitem__(self, key: Any) -> Box:
        return Box(self.a[key])


# As in unielu/backends/<name>.py: a literal SPEC (register() takes it as a BackendSpec).
SPEC = {
    "name": "box",
    "framework": "throwaway_backend",
    "requirement": "nothing (tests/throwaway_backend.py)",
    "priority": 80,
    "types": ["throwaway_backend:Box"],
    "description": "a Box (the throwaway test backend)",
}


def elu(x: Box, alpha: float) -> Box:
    return Box(unielu.elu(x.a, alpha))


def elu_derivative(x: Box, alpha: float) -> Box:
    return Box(unielu.elu_derivative(x.a, alpha))


def devices() -> list[str]:
    return ["cpu"]


def from_numpy(a: np.ndarray) -> Box:
    return Box(a)


def to_numpy(y: Box) -> np.ndarray:
    return y.a


class BoxAdapter(Adapter):
    name = "box"
    framework = "throwaway_backend"
    same_as_numpy = True

    def asarray(self, values: Any, dtype: str) -> Any:
        return Box(ADAPTERS["numpy"].asarray(self, values, dtype))  # type: ignore[arg-type]

    def to_numpy(self, y: Any) -> np.ndarray:
        return _float64(y.a)

    def dtype_name(self, y: Any) -> str:
        return str(y.a.dtype)

    def is_native(self, y: Any) -> bool:
        return isinstance(y, Box)

    def placements(self, values: np.ndarray) -> dict[str, Any]:
        return {"cpu": (Box(values), lambda y: isinstance(y, Box))}

    def bench_cases(self, x: np.ndarray, alpha: float) -> Iterable[Any]:
        # The framework has no ELU of its own: the wrapper's cost, against the array inside.
        box = Box(x)
        yield (
            "box.unielu-numpy",
            "unielu on the NumPy array inside the Box",
            lambda: unielu.elu(box, alpha),
            lambda: unielu.elu(x, alpha),
        )


@pytest.hookimpl(tryfirst=True)  # before conftest.py reads the registry
def pytest_configure(config: Any) -> None:
    """As a pytest plugin (``-p throwaway_backend``): register the backend and its adapter."""
    register(spec_from_dict(SPEC, module="throwaway_backend"))
    ADAPTERS["box"] = BoxAdapter
