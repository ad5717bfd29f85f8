"""Keras 3 at scale: keras.distribution.DataParallel with unielu's Keras layer,
over two host devices (XLA_FLAGS from tests/conftest.py), as
docs/at-scale.rst describes.

keras.distribution runs on the JAX backend (its TensorFlow prototype says
"DO NOT USE", and PyTorch has none): under the other Keras backends this line
is skipped with that reason, and the nox session runs this module in its
KERAS_BACKEND=jax environment only (the test_env marker). MirroredStrategy with
the layer is in tests/test_tensorflow_distributed.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from at_scale import EXAMPLES, run

pytestmark = [
    pytest.mark.distributed,
    pytest.mark.only("keras", reason="Keras's own distribution API"),
    pytest.mark.test_env(KERAS_BACKEND="jax"),
    # Keras's own np.array(tensor) while reading weights, under NumPy 2
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]


@pytest.fixture
def keras(backend):
    if backend.keras_backend != "jax":
        pytest.skip(reason="not applicable: keras.distribution runs on the JAX backend only")
    return backend.keras


def _fit(keras, activation, distribution=None):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 8)).astype(np.float32)
    y = rng.normal(size=(128, 1)).astype(np.float32)
    keras.utils.set_random_seed(0)  # the same initial weights
    scope = distribution.scope() if distribution else keras.name_scope("single")
    with scope:
        model = keras.Sequential([
            keras.Input((8,)), keras.layers.Dense(16), activation, keras.layers.Dense(1),
        ])  # fmt: skip
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
        history = model.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0)
    return history.history["loss"], model


def test_data_parallel_fit_has_the_single_device_loss(keras):
    import jax

    from unielu.layers.keras import ELU

    devices = keras.distribution.list_devices("cpu")
    assert len(devices) >= 2, "two host devices: XLA_FLAGS was not set before JAX was imported"
    data_parallel = keras.distribution.DataParallel(devices=devices[:2])
    losses, model = _fit(keras, ELU(learn_alpha=True), data_parallel)
    single, single_model = _fit(keras, ELU(learn_alpha=True))
    # The batch is split over the devices; the mean's sum then differs in rounding only.
    np.testing.assert_allclose(losses, single, rtol=1e-5)
    assert losses[1] < losses[0]
    # Every weight, the learned alpha included, is replicated on both devices.
    for weight in model.weights:
        sharding = weight.value.sharding
        assert sharding.is_fully_replicated and len(sharding.device_set) == 2, weight.path
    alpha = [w for w in model.weights if w.path.endswith("alpha")]
    single_alpha = [w for w in single_model.weights if w.path.endswith("alpha")]
    assert len(alpha) == 1 and float(alpha[0].numpy()) != 1.0  # learned
    np.testing.assert_allclose(alpha[0].numpy(), single_alpha[0].numpy(), rtol=1e-5)
    assert isinstance(alpha[0].value, jax.Array)


def test_docs_example(keras):
    out = run(EXAMPLES / "keras_data_parallel.py")
    assert "2 devices, 2 epochs" in out, out
