"""TensorFlow's MirroredStrategy over two logical CPUs, with unielu. Run by
tests/test_tensorflow_distributed.py; prints one JSON line.

The logical devices must be configured before TensorFlow initializes, hence a
process of its own.
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np
import tensorflow as tf

(cpu,) = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import unielu  # noqa: E402

REPLICAS = 2
ALPHA = 1.5


def _ulp(got, func: str, shard: np.ndarray) -> float:
    """The largest error of a float32 result, in float32 ULP of unielu's float64 values."""
    got = np.asarray(got)
    assert got.dtype == np.float32 and got.shape == shard.shape, (got.dtype, got.shape)
    exact = getattr(unielu, func)(shard.astype(np.float64), ALPHA)
    spacing = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    return float(np.max(np.abs(got.astype(np.float64) - exact) / spacing))


def _values() -> np.ndarray:
    values = np.linspace(-20.0, 3.0, 32, dtype=np.float32).reshape(8, 4)
    values[0] = [-0.0, 0.0, -1e-30, 1e-30]
    return values


def per_replica_checks(strategy, compiled: bool) -> dict:
    values = _values()
    shards = np.split(values, REPLICAS)
    devices = strategy.extended.worker_devices

    def shard_of(ctx):
        with tf.device(devices[ctx.replica_id_in_sync_group]):  # each shard on its device
            return tf.identity(shards[ctx.replica_id_in_sync_group])

    x = strategy.experimental_distribute_values_from_function(shard_of)
    with strategy.scope():
        alpha = tf.Variable(ALPHA, dtype=tf.float32)  # a MirroredVariable: a learned alpha

    def replica_step(x):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = unielu.elu(x, ALPHA)
            learned = unielu.elu(x, alpha)
            total = tf.reduce_sum(learned)
        d = unielu.elu_derivative(x, ALPHA)
        grad_x = tape.gradient(y, x)
        grad_alpha = tape.gradient(total, alpha)
        # TensorFlow's own elementwise op in the same step: where TensorFlow places it.
        return y, d, grad_x, learned, grad_alpha, tf.nn.relu(x)

    def step(x):
        return strategy.run(replica_step, args=(x,))

    results = [
        strategy.experimental_local_results(r) for r in (tf.function(step) if compiled else step)(x)
    ]
    found = []
    for i, shard in enumerate(shards):
        y, d, grad_x, learned, grad_alpha, control = (r[i] for r in results)
        expected_grad_alpha = np.where(shard > 0, 0, np.expm1(shard.astype(np.float64))).sum()
        found.append(
            {
                "input_device": strategy.experimental_local_results(x)[i].device,
                "devices": sorted({t.device for t in (y, d, grad_x, learned)}),
                "control_device": control.device,
                "elu_ulp": _ulp(y, "elu", shard),
                "elu_derivative_ulp": _ulp(d, "elu_derivative", shard),
                "grad_x_ulp": _ulp(grad_x, "elu_derivative", shard),
                "learned_elu_ulp": _ulp(learned, "elu", shard),
                "grad_alpha_error": float(
                    abs(float(grad_alpha) - expected_grad_alpha) / abs(expected_grad_alpha)
                ),
            }
        )
    return {"replicas": found, "in_sync": strategy.num_replicas_in_sync}


def keras_checks(strategy) -> dict:
    import keras

    from unielu.layers.keras import ELU

    rng = np.random.default_rng(0)
    data = (3 * rng.normal(size=(256, 8))).astype(np.float32)
    target = rng.normal(size=(256, 1)).astype(np.float32)

    def fit(activation):
        keras.utils.set_random_seed(0)  # the same initial weights for both models
        with strategy.scope():
            model = keras.Sequential([
                keras.Input((8,)), keras.layers.Dense(16), activation(),
                keras.layers.Dense(16), activation(), keras.layers.Dense(1),
            ])  # fmt: skip
            model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
        history = model.fit(data, target, epochs=2, batch_size=32, shuffle=False, verbose=0)
        return history.history["loss"], model.get_weights()

    ours_loss, ours = fit(lambda: ELU(1.0))
    theirs_loss, theirs = fit(lambda: keras.layers.ELU(1.0))
    return {
        "epochs": len(ours_loss),
        "losses": [ours_loss, theirs_loss],
        "max_loss_rel_diff": max(
            abs(a - b) / abs(b) for a, b in zip(ours_loss, theirs_loss, strict=True)
        ),
        "max_weight_diff": max(
            float(np.max(np.abs(a - b))) for a, b in zip(ours, theirs, strict=True)
        ),
    }


if __name__ == "__main__":
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    print(json.dumps({
        "devices": list(strategy.extended.worker_devices),
        "eager": per_replica_checks(strategy, compiled=False),
        "tf_function": per_replica_checks(strategy, compiled=True),
        "keras": keras_checks(strategy),
    }))  # fmt: skip
