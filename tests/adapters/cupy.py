"""The cupy backend's test adapter (tests/adapter.py says what each method does)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from adapter import Adapter, _float64


class CuPyAdapter(Adapter):
    name = framework = "cupy"
    native = False

    @classmethod
    def available(cls) -> bool:
        try:
            import cupy

            return bool(cupy.cuda.runtime.getDeviceCount())
        except Exception:  # no CuPy, no driver, no device: CuPy cannot run here
            return False

    @classmethod
    def configure(cls) -> None:
        if not cls.available():
            raise RuntimeError("no CUDA device is present (or CuPy is not installed)")

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        import cupy

        self.cp = cupy
        self.dtypes = ("float16", "float32", "float64")

    def asarray(self, values: Any, dtype: str) -> Any:
        return self.cp.asarray(np.asarray(values).astype(dtype))

    def copy(self, x: Any) -> Any:
        return x.copy()

    def synchronize(self, y: Any) -> None:
        y.device.synchronize()

    def free(self) -> None:
        self.cp.get_default_memory_pool().free_all_blocks()

    def to_numpy(self, y: Any) -> np.ndarray:
        return _float64(self.cp.asnumpy(y))

    def is_native(self, y: Any) -> bool:
        return isinstance(y, self.cp.ndarray)

    def as_strided(self, base: Any, shape: tuple[int, ...], strides: tuple[int, ...]) -> Any:
        steps = tuple(s * base.itemsize for s in strides)
        return self.cp.lib.stride_tricks.as_strided(base, shape, steps)

    def refused(self) -> dict[str, Any]:
        return {"complex64": self.cp.ones(2, dtype=self.cp.complex64)}

    def placements(self, values: np.ndarray) -> dict[str, tuple[Any, Callable[[Any], bool]]]:
        cp = self.cp
        out = {}
        for i in range(min(2, cp.cuda.runtime.getDeviceCount())):
            with cp.cuda.Device(i):
                x = cp.asarray(values)
            # Current device stays 0: the input on device 1 must still be computed there.
            out[f"cuda:{i} while cuda:0 is current"] = (x, lambda y, i=i: y.device.id == i)
        return out


ADAPTER = CuPyAdapter
