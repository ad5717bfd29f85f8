"""A Keras model with unielu's ELU as a TensorFlow SavedModel, its gradient intact after
the reload (docs/models.rst). Runs in the Keras sessions, on the TensorFlow backend.
Helpers are in tests/models.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from models import data, keras_model

import unielu


@pytest.mark.only("keras", reason="TensorFlow SavedModel")
def test_tensorflow_saved_model_with_gradient_after_reload(backend, tmp_path):
    if backend.keras_backend != "tensorflow":
        why = "not applicable: a tf.saved_model of a Keras model needs the TensorFlow backend"
        pytest.skip(reason=why)
    import tensorflow as tf

    from unielu.layers.keras import ELU

    model = keras_model(backend, lambda d: ELU(0.7, dtype=d), "float64")

    class Exported(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float64)])
        def __call__(self, x):
            return self.model(x)

    tf.saved_model.save(Exported(), str(tmp_path / "saved"))
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    x = tf.constant(data()[0])
    gradients = []
    for f in (loaded, model):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(f(x))
        gradients.append(tape.gradient(y, x).numpy())
    # The reloaded graph is optimised (fused) differently from the eager model: 1 ULP apart.
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), rtol=1e-14)
    np.testing.assert_allclose(gradients[0], gradients[1], rtol=1e-12)
    # the ELU's own gradient survives the reload: alpha*exp(-30), not 0 as tf.nn.elu's
    tensor = tf.constant([-30.0, -1.0, 2.0], tf.float64)

    class Alone(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([3], tf.float64)])
        def __call__(self, v):
            return unielu.elu(v, 0.7)

    tf.saved_model.save(Alone(), str(tmp_path / "alone"))
    alone = tf.saved_model.load(str(tmp_path / "alone"))
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        out = alone(tensor)
    np.testing.assert_allclose(
        tape.gradient(out, tensor).numpy(), unielu.elu_derivative(tensor, 0.7).numpy(), rtol=1e-15
    )
