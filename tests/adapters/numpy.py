"""The numpy backend's test adapter (tests/adapter.py says what each method does)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from adapter import Adapter, _readonly
from reference import numpy_dtype


class NumPyAdapter(Adapter):
    name = framework = "numpy"
    same_as_numpy = True

    def float8(self, values: np.ndarray, kind: str) -> Any:
        import ml_dtypes

        return values.astype(getattr(ml_dtypes, kind))

    def asarray(self, values: Any, dtype: str) -> Any:
        return np.asarray(values).astype(numpy_dtype(dtype))

    def is_native(self, y: Any) -> bool:
        return isinstance(y, (np.ndarray, np.generic))

    def refused(self) -> dict[str, Any]:
        return {
            "complex128": np.array([1 + 2j]),
            "complex64 scalar": np.complex64(1),
            "Python complex": 1j,
            "object": np.array([1.0, None], dtype=object),
            "str": np.array(["a"]),
            "datetime64": np.array(["2026-01-01"], dtype="datetime64[D]"),
            "list of str": ["a", "b"],
            "ragged list": [[1.0], [1.0, 2.0]],
        }

    def as_strided(self, base: Any, shape: tuple[int, ...], strides: tuple[int, ...]) -> Any:
        steps = tuple(s * base.itemsize for s in strides)
        return np.lib.stride_tricks.as_strided(base, shape, steps)

    def variants(self, values: np.ndarray) -> dict[str, Any]:
        class Sub(np.ndarray):
            pass

        return {
            "list": values.tolist(),
            "tuple": tuple(values.tolist()),
            "ndarray subclass": values.view(Sub),
            "read-only": _readonly(values),
        }

    def placements(self, values: np.ndarray) -> dict[str, tuple[Any, Callable[[Any], bool]]]:
        return {"cpu": (values, lambda y: isinstance(y, np.ndarray))}


ADAPTER = NumPyAdapter
