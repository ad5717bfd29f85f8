"""An array alpha is differentiable (docs/contract.rst, "alpha"): d elu / d alpha is
expm1(x) for x <= 0 and 0 for x > 0, d elu_derivative / d alpha is exp(x) for
x <= 0 and 0 for x > 0, summed over the dimensions alpha was broadcast along."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from reference import grid, numpy_dtype, ulp, ulp_errors

DTYPES = ("float32", "float64")
#: function -> its d/d alpha where x <= 0 (0 elsewhere), in float64
D_ALPHA = {"elu": np.expm1, "elu_derivative": np.exp}


def _per_element(x, got, func, dtype, flush):
    """ULP errors of an elementwise d/d alpha, against the exact reference."""
    positive = x > 0
    assert (got[positive] == 0).all(), f"{func}: d/d alpha is 0 where x > 0"
    # There the reference with alpha = 1 is x (elu) or 1 (elu_derivative): put it in,
    # so that the ULP measure covers the x <= 0 part, where d/d alpha is its value.
    filled = got.copy()
    filled[positive] = x[positive] if func == "elu" else 1.0
    return ulp_errors(filled, func, dtype, 1.0, flush)


@pytest.mark.autodiff
@pytest.mark.parametrize("dtype", DTYPES)
def test_alpha_gradient_one_alpha_per_element(backend, dtype):
    x = grid(dtype)
    alpha = backend.asarray(np.full(x.shape, 1.7), dtype)
    routes = backend.alpha_gradients(backend.asarray(x, dtype), alpha)
    for route, grads in routes.items():
        for func, g in zip(("elu", "elu_derivative"), grads, strict=True):
            got = backend.to_numpy(g)
            assert got.shape == x.shape, (route, func)
            errors = _per_element(x, got, func, dtype, backend.flush_subnormals)
            i = int(np.argmax(errors))
            assert errors.max() <= backend.ulp, f"{route}, {func}: {errors[i]:.2f} ULP at {x[i]}"


@pytest.mark.autodiff
@pytest.mark.parametrize("dtype", DTYPES)
def test_alpha_gradient_within_three_ulp_near_zero(backend, dtype):
    # 2,000 random x in [-0.7, -0.001], where XLA's and Eigen's own expm1 (which
    # d elu / d alpha was on JAX, TensorFlow and Keras) are up to 5.7 ULP off.
    rng = np.random.default_rng(11)
    x = -np.exp(rng.uniform(np.log(1e-3), np.log(0.7), 2000)).astype(numpy_dtype(dtype))
    x = x.astype(np.float64)
    alpha = backend.asarray(np.full(x.shape, 1.7), dtype)
    routes = backend.alpha_gradients(backend.asarray(x, dtype), alpha)
    exact = {
        "elu": [mpmath.expm1(v) for v in x.tolist()],
        "elu_derivative": [mpmath.exp(v) for v in x.tolist()],
    }
    for route, grads in routes.items():
        for func, g in zip(("elu", "elu_derivative"), grads, strict=True):
            got = backend.to_numpy(g).astype(np.float64).tolist()
            pairs = zip(got, exact[func], strict=True)
            errors = [float(abs(mpmath.mpf(y) - e) / ulp(e, dtype)) for y, e in pairs]
            i = int(np.argmax(errors))
            assert errors[i] <= 3, f"{route}, {func}: {errors[i]:.2f} ULP at {x[i]!r}"


#: label -> (shape of x, shape of alpha)
SHAPES = {
    "0-d": ((24, 7), ()),
    "per-channel-C": ((24, 7), (7,)),
    "per-channel-1xC": ((24, 7), (1, 7)),
    "per-row-Rx1": ((24, 7), (24, 1)),
    "shape-1": ((24, 7), (1,)),
}


@pytest.mark.autodiff
@pytest.mark.parametrize("shapes", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("dtype", DTYPES)
def test_alpha_gradient_is_reduced_to_alpha_shape(backend, dtype, shapes):
    x_shape, a_shape = shapes
    rng = np.random.default_rng(7)
    x = rng.normal(0, 3, x_shape).astype(numpy_dtype(dtype)).astype(np.float64)
    alpha = backend.asarray(np.full(a_shape, 0.8), dtype)
    routes = backend.alpha_gradients(backend.asarray(x, dtype), alpha)
    # Which elements of x each element of alpha multiplies.
    owner = np.broadcast_to(np.arange(math.prod(a_shape)).reshape(a_shape), x_shape)

    def sums(terms):
        return np.array([math.fsum(terms[owner == i]) for i in range(math.prod(a_shape))]).reshape(
            a_shape
        )

    eps = float(np.finfo(numpy_dtype(dtype)).eps)
    for func, exact in D_ALPHA.items():
        terms = np.where(x > 0, 0.0, exact(np.minimum(x, 0.0)))
        expected = sums(terms)
        # A sum of same-sign terms in the dtype: at most n roundings of eps/2 each.
        bound = x.size * eps * sums(np.abs(terms))
        for route, grads in routes.items():
            got = backend.to_numpy(grads[0 if func == "elu" else 1])
            assert got.shape == a_shape, f"{route}, {func}: shape {got.shape}, not {a_shape}"
            assert (np.abs(got - expected) <= bound).all(), (route, func, got, expected)
