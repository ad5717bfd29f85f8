"""unielu's Keras layer with keras.distribution.DataParallel (JAX backend),
over two devices made from the host CPU.

Run: python keras_data_parallel.py
"""

import os

os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")

import keras
import numpy as np

from unielu.layers.keras import ELU

devices = keras.distribution.list_devices("cpu")
keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))

# The weights are replicated on every device; each batch is split over them.
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16), ELU(), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
x, y = np.random.default_rng(0).normal(size=(2, 256, 8)).astype(np.float32)
model.fit(x, y[:, :1], epochs=2, batch_size=32, verbose=0)
print(f"{len(devices)} devices, 2 epochs")
