"""JAX backend: arrays and tracers (jit, grad, vmap), device and sharding kept.

``jax.nn.elu`` differentiates to ``y + 1`` (0 below about -17 in float32), so
this backend defines ELU with a custom JVP equal to :func:`elu_derivative`,
built from differentiable ops so that ``grad`` of ``grad`` works. The
functions are jitted: eager calls run as one fused XLA kernel on the input's
device, and calls under a trace are inlined.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from unielu._dispatch import dtype_error
from unielu.backends import _formulas

# Read by unielu._dispatch from this source, without importing the module: literals only.
SPEC = {
    "name": "jax",
    "framework": "jax",
    "requirement": "jax",
    "priority": 40,
    "types": ["jax:Array"],
    "description": "a JAX array or tracer",
    "autodiff": True,
    "ulp": 5,
    "flush_subnormals": True,
    # ints promote to float32, then to float64 with x64 on: both are tested
    "test_env": [{}, {"JAX_ENABLE_X64": "1"}],
    # flax, optax: the Flax NNX layer and its models
    "test_requirements": ["jax", "flax", "optax"],
}


_KEPT = frozenset(jnp.dtype(t) for t in (jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64))
_HALF = frozenset(jnp.dtype(t) for t in (jnp.float16, jnp.bfloat16))


def _as_float(x: Any, func: str) -> Any:
    if x.dtype in _KEPT:
        return x
    if jnp.issubdtype(x.dtype, jnp.integer) or x.dtype == jnp.bool_:
        # float32, or float64 when x64 is enabled
        return x.astype(jax.dtypes.canonicalize_dtype(jnp.float64))
    raise dtype_error(func, x.dtype, "float32 (float64 with jax_enable_x64)")


def _widen(x: Any) -> Any:
    return x.astype(jnp.float32) if x.dtype in _HALF else x


class _Ops:
    where, expm1, exp, isnan = (
        staticmethod(jnp.where),
        staticmethod(jnp.expm1),
        staticmethod(jnp.exp),
        staticmethod(jnp.isnan),
    )

    @staticmethod
    def bits(x: Any) -> Any:
        return lax.bitcast_convert_type(x, jnp.int32 if x.dtype == jnp.float32 else jnp.int64)

    @staticmethod
    def from_bits(i: Any, like: Any) -> Any:
        return lax.bitcast_convert_type(i, like.dtype)


@partial(jax.jit, static_argnums=1)
def _derivative(x: Any, alpha: float) -> Any:
    w = _widen(x)
    return _formulas.derivative(w, alpha, _Ops, w.dtype.name).astype(x.dtype)


@partial(jax.custom_jvp, nondiff_argnums=(1,))
def _elu_core(x: Any, alpha: float) -> Any:
    w = _widen(x)
    y = _formulas.elu(w, alpha, _Ops, w.dtype.name)
    if x.dtype in _HALF:  # XLA may rewrite the round trip and lose the sign of -0.0
        y = jnp.copysign(y, w)
    return y.astype(x.dtype)


@_elu_core.defjvp
def _elu_jvp(alpha: float, primals: tuple[Any], tangents: tuple[Any]) -> tuple[Any, Any]:
    (x,), (t,) = primals, tangents
    return _elu_core(x, alpha), t * _derivative(x, alpha)


_elu = jax.jit(_elu_core, static_argnums=1)


def elu(x: Any, alpha: float) -> Any:
    return _elu(_as_float(x, "elu"), alpha)


def elu_derivative(x: Any, alpha: float) -> Any:
    return _derivative(_as_float(x, "elu_derivative"), alpha)


def devices() -> list[str]:
    return [str(d) for d in jax.devices()]


def from_numpy(a: Any) -> Any:
    return jnp.asarray(a)


def to_numpy(y: Any) -> Any:
    import numpy as np

    return np.asarray(y)
