"""Hostile input on TensorFlow (docs/contract.rst, "Hostile input"): the regression
lines that need the framework itself; the fuzz and the rest are in tests/test_hostile.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

import unielu


@pytest.mark.only("tensorflow", reason="tf.function input signatures")
def test_tf_unknown_rank_alpha_that_does_not_broadcast_is_refused(backend):
    import tensorflow as tf

    f = tf.function(lambda v: unielu.elu(v, tf.ones((2, 3))), input_signature=[tf.TensorSpec(None)])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"elu\(\) argument .{0,2}alpha"):
        f(tf.ones(3))
    assert f(tf.ones((4, 2, 3))).shape == (4, 2, 3)
    known = tf.function(lambda v: unielu.elu(v, tf.ones((2, 3))))
    with pytest.raises(ValueError, match=r"argument 'alpha'"):
        known.get_concrete_function(tf.TensorSpec([None]))


@pytest.mark.only("tensorflow", reason="TensorFlow's constant cache")
def test_tf_zero_d_sign_of_zero_does_not_depend_on_earlier_calls(backend):
    import tensorflow as tf

    assert not np.signbit(unielu.elu(tf.constant(np.array(0.0))).numpy())
    assert np.signbit(unielu.elu(tf.constant(np.array(-0.0))).numpy())


@pytest.mark.only("tensorflow", reason="GradientTape")
@pytest.mark.parametrize("array_alpha", [False, True])
def test_tf_rank_nine_under_a_tape(backend, array_alpha):
    import tensorflow as tf

    x = tf.reshape(tf.constant([-1.0, 2.0]), [2] + [1] * 8)
    alpha = tf.constant([1.5]) if array_alpha else 1.5
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = unielu.elu(x, alpha)
    g = tape.gradient(y, x)
    assert y.shape == x.shape == g.shape
    np.testing.assert_allclose(tf.reshape(y, [-1]), [1.5 * math.expm1(-1), 2.0], rtol=1e-6)
    np.testing.assert_allclose(tf.reshape(g, [-1]), [1.5 * math.exp(-1), 1.0], rtol=1e-6)
