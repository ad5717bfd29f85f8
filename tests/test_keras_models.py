"""unielu's ELU in small Keras models, on the backend KERAS_BACKEND picks: saved and
reloaded, trained like keras.layers.ELU (docs/models.rst). Helpers and the tolerances'
reasoning are in tests/models.py; the TensorFlow SavedModel of such a model is in
tests/test_tensorflow_models.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from models import STEPS, compare_curves, data, keras_dtype, keras_model, run_examples


@pytest.mark.only("keras", reason="a Keras model")
def test_keras_model_saved_and_reloaded(backend, tmp_path):
    keras = backend.keras
    from unielu.backends.keras import _numpy
    from unielu.layers.keras import ELU

    dtype = keras_dtype(backend)
    model = keras_model(backend, lambda d: ELU(0.7, dtype=d), dtype)
    model.save(tmp_path / "model.keras")
    again = keras.saving.load_model(tmp_path / "model.keras")
    x = data(dtype)[0]
    np.testing.assert_array_equal(_numpy(again(x)), _numpy(model(x)))


@pytest.mark.only("keras", reason="a Keras model")
def test_keras_training_matches_keras_elu(backend):
    keras = backend.keras
    from unielu.layers.keras import ELU

    dtype = keras_dtype(backend)
    x, y = data(dtype)
    curves = []
    for activation in (lambda d: ELU(1.0, dtype=d), lambda d: keras.layers.ELU(1.0, dtype=d)):
        model = keras_model(backend, activation, dtype)  # same seed: same initial weights
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
        # One batch per epoch: each history entry is the loss before that step.
        history = model.fit(x, y, batch_size=len(x), epochs=STEPS, shuffle=False, verbose=0)
        curves.append(history.history["loss"])
    compare_curves(*curves, dtype, f"Keras ({backend.keras_backend}): unielu ELU vs keras ELU")


@pytest.mark.only("keras", reason="a Keras example")
def test_docs_examples_run(backend):
    run_examples("keras")
