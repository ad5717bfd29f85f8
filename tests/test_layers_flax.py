"""unielu.layers.flax.ELU: a Flax NNX module with the contract's values and gradients."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import unielu

pytestmark = pytest.mark.only("jax", reason="Flax NNX runs on JAX")

X = [-30.0, -2.0, -1e-30, -0.0, 0.0, 1e-30, 0.5, 3.0, 1e4]


@pytest.fixture
def nnx(backend):
    return pytest.importorskip("flax.nnx", reason="the Flax layer needs flax")


@pytest.fixture
def ELU(nnx):
    from unielu.layers.flax import ELU

    return ELU


@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.7])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_values_and_gradient_are_unielus(backend, ELU, dtype, alpha):
    jax = backend.jax
    x = backend.asarray(X, dtype)
    layer = ELU(alpha)
    y = layer(x)
    assert y.dtype == x.dtype
    np.testing.assert_array_equal(np.asarray(y), np.asarray(unielu.elu(x, alpha)))
    g = jax.vmap(jax.grad(layer))(x)
    np.testing.assert_array_equal(np.asarray(g), np.asarray(unielu.elu_derivative(x, alpha)))
    # exp(-30) underflows in float16 only.
    assert alpha == 0 or dtype == "float16" or g[0] > 0, "alpha*exp(-30), not 0 (jax.nn.elu)"


def test_under_nnx_jit_and_jax_jit(backend, nnx, ELU):
    jax = backend.jax
    x = backend.asarray(X, "float32")
    layer = ELU(0.5)
    expected = np.asarray(unielu.elu(x, 0.5))
    np.testing.assert_array_equal(np.asarray(nnx.jit(lambda m, v: m(v))(layer, x)), expected)
    np.testing.assert_array_equal(np.asarray(jax.jit(layer)(x)), expected)


def test_fixed_alpha_is_static_and_has_no_state(nnx, ELU):
    layer = ELU(0.5)
    assert layer.alpha == 0.5 and not layer.learn_alpha
    assert nnx.state(layer, nnx.Param) == nnx.State({})


def test_learned_alpha_is_a_param_with_exact_gradient(backend, nnx, ELU):
    x = backend.asarray([-40.0, -2.0, -1e-7, -0.0, 0.0, 1.0], "float32")
    layer = ELU(0.5, learn_alpha=True)
    assert isinstance(layer.alpha, nnx.Param) and layer.alpha[...].shape == ()
    np.testing.assert_array_equal(np.asarray(layer(x)), np.asarray(unielu.elu(x, 0.5)))
    grads = nnx.grad(lambda m: m(x).sum())(layer)
    expected = np.expm1([-40.0, -2.0, -1e-7, -0.0, 0.0]).sum()
    # a VariableState before Flax 0.11, which has no [...]
    from unielu.layers.flax import _value

    assert float(_value(grads.alpha)) == pytest.approx(expected, rel=1e-6)


def test_learned_alpha_state_round_trip(backend, nnx, ELU):
    import jax.numpy as jnp

    layer = ELU(0.5, learn_alpha=True)
    if hasattr(layer.alpha, "set_value"):  # Flax 0.12 deprecates .value
        layer.alpha.set_value(jnp.asarray(1.25, dtype=jnp.float32))
    else:
        layer.alpha.value = jnp.asarray(1.25, dtype=jnp.float32)
    graphdef, state = nnx.split(layer)
    again = nnx.merge(graphdef, nnx.State(nnx.to_pure_dict(state)))
    x = backend.asarray([-1.0, 2.0], "float32")
    np.testing.assert_array_equal(np.asarray(again(x)), np.asarray(unielu.elu(x, 1.25)))


@pytest.mark.parametrize(
    ("alpha", "error"), [(-1.0, ValueError), (float("nan"), ValueError), ("1", TypeError)]
)
def test_bad_alpha(ELU, alpha, error):
    with pytest.raises(error, match=r"unielu.layers.flax.ELU\(\) argument 'alpha'"):
        ELU(alpha)


def test_imports_jax_and_flax_only(nnx):
    others = "{'torch', 'keras', 'tensorflow'}"
    code = f"import sys, unielu.layers.flax; print(sorted({others} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
