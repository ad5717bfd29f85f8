"""unielu's ELU in a small Flax NNX model: state saved and reloaded, jax.export, trained
like jax.nn.elu (docs/models.rst). Helpers and the tolerances' reasoning are in
tests/models.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from models import STEPS, compare_curves, data, examples, run_fresh

import unielu
from unielu._registry import release


def flax_model(activation):
    from flax import nnx

    class MLP(nnx.Module):
        def __init__(self, rngs: nnx.Rngs) -> None:
            layers = [nnx.Linear(4, 16, rngs=rngs), nnx.Linear(16, 16, rngs=rngs)]
            # nnx.List since Flax 0.12 (which wants it); a plain list before
            self.layers = nnx.List(layers) if hasattr(nnx, "List") else layers
            self.out = nnx.Linear(16, 1, rngs=rngs)
            self.activation = activation

        def __call__(self, x):
            for layer in self.layers:
                x = self.activation(layer(x))
            return self.out(x)

    return MLP(nnx.Rngs(0))


@pytest.fixture
def nnx(backend):
    return pytest.importorskip("flax.nnx", reason="the Flax models need flax")


@pytest.mark.only("jax", reason="a Flax NNX model")
def test_flax_state_saved_and_reloaded(backend, nnx):
    import flax
    from flax import serialization

    from unielu.layers.flax import ELU

    if release(flax.__version__) < (0, 12, 8):
        pytest.skip(
            reason=f"flax {flax.__version__}: msgpack_restore refuses the integer keys of a "
            "list of layers (strict_map_key), fixed in Flax 0.12.8"
        )
    model = flax_model(ELU(0.7))
    blob = serialization.msgpack_serialize(nnx.to_pure_dict(nnx.state(model)))
    again = flax_model(ELU(0.7))
    nnx.update(again, serialization.msgpack_restore(blob))
    again_state = nnx.state(again)
    nnx.replace_by_pure_dict(again_state, serialization.msgpack_restore(blob))
    nnx.update(again, again_state)
    x = data("float32")[0]
    np.testing.assert_array_equal(np.asarray(again(x)), np.asarray(model(x)))


@pytest.mark.only("jax", reason="jax.export")
def test_jax_export_serialized_deserialized_and_called(backend, nnx):
    import jax.export  # a submodule that JAX 0.6 does not import with jax

    from unielu.layers.flax import ELU

    model = flax_model(ELU(0.7))
    x = data("float32")[0]
    exported = jax.export.export(jax.jit(lambda v: model(v)))(x)
    blob = exported.serialize(vjp_order=1)
    again = jax.export.deserialize(blob)
    # Against the function exported, compiled here: eager runs may differ from
    # compiled ones in the last bit (XLA fuses the Linear layers' dot and add
    # differently, e.g. in JAX 0.6 and 0.10.0-0.10.1, with jax.nn.elu too).
    jitted = jax.jit(lambda v: model(v))(x)
    np.testing.assert_array_equal(np.asarray(again.call(x)), np.asarray(jitted))
    # The gradient, through the serialized custom JVP: alpha*exp(x) at -30, not 0.
    v = np.float32([-30.0, -1.0, 2.0])
    exported = jax.export.export(jax.jit(lambda t: unielu.elu(t, 0.7)))(v)
    again = jax.export.deserialize(exported.serialize(vjp_order=1))
    g = jax.grad(lambda t: again.call(t).sum())(v)
    np.testing.assert_allclose(np.asarray(g), np.asarray(unielu.elu_derivative(v, 0.7)), rtol=1e-6)
    assert g[0] > 0


@pytest.mark.only("jax", reason="training a Flax NNX model")
def test_flax_training_matches_jax_nn_elu(backend, nnx):
    jax = backend.jax
    optax = pytest.importorskip("optax", reason="needs optax (its own session has it)")
    from unielu.layers.flax import ELU

    dtype = "float64" if "float64" in backend.dtypes else "float32"
    x, y = data(dtype)
    curves = []
    for activation in (ELU(1.0), jax.nn.elu):
        model = flax_model(activation)  # same seed: same initial weights
        optimizer = nnx.Optimizer(model, optax.sgd(0.05), wrt=nnx.Param)

        @nnx.jit
        def step(model, optimizer):
            loss, grads = nnx.value_and_grad(lambda m: ((m(x) - y) ** 2).mean())(model)
            optimizer.update(model, grads)
            return loss

        # Full float32 matrix products: on a GPU, JAX's default (TF32) would amplify
        # the two activations' last-bit differences far beyond the tolerance.
        with jax.default_matmul_precision("float32"):
            curves.append([float(step(model, optimizer)) for _ in range(STEPS)])
    compare_curves(*curves, dtype, "Flax NNX: unielu ELU vs jax.nn.elu")


@pytest.mark.only("jax", reason="a Flax example")
def test_docs_examples_run(backend):
    blocks = examples("flax")
    assert blocks, "docs/models.rst has no flax example"
    flax = pytest.importorskip("flax", reason="needs flax (its own session has it)")
    pytest.importorskip("optax", reason="needs optax (its own session has it)")
    if release(flax.__version__) < (0, 11):
        pytest.skip(
            reason=f"the example uses Flax 0.11's nnx.Optimizer(model, tx, wrt=) and "
            f"update(model, grads); flax {flax.__version__} is installed"
        )
    for code in blocks:
        run_fresh(code)
