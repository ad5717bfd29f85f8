"""unielu with TensorFlow's MirroredStrategy, over two logical CPU devices.

Run: python tf_mirrored.py
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import numpy as np
import tensorflow as tf

# Two logical devices from the one CPU, before TensorFlow initializes.
(cpu,) = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import unielu  # noqa: E402
from unielu.layers.keras import ELU  # noqa: E402

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


@tf.function
def step(x):
    # Each replica differentiates unielu.elu of its own batch, on its own device.
    def replica(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(unielu.elu(x, 1.0))
        return tape.gradient(y, x)

    return strategy.run(replica, args=(x,))


data = tf.data.Dataset.from_tensor_slices(np.linspace(-3, 3, 64, dtype=np.float32)).batch(16)
for batch in strategy.experimental_distribute_dataset(data):
    grads = strategy.experimental_local_results(step(batch))

# The Keras layer, with the model's variables mirrored on each device.
with strategy.scope():
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(16), ELU(), keras.layers.Dense(1)]
    )
    model.compile(optimizer="sgd", loss="mse")
x, y = np.random.default_rng(0).normal(size=(2, 256, 8)).astype(np.float32)
model.fit(x, y[:, :1], epochs=2, batch_size=32, verbose=0)
print(f"{strategy.num_replicas_in_sync} replicas, 2 epochs")
