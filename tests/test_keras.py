"""Contract lines of the Keras backend (symbolic KerasTensors) alone."""

from __future__ import annotations

import numpy as np
import pytest

import unielu

pytestmark = [
    pytest.mark.only("keras", reason="Keras's symbolic tensors"),
    # Keras's own np.array(tensor) while saving weights, under NumPy 2
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]


def test_a_functional_model_calling_unielu_saves_and_loads(backend, tmp_path):
    keras = backend.keras
    from unielu.backends.keras import _numpy

    inputs = keras.Input((3,))
    hidden = unielu.elu(keras.layers.Dense(4)(inputs), 0.7)
    model = keras.Model(inputs, unielu.elu_derivative(hidden, 1.3))
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    kinds = {type(layer).__name__ for layer in loaded.layers}
    assert {"ELU", "ELUDerivative"} <= kinds, kinds
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(4, 3)
    # TensorFlow's first eager call of a shape and later (XLA) ones round a few ULP apart.
    np.testing.assert_allclose(_numpy(loaded(x)), _numpy(model(x)), rtol=1e-6)


@pytest.mark.parametrize("func", ["elu", "elu_derivative"])
def test_keras_tensor_alpha_is_a_model_input_and_saves(backend, func, tmp_path):
    keras = backend.keras
    from unielu.backends.keras import _numpy

    x, alpha = keras.Input((3,)), keras.Input((3,))
    model = keras.Model([x, alpha], getattr(unielu, func)(x, alpha))
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    values = [np.float32([[-1.0, 0.0, 2.0]]), np.float32([[0.5, 1.0, 2.0]])]
    expected = getattr(unielu, func)(values[0], values[1])
    for m in (model, loaded):
        np.testing.assert_allclose(_numpy(m(values)), expected, rtol=1e-6)


@pytest.mark.parametrize("func", ["elu", "elu_derivative"])
def test_alpha_of_another_kind_raises_type_error(backend, func):
    keras = backend.keras
    x = keras.Input((3,))
    for alpha in (keras.ops.ones(()), np.ones(3)):  # values, not a tensor of the model
        with pytest.raises(TypeError, match=r"'alpha' must be a real number or \(for a Keras"):
            getattr(unielu, func)(x, alpha)


def test_symbolic_inputs_with_values_for_the_report(backend):
    from unielu.backends import keras as module

    x = module.from_numpy(np.array([-1.0, 0.0, 2.0], dtype=np.float32))
    assert module.to_numpy(x).tolist() == [-1.0, 0.0, 2.0]
    y = unielu.elu(x, 0.5)
    np.testing.assert_array_equal(module.to_numpy(y), unielu.elu(np.float32([-1, 0, 2]), 0.5))
    with pytest.raises(TypeError, match="made by from_numpy"):
        module.to_numpy(unielu.elu(backend.keras.Input((3,))))
    assert len(module.devices()) == 1
