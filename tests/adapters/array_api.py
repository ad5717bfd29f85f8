"""The array_api backend's test adapter (tests/adapter.py says what each method does)."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Any

import numpy as np
from adapter import Adapter


class ArrayAPIAdapter(Adapter):
    """Generic Array API path, exercised with array-api-strict."""

    name = "array_api"
    framework = "array_api_strict"
    dtypes = ("float32", "float64")
    int_dtypes = ("bool", "int8", "int16", "int32", "int64", "uint8")

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        self.xp = importlib.import_module("array_api_strict")

    def asarray(self, values: Any, dtype: str) -> Any:
        return self.xp.asarray(np.asarray(values).astype(dtype), dtype=getattr(self.xp, dtype))

    def dtype_name(self, y: Any) -> str:
        return str(np.asarray(y).dtype)  # str() of its own dtype names the module too

    def is_native(self, y: Any) -> bool:
        return type(y).__module__.startswith("array_api_strict")

    def noncontiguous(self, x2d: Any) -> dict[str, Any]:
        return {
            "transposed": x2d.T,
            "every other row": x2d[::2, :],
            "every third column": x2d[:, ::3],
        }

    def refused(self) -> dict[str, Any]:
        return {"complex64": self.xp.asarray([1 + 2j], dtype=self.xp.complex64)}

    def placements(self, values: np.ndarray) -> dict[str, tuple[Any, Callable[[Any], bool]]]:
        out = {}
        for device in self.xp.__array_namespace_info__().devices():
            x = self.xp.asarray(values, device=device)
            out[str(device)] = (x, lambda y, x=x: y.device == x.device)
        return out


ADAPTER = ArrayAPIAdapter
