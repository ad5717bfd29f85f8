"""Contract lines of the TensorFlow backend alone: large eager tensors, variables in tf.function."""

from __future__ import annotations

import numpy as np
import pytest
from adapter import FLOATS
from reference import grid, ulp_errors

import unielu

pytestmark = pytest.mark.only("tensorflow", reason="TensorFlow's eager and graph paths")


@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.7])
@pytest.mark.parametrize("func", ["elu", "elu_derivative"])
@pytest.mark.parametrize("dtype", FLOATS)
def test_large_eager_tensors(backend, dtype, func, alpha):
    x = grid(dtype)
    y = backend.past_host_path(getattr(unielu, func), backend.asarray(x, dtype), alpha)
    assert backend.dtype_name(y) == dtype
    errors = ulp_errors(backend.to_numpy(y), func, dtype, alpha, True)
    assert errors.max() <= backend.ulp, errors.max()


def test_variable_inside_tf_function_with_its_gradient(backend):
    tf = backend.tf
    v = tf.Variable([-2.0, -0.0, 3.0])
    f = tf.function(lambda: unielu.elu(v, 1.5))
    with tf.GradientTape() as tape:
        y = f()
    np.testing.assert_allclose(y.numpy(), [1.5 * np.expm1(-2.0), 0.0, 3.0], rtol=1e-6)
    assert np.signbit(y.numpy()[1])
    g = tape.gradient(y, v).numpy()
    np.testing.assert_allclose(g, [1.5 * np.exp(-2.0), 1.5, 1.0], rtol=1e-6)
