"""The mlx backend's test adapter (tests/adapter.py says what each method does)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
from adapter import Adapter

import unielu

if TYPE_CHECKING:
    from unielu.bench import Case


class MLXAdapter(Adapter):
    name = framework = "mlx"
    native = True
    title, native_name = "MLX", "mlx.nn.elu"
    default_float = "float32"

    @classmethod
    def configure(cls) -> None:
        import mlx.core  # noqa: F401  (mlx alone is a namespace: the CPU or GPU build is mlx.core)

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        import mlx.core as mx
        import mlx.nn as nn

        self.mx, self.nn = mx, nn

    def asarray(self, values: Any, dtype: str) -> Any:
        mx = self.mx
        a = np.asarray(values)
        if dtype == "bfloat16":  # exact: the values are bfloat16's already where it matters
            with np.errstate(over="ignore"):
                return mx.array(a.astype(np.float32)).astype(mx.bfloat16)
        # dtype= always: MLX makes float32 of a float64 NumPy array otherwise.
        with np.errstate(over="ignore", invalid="ignore"):
            return mx.array(
                a.astype(dtype), dtype=getattr(mx, "bool_" if dtype == "bool" else dtype)
            )

    def copy(self, x: Any) -> Any:
        return self.mx.array(x)

    def synchronize(self, y: Any) -> None:
        self.mx.eval(y)

    def to_numpy(self, y: Any) -> np.ndarray:
        mx = self.mx
        a = np.array(y.astype(mx.float32) if y.dtype == mx.bfloat16 else y)
        return a.astype(np.float64) if a.dtype.kind == "f" else a

    def dtype_name(self, y: Any) -> str:
        name = str(y.dtype).rsplit(".", 1)[-1]
        return "bool" if name == "bool_" else name

    def is_native(self, y: Any) -> bool:
        return isinstance(y, self.mx.array)

    def refused(self) -> dict[str, Any]:
        return {"complex64": self.mx.array([1 + 2j], dtype=self.mx.complex64)}

    def as_strided(self, base: Any, shape: tuple[int, ...], strides: tuple[int, ...]) -> Any:
        return self.mx.as_strided(base, shape, strides)

    def variants(self, values: np.ndarray) -> dict[str, Any]:
        mx = self.mx
        # A lazy array (a graph not yet evaluated), and a slice of a larger one.
        doubled = mx.array(values / 2, dtype=mx.float64) * 2
        twice = mx.array(np.concatenate([values, values]), dtype=mx.float64)
        return {"lazy (not evaluated)": doubled, "a slice": twice[: len(values)]}

    def placements(self, values: np.ndarray) -> dict[str, tuple[Any, Callable[[Any], bool]]]:
        mx = self.mx
        # MLX arrays have no device: they live in unified memory, and each operation
        # runs on a stream, the default device's unless the caller says otherwise.
        out: dict[str, tuple[Any, Callable[[Any], bool]]] = {}
        x = mx.array(values)
        out["default device (cpu)"] = (
            x,
            lambda y: isinstance(y, mx.array) and mx.default_device() == mx.cpu,
        )
        return out

    def native_elu(self, x: Any, alpha: float) -> Any:
        return self.nn.elu(x, alpha)

    def bench_cases(self, x: np.ndarray, alpha: float) -> Iterable[Case]:
        mx, nn = self.mx, self.nn
        m = mx.array(x, dtype=mx.float64) if x.dtype == np.float64 else mx.array(x)
        mx.eval(m)
        yield (
            "mlx.mlx.nn.elu",
            "mlx.nn.elu (compiled by MLX)",
            lambda: mx.eval(unielu.elu(m, alpha)),
            lambda: mx.eval(nn.elu(m, alpha)),
        )

    def bench_native(self, x: np.ndarray, alpha: float) -> tuple[str, Callable[[], Any]] | None:
        mx, nn = self.mx, self.nn
        m = mx.array(x, dtype=mx.float64) if x.dtype == np.float64 else mx.array(x)
        mx.eval(m)
        return "mlx.nn.elu", lambda: mx.eval(nn.elu(m, alpha))

    # -- autodiff ---------------------------------------------------------------
    def gradients(self, x: Any, alpha: float) -> dict[str, tuple[Any, Any]]:
        mx = self.mx

        def f(v: Any) -> Any:
            return unielu.elu(v, alpha)

        g = mx.grad(f)
        ones = mx.ones_like(x)

        def vjp(v: Any) -> Any:
            return mx.vjp(f, [v], [mx.ones_like(v)])[1][0]

        def jvp(v: Any) -> Any:
            return mx.jvp(f, [v], [mx.ones_like(v)])[1][0]

        return {
            "mx.vmap(mx.grad)": (mx.vmap(g)(x), mx.vmap(mx.grad(g))(x)),
            "mx.compile(mx.vmap(mx.grad))": (
                mx.compile(mx.vmap(g))(x),
                mx.compile(mx.vmap(mx.grad(g)))(x),
            ),
            "mx.vjp": (vjp(x), mx.vjp(vjp, [x], [ones])[1][0]),
            "mx.jvp": (jvp(x), mx.jvp(jvp, [x], [ones])[1][0]),
        }

    def native_gradient(self, x: Any, alpha: float) -> Any:
        mx = self.mx
        return mx.vmap(mx.grad(lambda v: self.nn.elu(v, alpha)))(x)

    def derivatives(self, func: Callable[[Any], Any], x: Any) -> tuple[Any, Any]:
        mx = self.mx
        g = mx.grad(func)
        return mx.vmap(g)(x), mx.vmap(mx.grad(g))(x)

    def transforms(self, alpha: float) -> dict[str, Callable[[Any], Any]]:
        mx = self.mx
        return {
            "mx.compile": mx.compile(lambda v: unielu.elu(v, alpha)),
            "mx.vmap": mx.vmap(lambda v: unielu.elu(v, alpha)),
        }

    def forward_mode(self, x: Any, alpha: float) -> dict[str, Any]:
        mx = self.mx

        def jvp(v: Any) -> Any:
            return mx.jvp(lambda u: unielu.elu(u, alpha), [v], [mx.ones_like(v)])[1][0]

        return {
            "mx.jvp": jvp(x),
            "mx.compile(mx.jvp)": mx.compile(jvp)(x),
            "mx.vmap(mx.jvp)": mx.vmap(jvp)(x),
        }

    def alpha_gradients(self, x: Any, alpha: Any) -> dict[str, tuple[Any, Any]]:
        mx = self.mx

        def of(func: Callable[..., Any]) -> Callable[[Any, Any], Any]:
            return lambda a, v: func(v, a).sum()

        elu, derivative = of(unielu.elu), of(unielu.elu_derivative)

        def forward(func: Callable[..., Any]) -> Any:
            # Forward mode: the JVP along ones is elementwise d/d alpha (x's shape), summed
            # over the dimensions alpha was broadcast along.
            t = mx.jvp(lambda a: func(x, a), [alpha], [mx.ones_like(alpha)])[1][0]
            extra = t.ndim - alpha.ndim
            axes = [*range(extra), *(extra + i for i, d in enumerate(alpha.shape) if d == 1)]
            return t.sum(axis=axes, keepdims=True).reshape(alpha.shape) if axes else t

        return {
            "mx.grad": (mx.grad(elu)(alpha, x), mx.grad(derivative)(alpha, x)),
            "mx.compile(mx.grad)": (
                mx.compile(mx.grad(elu))(alpha, x),
                mx.compile(mx.grad(derivative))(alpha, x),
            ),
            "mx.jvp (forward mode)": (forward(unielu.elu), forward(unielu.elu_derivative)),
        }


ADAPTER = MLXAdapter
