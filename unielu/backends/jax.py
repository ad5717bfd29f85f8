"""JAX backend: arrays and tracers (jit, grad, vmap), device and sharding kept.

``jax.nn.elu`` differentiates to ``y + 1`` (0 below about -17 in float32), so
this backend defines ELU with a custom JVP equal to :func:`elu_derivative`,
built from differentiable ops so that ``grad`` of ``grad`` works. The
functions are jitted: eager calls run as one fused XLA kernel on the input's
device, and calls under a trace are inlined. ``alpha`` is an argument of the
jitted functions, not a static one: a new alpha value compiles nothing. An
array alpha is differentiable too.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax import lax
from jax.custom_derivatives import SymbolicZero

from unielu._checks import alpha_type_error, check_alpha_fits, check_alpha_shape, dtype_error
from unielu.backends import _formulas

# Read by unielu._registry from this source, without importing the module: literals only.
SPEC = {
    "name": "jax",
    "framework": "jax",
    # The functions' floor; the Flax layer needs more (layer_requirements).
    "requirement": "jax>=0.4.35",
    "priority": 40,
    "types": ["jax:Array"],
    "description": "a JAX array or tracer",
    "autodiff": True,
    "ulp": 5,
    "flush_subnormals": True,
    "gpu": True,
    # Flax 0.11's API (docs/versions.rst), and Flax 0.11 needs JAX 0.6.
    "layer_requirements": ["flax>=0.11.0", "jax>=0.6.0"],
    # ints promote to float32, then to float64 with x64 on: both are tested
    "test_env": [{}, {"JAX_ENABLE_X64": "1"}],
    # flax, optax: the Flax NNX layer and its models; flatbuffers: jax.export's serialization
    "test_requirements": ["jax>=0.4.35", "flax>=0.11.0", "optax>=0.2.4", "flatbuffers"],
    "newest_tested": "jax 0.10.2, flax 0.12.8",
    "native_elu": "jax.nn:elu",
}


_KEPT = frozenset(jnp.dtype(t) for t in (jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64))
_HALF = frozenset(jnp.dtype(t) for t in (jnp.float16, jnp.bfloat16))


def _check_live(a: Any, name: str, func: str) -> None:
    """Refuse a deleted array (``a.delete()``) by name, before XLA is called with it."""
    if isinstance(a, jax.core.Tracer):  # traced: no buffers of its own
        return
    is_deleted = getattr(a, "is_deleted", None)
    if is_deleted is not None and is_deleted():
        raise ValueError(
            f"unielu.{func}() argument '{name}' is a deleted jax.Array (its buffers were "
            f"freed by .delete() or donated to a jitted call); accepted: a live jax.Array"
        )


def _as_float(x: Any, func: str) -> Any:
    _check_live(x, "x", func)
    if x.dtype in _KEPT:
        return x
    if jnp.issubdtype(x.dtype, jnp.integer) or x.dtype == jnp.bool_:
        # float32, or float64 when x64 is enabled
        return x.astype(jax.dtypes.canonicalize_dtype(jnp.float64))
    raise dtype_error(func, x.dtype, "float32 (float64 with jax_enable_x64)")


def _check_alpha(alpha: Any, x: Any, func: str) -> Any:
    """A number passes; an array alpha must be a real JAX array that broadcasts to x."""
    if type(alpha) is float:
        check_alpha_fits(alpha, x.dtype, func)
        return alpha
    real = isinstance(alpha, jax.Array) and (
        jnp.issubdtype(alpha.dtype, jnp.floating) or jnp.issubdtype(alpha.dtype, jnp.integer)
    )
    if not real:
        raise alpha_type_error(func, alpha, "a jax.Array")
    _check_live(alpha, "alpha", func)
    check_alpha_shape(alpha.shape, x.shape, func)
    return alpha


def _widen(x: Any) -> Any:
    return x.astype(jnp.float32) if x.dtype in _HALF else x


OPS = _formulas.Ops(
    where=jnp.where,
    exp=jnp.exp,
    isnan=jnp.isnan,
    bits=lambda w: lax.bitcast_convert_type(w, jnp.int32 if w.dtype == jnp.float32 else jnp.int64),
    from_bits=lambda i, like: lax.bitcast_convert_type(i, like.dtype),
    rint=jnp.round,  # half to even
    to_int=lambda k: k.astype(jnp.int32 if k.dtype == jnp.float32 else jnp.int64),
)


@jax.jit
def _derivative(x: Any, alpha: Any) -> Any:
    # Differentiable ops throughout: its gradient (in x and in alpha) is autodiff's.
    w = _widen(x)
    a = jnp.asarray(alpha, w.dtype)
    return _formulas.derivative(w, a, OPS, w.dtype.name).astype(x.dtype)


@jax.custom_jvp
def _d_elu_d_alpha(w: Any) -> Any:
    """d elu / d alpha; its own derivative is exp(x), not JAX's expm1' = y + 1 (0 below -17)."""
    return _formulas.elu_alpha(w, OPS, w.dtype.name)


@_d_elu_d_alpha.defjvp
def _elu_alpha_jvp(primals: tuple[Any], tangents: tuple[Any]) -> tuple[Any, Any]:
    (w,), (t,) = primals, tangents
    return _d_elu_d_alpha(w), t * _formulas.derivative_alpha(w, OPS)


@jax.custom_jvp
def _elu_core(x: Any, alpha: Any) -> Any:
    w = _widen(x)
    y = _formulas.elu(w, jnp.asarray(alpha, w.dtype), OPS, w.dtype.name)
    if x.dtype in _HALF:  # XLA may rewrite the round trip and lose the sign of -0.0
        # The sign of alpha * expm1(x): x's, flipped by an (array) alpha with its sign bit set.
        flip = (w < 0) & jnp.signbit(jnp.asarray(alpha, w.dtype))
        y = jnp.copysign(y, jnp.where(flip, -w, w))
    return y.astype(x.dtype)


def _elu_jvp(primals: tuple[Any, Any], tangents: tuple[Any, Any]) -> tuple[Any, Any]:
    # Symbolic zeros: a tangent nobody asked for (alpha's, usually) costs nothing.
    (x, alpha), (tx, ta) = primals, tangents
    y = _elu_core(x, alpha)
    terms = []
    if not isinstance(tx, SymbolicZero):
        # tx itself where x > 0 (the derivative is 1 there): the transpose is then
        # no product of the cotangent, which XLA's CPU backend would not hand to
        # its fast reduction (YNNPACK) when a bias's gradient sums it.
        pos = _formulas.positive(_widen(x), OPS)
        terms.append(jnp.where(pos, tx, tx * _derivative(x, alpha)))
    if not isinstance(ta, SymbolicZero):
        w = _widen(x)
        terms.append((ta.astype(w.dtype) * _d_elu_d_alpha(w)).astype(x.dtype))
    return y, sum(terms[1:], terms[0]) if terms else jnp.zeros_like(y)


_elu_core.defjvp(_elu_jvp, symbolic_zeros=True)
_elu = jax.jit(_elu_core)

# The default alpha, 1.0, is compiled in as a constant: XLA then drops the
# multiplications by alpha, worth ~15% on large CPU arrays, and no scalar is
# passed per call. Every other alpha shares the one compilation above.
_elu_default = jax.jit(lambda x: _elu_core(x, 1.0))
_derivative_default = jax.jit(lambda x: _derivative(x, 1.0))


def elu(x: Any, alpha: Any) -> Any:
    x = _as_float(x, "elu")
    if type(alpha) is float and alpha == 1.0:
        return _elu_default(x)
    return _elu(x, _check_alpha(alpha, x, "elu"))


def elu_derivative(x: Any, alpha: Any) -> Any:
    x = _as_float(x, "elu_derivative")
    if type(alpha) is float and alpha == 1.0:
        return _derivative_default(x)
    return _derivative(x, _check_alpha(alpha, x, "elu_derivative"))


def devices() -> list[str]:
    return [str(d) for d in jax.devices()]


def from_numpy(a: Any) -> Any:
    return jnp.asarray(a)


def to_numpy(y: Any) -> Any:
    import numpy as np

    return np.asarray(y)
