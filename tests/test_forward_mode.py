"""Forward-mode autodiff (docs/contract.rst, "Gradients"): the tangent of elu along ones,
by every forward-mode route of the backend, equals elu_derivative."""

from __future__ import annotations

import numpy as np
import pytest
from reference import ALPHAS, grid, ulp_errors

NAN, INF = float("nan"), float("inf")
DTYPES = ("float16", "bfloat16", "float32", "float64")


def _worst(errors, x):
    i = int(np.argmax(errors))
    return f"worst {errors[i]:.2f} ULP at x={x[i]!r}"


@pytest.mark.autodiff
@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_mode_equals_the_derivative(backend, dtype, alpha):
    x = grid(dtype)
    routes = backend.forward_mode(backend.asarray(x, dtype), alpha)
    assert routes, "every autodiff backend has a forward-mode route"
    for route, tangent in routes.items():
        assert backend.dtype_name(tangent) == dtype, route
        got = backend.to_numpy(tangent)
        errors = ulp_errors(got, "elu_derivative", dtype, alpha, backend.flush_subnormals)
        assert errors.max() <= backend.ulp, f"{route}: {_worst(errors, x)}"


@pytest.mark.autodiff
@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.7])
@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_mode_special_points(backend, dtype, alpha):
    values = np.array([0.0, -0.0, NAN, -30.0, INF, -INF, 2.0])
    routes = backend.forward_mode(backend.asarray(values, dtype), alpha)
    half = dtype in ("float16", "bfloat16")
    a = float(np.asarray(alpha, np.float32 if half else dtype))
    for route, tangent in routes.items():
        t = backend.to_numpy(tangent)
        assert t[0] == t[1] == pytest.approx(a, rel=2**-7 if half else 0), f"{route}: at 0"
        assert np.isnan(t[2]), f"{route}: the tangent at NaN is NaN"
        # alpha * exp(-30), not 0: a gradient computed as y + 1 would give 0.
        expected = alpha * np.exp(-30.0)
        if dtype == "float16" or alpha == 0:  # below float16's subnormals: flushed to 0
            assert t[3] == pytest.approx(expected, abs=2.0**-24), route
        else:
            assert t[3] == pytest.approx(expected, rel=2**-6 if half else 1e-6), route
        assert t[4] == 1 and t[5] == 0 and t[6] == 1, route
