"""JAX workloads: alpha is an argument of the jitted functions (a new value
compiles nothing); an array alpha is checked, keeps x's dtype, and is
differentiable under grad, jit and vmap, second derivatives included."""

from __future__ import annotations

import numpy as np
import pytest

import unielu

jax = pytest.importorskip("jax", reason="needs jax (its own session has it)")
jnp = pytest.importorskip("jax.numpy", reason="needs jax (its own session has it)")
jaxb = pytest.importorskip(
    "unielu.backends.jax", reason="needs its framework (its own session has it)"
)

pytestmark = pytest.mark.only("jax", reason="JAX's own compilation and transforms")

FUNCS = ("elu", "elu_derivative")
COMPILED = {"elu": "_elu", "elu_derivative": "_derivative"}


@pytest.mark.parametrize("alpha_kind", ["number", "0-d array"])
@pytest.mark.parametrize("func", FUNCS)
def test_new_alpha_values_compile_nothing(backend, func, alpha_kind):
    x = jnp.linspace(-3.0, 3.0, 1001, dtype=jnp.float32)  # a shape no other test uses
    compiled = getattr(jaxb, COMPILED[func])
    f = getattr(unielu, func)
    # (Not 1.0: the default alpha has a compilation of its own, with 1.0 folded in.)
    f(x, 0.25 if alpha_kind == "number" else jnp.float32(0.25)).block_until_ready()
    before = compiled._cache_size()
    for i in range(30):
        value = 0.55 + i / 10
        y = f(x, value if alpha_kind == "number" else jnp.asarray(value, jnp.float32))
        expected = value * (np.expm1(-3.0) if func == "elu" else np.exp(-3.0))
        np.testing.assert_allclose(np.asarray(y)[0], expected, rtol=1e-6)
    assert compiled._cache_size() == before


@pytest.mark.parametrize(
    "alpha",
    [np.ones(3), np.ones((), np.float32), "bool", "complex64"],
    ids=["numpy-array", "numpy-0-d", "bool", "complex64"],
)
@pytest.mark.parametrize("func", FUNCS)
def test_alpha_of_another_kind_or_dtype_raises_type_error(backend, func, alpha):
    if isinstance(alpha, str):
        alpha = jnp.ones(3, dtype=alpha)
    with pytest.raises(TypeError, match=r"argument 'alpha' must be .*jax.Array"):
        getattr(unielu, func)(jnp.ones((2, 3)), alpha)


@pytest.mark.parametrize("shape", [(2,), (4, 3), (2, 2, 3), (3, 1, 1)])
@pytest.mark.parametrize("func", FUNCS)
def test_alpha_that_would_change_the_shape_raises_value_error(backend, func, shape):
    with pytest.raises(ValueError, match=r"argument 'alpha' of shape .* does not broadcast"):
        getattr(unielu, func)(jnp.ones((2, 3)), jnp.ones(shape))


@pytest.mark.parametrize("alpha_dtype", ["float16", "bfloat16", "float32", "int8", "int32"])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_result_keeps_the_dtype_of_x(backend, dtype, alpha_dtype):
    x = jnp.asarray([-2.0, -0.5, 0.0, 3.0], dtype)
    alpha = jnp.full((4,), 2, alpha_dtype)
    for func in FUNCS:
        y = getattr(unielu, func)(x, alpha)
        assert y.dtype == x.dtype
        expected = getattr(unielu, func)(np.asarray(x, np.float64), 2.0)
        np.testing.assert_allclose(np.asarray(y, np.float64), expected, rtol=2**-7)


def test_per_channel_alpha_under_jit_and_vmap(backend):
    x = jnp.asarray(np.random.default_rng(0).normal(0, 2, (5, 4, 3)), jnp.float32)
    alpha = jnp.asarray([0.5, 1.0, 2.0], jnp.float32)
    expected = np.where(np.asarray(x) > 0, x, np.asarray(alpha) * np.expm1(np.minimum(x, 0)))
    for label, f in {
        "eager": lambda v, a: unielu.elu(v, a),
        "jit": jax.jit(lambda v, a: unielu.elu(v, a)),
        "vmap over x": jax.vmap(lambda v, a: unielu.elu(v, a), in_axes=(0, None)),
        "vmap over x and a 0-d alpha": lambda v, a: jax.vmap(unielu.elu)(
            v.reshape(5, 12), jnp.full((5,), a[0])
        ),
    }.items():
        got = np.asarray(f(x, alpha))
        if label.endswith("0-d alpha"):
            want = np.where(np.asarray(x) > 0, x, 0.5 * np.expm1(np.minimum(x, 0)))
            np.testing.assert_allclose(got, want.reshape(5, 12), rtol=1e-6, err_msg=label)
        else:
            np.testing.assert_allclose(got, expected, rtol=1e-6, err_msg=label)


X = np.array([-30.0, -2.0, -0.0, 0.0, 1e-3, 3.0], np.float32)
A = np.array([1.5, 1.5, 0.5, 0.5, 2.0, 2.0], np.float32)
EXP = np.where(X > 0, 0.0, np.exp(np.minimum(X, 0)))


@pytest.mark.parametrize("transform", ["none", "jit", "vmap"])
def test_second_derivatives_in_alpha(backend, transform):
    def dx(v, a):  # d elu / d x, elementwise
        return jax.grad(lambda u, b: unielu.elu(u, b).sum())(v, a)

    def da(v, a):  # d elu / d alpha, elementwise (one alpha per element)
        return jax.grad(lambda b, u: unielu.elu(u, b).sum())(a, v)

    mixed = jax.jacfwd(dx, argnums=1)  # d/d alpha of d elu / d x
    mixed_rev = jax.jacrev(da, argnums=0)  # d/d x of d elu / d alpha
    second = jax.jacfwd(da, argnums=1)  # d2 / d alpha2
    wrap = {"none": lambda f: f, "jit": jax.jit, "vmap": lambda f: f}[transform]
    x, a = jnp.asarray(X), jnp.asarray(A)
    if transform == "vmap":
        results = [
            jax.vmap(lambda v, b, f=f: f(v[None], b[None])[0, 0])(x, a)
            for f in (mixed, mixed_rev, second)
        ]
        results = [np.diag(np.asarray(r)) if np.ndim(r) == 2 else np.asarray(r) for r in results]
    else:
        results = [np.diag(np.asarray(wrap(f)(x, a))) for f in (mixed, mixed_rev, second)]
    np.testing.assert_allclose(results[0], EXP, rtol=1e-6)
    np.testing.assert_allclose(results[1], EXP, rtol=1e-6)
    assert not np.any(results[2])


def test_derivative_in_alpha_is_differentiable_in_x(backend):
    # d/dx of d elu_derivative / d alpha = exp(x) for x <= 0 (the second derivative's own).
    def da(v, a):
        return jax.grad(lambda b, u: unielu.elu_derivative(u, b).sum())(a, v)

    got = np.diag(np.asarray(jax.jacfwd(da, argnums=0)(jnp.asarray(X), jnp.asarray(A))))
    np.testing.assert_allclose(got, EXP, rtol=1e-6)


def test_alpha_tracer_inside_jit(backend):
    f = jax.jit(lambda v, a: unielu.elu(v, a * 2))
    np.testing.assert_allclose(np.asarray(f(jnp.asarray([-1.0]), 0.75)), [1.5 * np.expm1(-1.0)])
