"""The dask backend's test adapter (tests/adapter.py says what each method does)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
from adapter import Adapter, _float64
from reference import numpy_dtype

import unielu

if TYPE_CHECKING:
    from unielu.bench import Case


class DaskAdapter(Adapter):
    name = framework = "dask"
    same_as_numpy = True

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        import dask
        import dask.array as da

        self.dask, self.da = dask, da

    def float8(self, values: np.ndarray, kind: str) -> Any:
        import ml_dtypes

        return self.da.from_array(values.astype(getattr(ml_dtypes, kind)))

    def asarray(self, values: Any, dtype: str) -> Any:
        a = np.asarray(values).astype(numpy_dtype(dtype))
        return self.da.from_array(a, chunks=max(1, a.shape[0] // 3) if a.ndim else ())

    def _compute(self, y: Any) -> np.ndarray:
        return np.asarray(y.compute(scheduler="sync"))

    def to_numpy(self, y: Any) -> np.ndarray:
        return _float64(self._compute(y))

    def dtype_name(self, y: Any) -> str:
        computed = str(self._compute(y).dtype)
        assert computed == str(y.dtype), f"lazy dtype {y.dtype} but computed {computed}"
        return computed

    def is_native(self, y: Any) -> bool:
        return isinstance(y, self.da.Array)

    def refused(self) -> dict[str, Any]:
        return {"complex128": self.da.from_array(np.array([1j, 2j]), chunks=1)}

    def placements(self, values: np.ndarray) -> dict[str, tuple[Any, Callable[[Any], bool]]]:
        x = self.da.from_array(values, chunks=2)
        return {"same chunks": (x, lambda y: y.chunks == x.chunks)}

    def bench_cases(self, x: np.ndarray, alpha: float) -> Iterable[Case]:
        da = self.da
        if x.size < 10**4:
            return
        d = da.from_array(x, chunks=x.size // 10)
        yield (
            "dask.where",
            "da.where(x > 0, x, alpha*da.expm1(x)), 10 chunks, .compute()",
            lambda: unielu.elu(d, alpha).compute(),
            lambda: da.where(d > 0, d, alpha * da.expm1(d)).compute(),
        )


ADAPTER = DaskAdapter
