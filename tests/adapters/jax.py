"""The jax backend's test adapter (tests/adapter.py says what each method does)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
from adapter import FLOATS, INTS, Adapter
from reference import numpy_dtype

import unielu

if TYPE_CHECKING:
    from unielu.bench import Case, Workload


class JAXAdapter(Adapter):
    name = framework = "jax"
    native = True
    title, native_name = "JAX", "jax.nn.elu"

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        import jax
        import jax.numpy as jnp

        self.jax, self.jnp = jax, jnp
        x64 = jax.config.jax_enable_x64
        self.dtypes = FLOATS if x64 else FLOATS[:3]
        self.default_float = "float64" if x64 else "float32"
        self.int_dtypes = INTS if x64 else tuple(d for d in INTS if d != "int64")

    def float8(self, values: np.ndarray, kind: str) -> Any:
        return self.jnp.asarray(values).astype(getattr(self.jnp, kind))

    def asarray(self, values: Any, dtype: str) -> Any:
        return self.jnp.asarray(np.asarray(values).astype(numpy_dtype(dtype)))

    def copy(self, x: Any) -> Any:
        return x.copy()

    def synchronize(self, y: Any) -> None:
        y.block_until_ready()

    def is_native(self, y: Any) -> bool:
        return isinstance(y, self.jax.Array)

    def refused(self) -> dict[str, Any]:
        return {"complex64": self.jnp.ones(2, dtype=self.jnp.complex64)}

    def placements(self, values: np.ndarray) -> dict[str, tuple[Any, Callable[[Any], bool]]]:
        jax = self.jax
        from jax.sharding import Mesh, NamedSharding, PartitionSpec

        devices = jax.devices()
        out = {}
        for device in devices[:2]:
            x = jax.device_put(values, device)
            out[str(device)] = (x, lambda y, x=x: y.devices() == x.devices() and y.committed)
        if len(devices) > 1:
            mesh = Mesh(np.array(devices[:2]), ("i",))
            sharded = jax.device_put(values, NamedSharding(mesh, PartitionSpec("i")))
            out["sharded over two devices"] = (
                sharded,
                lambda y: y.sharding.is_equivalent_to(sharded.sharding, y.ndim),
            )
        return out

    def native_elu(self, x: Any, alpha: float) -> Any:
        return self.jax.nn.elu(x, alpha)

    def bench_cases(self, x: np.ndarray, alpha: float) -> Iterable[Case]:
        j = self.jnp.asarray(x)
        if j.dtype != x.dtype:  # float64 without x64
            return
        native = self.jax.jit(self.jax.nn.elu)
        yield (
            "jax.jax.nn.elu",
            "jax.nn.elu (jitted)",
            lambda: unielu.elu(j, alpha).block_until_ready(),
            lambda: native(j, alpha).block_until_ready(),
        )

    def bench_workloads(self, repeats: int) -> Iterable[Workload]:
        from unielu.bench import data, distinct_alphas

        j = self.jnp.asarray(data(200_000, "float32"))
        native = self.jax.jit(self.jax.nn.elu)
        fresh, same = distinct_alphas(30), distinct_alphas(30)
        yield (
            "jax.30-alphas",
            "jax.nn.elu (jitted), 30 calls with 30 new alphas (total)",
            200_000,
            lambda: [unielu.elu(j, a) for a in fresh()][-1].block_until_ready(),
            lambda: [native(j, a) for a in same()][-1].block_until_ready(),
        )

    def bench_native(self, x: np.ndarray, alpha: float) -> tuple[str, Callable[[], Any]] | None:
        j = self.jnp.asarray(x)
        if j.dtype != x.dtype:  # float64 without x64
            return None
        native = self.jax.jit(self.jax.nn.elu)
        return "jax.nn.elu", lambda: native(j, alpha).block_until_ready()

    def gradients(self, x: Any, alpha: float) -> dict[str, tuple[Any, Any]]:
        jax = self.jax
        g = jax.grad(lambda v: unielu.elu(v, alpha))
        return {
            "vmap(grad)": (jax.vmap(g)(x), jax.vmap(jax.grad(g))(x)),
            "jit(vmap(grad))": (jax.jit(jax.vmap(g))(x), jax.jit(jax.vmap(jax.grad(g)))(x)),
            "jacfwd": (
                jax.vmap(jax.jacfwd(lambda v: unielu.elu(v, alpha)))(x),
                jax.vmap(jax.jacfwd(jax.jacfwd(lambda v: unielu.elu(v, alpha))))(x),
            ),
        }

    def native_gradient(self, x: Any, alpha: float) -> Any:
        return self.jax.vmap(self.jax.grad(lambda v: self.jax.nn.elu(v, alpha)))(x)

    def derivatives(self, func: Callable[[Any], Any], x: Any) -> tuple[Any, Any]:
        jax = self.jax
        g = jax.grad(func)
        return jax.vmap(g)(x), jax.vmap(jax.grad(g))(x)

    def transforms(self, alpha: float) -> dict[str, Callable[[Any], Any]]:
        jax = self.jax
        return {
            "jax.jit": jax.jit(lambda v: unielu.elu(v, alpha)),
            "jax.vmap": jax.vmap(lambda v: unielu.elu(v, alpha)),
        }

    def forward_mode(self, x: Any, alpha: float) -> dict[str, Any]:
        """Tangent of elu at x along ones, by each forward-mode route: label -> tangent."""
        jax = self.jax

        def jvp(v: Any) -> Any:
            return jax.jvp(lambda u: unielu.elu(u, alpha), (v,), (self.jnp.ones_like(v),))[1]

        def linearized(v: Any) -> Any:
            _, f = jax.linearize(lambda u: unielu.elu(u, alpha), v)
            return f(self.jnp.ones_like(v))

        return {
            "jax.jvp": jvp(x),
            "jax.jit(jax.jvp)": jax.jit(jvp)(x),
            "jax.vmap(jax.jacfwd)": jax.vmap(jax.jacfwd(lambda u: unielu.elu(u, alpha)))(x),
            "jax.linearize": linearized(x),
        }

    def alpha_gradients(self, x: Any, alpha: Any) -> dict[str, tuple[Any, Any]]:
        """For an array alpha of this framework: (d sum(elu(x, alpha))/d alpha,
        d sum(elu_derivative(x, alpha))/d alpha) by each route."""
        jax = self.jax

        def of(func: Callable[..., Any]) -> Callable[[Any, Any], Any]:
            return lambda a, v: func(v, a).sum()

        elu, derivative = of(unielu.elu), of(unielu.elu_derivative)
        return {
            "jax.grad": (jax.grad(elu)(alpha, x), jax.grad(derivative)(alpha, x)),
            "jax.jit(jax.grad)": (
                jax.jit(jax.grad(elu))(alpha, x),
                jax.jit(jax.grad(derivative))(alpha, x),
            ),
            "jax.jacfwd (forward mode)": (
                jax.jacfwd(elu)(alpha, x),
                jax.jacfwd(derivative)(alpha, x),
            ),
        }


ADAPTER = JAXAdapter
