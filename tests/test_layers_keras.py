"""unielu.layers.keras: the Keras 3 layers, under the Keras backend KERAS_BACKEND picks.

Run once per Keras backend: ``KERAS_BACKEND=tensorflow|jax|torch python -m pytest
tests/test_layers_keras.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import unielu

pytestmark = [
    pytest.mark.only("keras", reason="the Keras layers"),
    # Keras's own np.array(tensor) while saving weights, under NumPy 2
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]

X = np.array([-100.0, -30.0, -2.0, -1e-30, -0.0, 0.0, 1e-30, 0.5, 3.0, 1e4, np.nan, -np.inf])


@pytest.fixture(autouse=True)
def _names(backend):
    # The Keras names, imported only in the Keras session (after the adapter chose the backend).
    from unielu.backends.keras import _numpy
    from unielu.layers import keras as layers

    global keras, BACKEND, ELU, ELUDerivative, to_numpy
    keras, BACKEND = backend.keras, backend.keras_backend
    ELU, ELUDerivative, to_numpy = layers.ELU, layers.ELUDerivative, _numpy


def native(values, dtype="float32"):
    return keras.ops.convert_to_tensor(np.asarray(values).astype(dtype), dtype=dtype)


def gradients(layer, x):
    """d sum(layer(x)) / dx, and / d alpha for a learned alpha (else None), by the
    backend's own autodiff."""
    layer.build(x.shape)
    learned = layer.alpha_weight is not None
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(layer(x))
        grads = tape.gradient(y, [x, *layer.trainable_weights])
        return grads[0], grads[1] if learned else None
    if BACKEND == "jax":
        import jax

        def loss(v, weights):
            y, _ = layer.stateless_call(weights, [], v)
            return y.sum()

        weights = [w.value for w in layer.trainable_weights]
        gx, gw = jax.grad(loss, argnums=(0, 1))(x, weights)
        return gx, gw[0] if learned else None
    x = x.detach().requires_grad_(True)
    layer(x).sum().backward()
    return x.grad, layer.alpha_weight.value.grad if learned else None


@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.7])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_values_are_unielus(backend, dtype, alpha):
    x = native(X, dtype)
    y = ELU(alpha, dtype=dtype)(x)
    assert keras.backend.standardize_dtype(y.dtype) == dtype
    np.testing.assert_array_equal(to_numpy(y), to_numpy(unielu.elu(x, alpha)))
    d = ELUDerivative(alpha, dtype=dtype)(x)
    np.testing.assert_array_equal(to_numpy(d), to_numpy(unielu.elu_derivative(x, alpha)))


def test_accurate_where_keras_own_elu_is_not(backend):
    x = native([-1e-30, -1e-8], "float32")
    np.testing.assert_array_equal(to_numpy(ELU()(x)), np.float32([-1e-30, -1e-8]))


@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.7])
def test_gradient_is_elu_derivative(backend, alpha):
    # Not -100 (a subnormal gradient, flushed by TF and JAX), nor NaN (checked by the matrix).
    x = native(X[1:-1], "float32")
    gx, _ = gradients(ELU(alpha), x)
    expected = to_numpy(unielu.elu_derivative(x, alpha))
    np.testing.assert_allclose(to_numpy(gx), expected, rtol=1e-6)
    assert alpha == 0 or to_numpy(gx)[0] > 0, "alpha*exp(-30), not 0 as Keras's own ELU gives"


def test_masks_pass_through(backend):
    tokens = keras.Input((5,), dtype="int32")
    embedded = keras.layers.Embedding(10, 3, mask_zero=True)(tokens)
    assert ELU().supports_masking
    model = keras.Model(tokens, ELU()(embedded))
    out = model(np.array([[1, 2, 0, 0, 3]]))
    np.testing.assert_array_equal(to_numpy(out._keras_mask), [[True, True, False, False, True]])


def test_in_sequential_and_functional_models(backend):
    sequential = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), ELU(0.5)])
    inputs = keras.Input((3,))
    functional = keras.Model(inputs, ELU(0.5)(sequential.layers[0](inputs)))
    x = np.linspace(-3, 3, 6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(to_numpy(sequential(x)), to_numpy(functional(x)))


@pytest.mark.parametrize("learn_alpha", [False, True])
def test_config_round_trip_and_registration(backend, learn_alpha):
    layer = ELU(0.3, learn_alpha=learn_alpha, name="act")
    config = layer.get_config()
    assert config["alpha"] == 0.3 and config["learn_alpha"] is learn_alpha
    again = ELU.from_config(config)
    assert (again.alpha, again.learn_alpha, again.name) == (0.3, learn_alpha, "act")
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == "unielu>ELU"
    assert isinstance(keras.saving.deserialize_keras_object(serialized), ELU)
    assert keras.saving.get_registered_name(ELUDerivative) == "unielu>ELUDerivative"


@pytest.mark.parametrize("learn_alpha", [False, True])
def test_saved_and_loaded_keras_file(backend, tmp_path, learn_alpha):
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4), ELU(0.4, learn_alpha=learn_alpha)]
    )
    if learn_alpha:
        model.layers[-1].alpha_weight.assign(0.9)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    x = np.linspace(-4, 2, 12, dtype=np.float32).reshape(4, 3)
    # TensorFlow computes a shape's first eager call op by op and later ones
    # XLA-compiled: the Dense layer's matmul and the ELU round a few ULP apart.
    np.testing.assert_allclose(to_numpy(loaded(x)), to_numpy(model(x)), rtol=1e-6)
    assert isinstance(loaded.layers[-1], ELU) and loaded.layers[-1].alpha == 0.4
    if learn_alpha:
        assert float(to_numpy(loaded.layers[-1].alpha_weight.value)) == pytest.approx(0.9)


@pytest.mark.parametrize("func", ["elu", "elu_derivative"])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_keras_tensor_in_and_out(backend, dtype, func):
    x = keras.Input((2, 3), dtype=dtype)
    y = getattr(unielu, func)(x, 0.5)
    assert isinstance(y, keras.KerasTensor)
    assert (y.shape, y.dtype) == (x.shape, x.dtype)


def test_learned_alpha_is_a_trainable_weight_with_exact_gradient(backend):
    layer = ELU(0.5, learn_alpha=True)
    x = native([-40.0, -2.0, -1e-7, 0.0, 1.0], "float32")
    gx, galpha = gradients(layer, x)
    assert [w.name for w in layer.trainable_weights] == ["alpha"]
    values = np.float64(to_numpy(x))
    expected = np.sum(np.expm1(np.minimum(values, 0.0)))  # d/d alpha: expm1(x) for x <= 0
    assert float(to_numpy(galpha)) == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(to_numpy(gx), to_numpy(unielu.elu_derivative(x, 0.5)), rtol=1e-6)


def test_learned_alpha_trains(backend):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 1)).astype(np.float32) - 1
    y = np.where(x > 0, x, 2.0 * np.expm1(x)).astype(np.float32)  # ELU with alpha 2
    model = keras.Sequential([keras.Input((1,)), ELU(1.0, learn_alpha=True)])
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    model.fit(x, y, epochs=40, batch_size=64, verbose=0)
    assert float(to_numpy(model.layers[-1].alpha_weight.value)) == pytest.approx(2.0, rel=1e-3)


@pytest.mark.parametrize(
    ("alpha", "error"), [(-1.0, ValueError), (float("nan"), ValueError), ("1", TypeError)]
)
def test_bad_alpha(backend, alpha, error):
    with pytest.raises(error, match=r"unielu.layers.keras.ELU\(\) argument 'alpha'"):
        ELU(alpha)


def test_array_alpha_is_refused(backend):
    with pytest.raises(TypeError, match=r"'alpha' must be a real number.*learn_alpha=True"):
        ELU(np.ones(3))


def test_imports_only_keras(backend):
    code = "import sys, unielu.layers.keras; print(sorted({'torch', 'flax'} & set(sys.modules)))"
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
