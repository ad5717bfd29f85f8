"""The keras backend's test adapter (tests/adapter.py says what each method does)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from adapter import FLOATS, INTS, Adapter, _float64
from reference import numpy_dtype


class KerasAdapter(Adapter):
    """Symbolic ``keras.KerasTensor`` inputs, under the Keras backend that
    ``KERAS_BACKEND`` picks. A result is a symbolic tensor too; its values come
    from running the functional model from the inputs (``unielu.backends.keras``'s
    ``to_numpy``), so accuracy is that of the Keras backend's own tensors."""

    name = framework = "keras"
    default_float = "float32"

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        import keras

        from unielu.backends import keras as module

        self.keras, self.module = keras, module
        self.keras_backend = keras.backend.backend()
        if self.keras_backend == "torch":
            import torch

            self.ulp, self.flush_subnormals = 3, False  # PyTorch's bound, no flushing
            self.default_float = str(torch.get_default_dtype()).removeprefix("torch.")
        elif self.keras_backend == "jax":
            import jax

            if not jax.config.jax_enable_x64:  # no float64 or int64 arrays without x64
                self.dtypes = FLOATS[:3]
                self.int_dtypes = tuple(d for d in INTS if d != "int64")
            else:
                self.default_float = "float64"

    def asarray(self, values: Any, dtype: str) -> Any:
        if dtype == "float64" and dtype not in self.dtypes:
            dtype = "float32"  # JAX without x64 would truncate it (and warn)
        return self.module.from_numpy(np.asarray(values).astype(numpy_dtype(dtype)))

    def _input(self, values: np.ndarray, shape: Any) -> Any:
        x = self.keras.Input(shape=shape, dtype=str(values.dtype))
        x._unielu_values = values  # what to_numpy feeds it with, as from_numpy does
        return x

    def to_numpy(self, y: Any) -> np.ndarray:
        return _float64(np.asarray(self.module.to_numpy(y)))

    def dtype_name(self, y: Any) -> str:
        computed = str(np.asarray(self.module.to_numpy(y)).dtype)
        assert computed == str(y.dtype), f"symbolic dtype {y.dtype} but computed {computed}"
        return computed

    def is_native(self, y: Any) -> bool:
        return isinstance(y, self.keras.KerasTensor)

    def noncontiguous(self, x2d: Any) -> dict[str, Any]:
        return {
            "transposed": self.keras.ops.transpose(x2d),
            "every other row": x2d[::2, :],  # Keras slices with tuples only
            "every third column": x2d[:, ::3],
        }

    def refused(self) -> dict[str, Any]:
        return {
            "complex64": self.keras.Input(batch_shape=(2,), dtype="complex64"),
            "string": self.keras.Input(batch_shape=(2,), dtype="string"),
        }

    def variants(self, values: np.ndarray) -> dict[str, Any]:
        keras = self.keras
        values = values.astype(self.asarray(values, str(values.dtype)).dtype)
        return {
            "keras.Input with a None batch dimension": self._input(values, values.shape[1:]),
            "the output of another layer": keras.layers.Identity(dtype=str(values.dtype))(
                self.asarray(values, str(values.dtype))
            ),
        }

    def placements(self, values: np.ndarray) -> dict[str, tuple[Any, Callable[[Any], bool]]]:
        # A symbolic tensor has no device: its result is symbolic, of the same shape.
        x = self.asarray(values, "float32")
        return {"symbolic": (x, lambda y: self.is_native(y) and y.shape == x.shape)}


ADAPTER = KerasAdapter
