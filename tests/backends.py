"""What a test adapter is (``Backend``), and the adapters of tests/adapters/.

An adapter tells the conformance matrix how to make a backend's arrays, read
results back, and reach its devices and autodiff. There is one module per
backend in tests/adapters/, found by name; only the adapter of the backend
under test is instantiated, so only its framework is imported.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from unielu._registry import get_spec

FLOATS = ("float16", "bfloat16", "float32", "float64")
INTS = ("bool", "int8", "int16", "int32", "int64", "uint8")


def _float64(a: np.ndarray) -> np.ndarray:
    """A result as float64 (exact for every float dtype here); integers and bool as they are."""
    return a if a.dtype.kind in "biu" else a.astype(np.float64)


class Backend:
    name: ClassVar[str]
    #: Module that must import for this backend to be tested.
    framework: ClassVar[str]
    native: ClassVar[bool] = False
    dtypes: tuple[str, ...] = FLOATS
    int_dtypes: tuple[str, ...] = INTS
    default_float = "float64"

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        # What the registry says of the backend (the contract's ULP, autodiff, ...).
        self.spec = get_spec(self.name)
        self.ulp = self.spec.ulp
        self.flush_subnormals = self.spec.flush_subnormals
        self.autodiff = self.spec.autodiff

    @classmethod
    def available(cls) -> bool:
        """Whether this backend can be tested here (when no --backend names it)."""
        return importlib.util.find_spec(cls.framework) is not None

    @classmethod
    def configure(cls) -> None:
        """Once per test session, before any array is made; raises if unusable."""
        importlib.import_module(cls.framework)

    # -- arrays --------------------------------------------------------------
    def asarray(self, values: Any, dtype: str) -> Any:
        raise NotImplementedError

    def to_numpy(self, y: Any) -> np.ndarray:
        """float64 (or the integer/bool dtype) NumPy copy of a result."""
        return _float64(np.asarray(y))

    def dtype_name(self, y: Any) -> str:
        return str(y.dtype)

    def is_native(self, y: Any) -> bool:
        raise NotImplementedError

    def noncontiguous(self, x2d: Any) -> dict[str, Any]:
        """Strided or transposed views of a 2-d array (where the framework has them)."""
        return {"transposed": x2d.T, "every other row": x2d[::2], "every third column": x2d[:, ::3]}

    def refused(self) -> dict[str, Any]:
        """Inputs of this framework that must raise TypeError (complex, non-numeric)."""
        return {}

    def as_strided(self, base: Any, shape: tuple[int, ...], strides: tuple[int, ...]) -> Any:
        """A view of 1-d ``base`` with strides in elements, or None without as_strided."""
        return None

    def variants(self, values: np.ndarray) -> dict[str, Any]:
        """Other input kinds of this framework that must give the same values."""
        return {}

    def placements(self, values: np.ndarray) -> dict[str, tuple[Any, Callable[[Any], bool]]]:
        """Inputs on each device, with a check that a result is where its input was."""
        return {}

    def native_elu(self, x: Any, alpha: float) -> Any:
        raise NotImplementedError

    # -- autodiff --------------------------------------------------------------
    def gradients(self, x: Any, alpha: float) -> dict[str, tuple[Any, Any]]:
        """First and second derivative of elu at x, by each autodiff route."""
        raise NotImplementedError

    def native_gradient(self, x: Any, alpha: float) -> Any:
        raise NotImplementedError

    def transforms(self, alpha: float) -> dict[str, Callable[[Any], Any]]:
        """elu under each compilation or mapping transform."""
        raise NotImplementedError


def _readonly(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.flags.writeable = False
    return a


def _discover() -> dict[str, type[Backend]]:
    """The adapters in tests/adapters/, one module per backend, each naming its ``ADAPTER``."""
    found: dict[str, type[Backend]] = {}
    for path in sorted(Path(__file__).with_name("adapters").glob("[!_]*.py")):
        adapter = importlib.import_module(f"adapters.{path.stem}").ADAPTER
        found[adapter.name] = adapter
    return found


#: Backend name -> its adapter class. A test may add one (tests/throwaway_backend.py).
ADAPTERS: dict[str, type[Backend]] = _discover()
