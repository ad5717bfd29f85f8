"""TensorFlow at scale: MirroredStrategy over two logical CPU devices, as
docs/at-scale.rst describes. Per-replica values and gradients of unielu.elu,
eagerly and in a tf.function step with strategy.run, and the Keras layer
trained with model.fit under strategy.scope().

Logical devices must be set before TensorFlow initializes: the strategy runs in
a process of its own (tests/at_scale/tf_mirrored.py), once for the module,
under a hard time limit.
"""

from __future__ import annotations

import pytest
from at_scale import EXAMPLES, HERE, run, run_json

from unielu._registry import get_spec

pytest.importorskip("tensorflow", reason="needs tensorflow (its own session has it)")

pytestmark = [
    pytest.mark.distributed,
    pytest.mark.only("tensorflow", reason="TensorFlow's distribution strategies"),
]


@pytest.fixture(scope="module")
def found():
    found = run_json(HERE / "tf_mirrored.py")
    assert found["devices"] == [f"/job:localhost/replica:0/task:0/device:CPU:{i}" for i in (0, 1)]
    return found


@pytest.mark.parametrize("step", ["eager", "tf_function"])
def test_per_replica_values_and_gradients(backend, found, step):
    ulp = get_spec("tensorflow").ulp  # the contract's bound, on every route
    replicas = found[step]["replicas"]
    assert found[step]["in_sync"] == len(replicas) == 2
    for i, row in enumerate(replicas):
        for key in ("elu_ulp", "elu_derivative_ulp", "grad_x_ulp", "learned_elu_ulp"):
            assert row[key] <= ulp, (i, key, row)
        # The learned alpha (a MirroredVariable): its per-replica gradient is that
        # replica's sum of expm1(x) over x <= 0.
        assert row["grad_alpha_error"] <= 1e-6, (i, row)


@pytest.mark.parametrize("step", ["eager", "tf_function"])
def test_each_replica_computes_where_its_shard_lives(backend, found, step):
    for i, row in enumerate(found[step]["replicas"]):
        # Where TensorFlow puts its own elementwise op of that replica's shard.
        assert row["devices"] == [row["control_device"]], (i, row)
        if step == "eager":
            assert row["input_device"].endswith(f"CPU:{i}"), (i, row)
            assert row["devices"] == [row["input_device"]], (i, row)


def test_keras_layer_trains_as_keras_elu(backend, found):
    keras = found["keras"]
    assert keras["epochs"] == 2
    # Keras's ELU computes exp(x) - 1, off by up to about one float32 ULP of 1 near 0
    # (docs/differences.rst); through two epochs that stays far below 1e-5.
    assert keras["max_loss_rel_diff"] <= 1e-5, keras
    assert keras["max_weight_diff"] <= 1e-5, keras
    assert keras["losses"][0][1] < keras["losses"][0][0], keras  # it trains


def test_docs_example(backend):
    out = run(EXAMPLES / "tf_mirrored.py")
    assert "2 replicas, 2 epochs" in out, out
