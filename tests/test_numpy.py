"""Contract lines of the NumPy backend alone: its blocked, threaded kernel."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from backends import FLOATS, _float64
from reference import grid, numpy_dtype, ulp_errors

import unielu
from unielu.backends import numpy as numpy_backend

pytestmark = pytest.mark.only("numpy", reason="the NumPy backend's own kernel")

SPECIALS = [np.nan, np.inf, -np.inf, -0.0, 0.0]


@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.7])
@pytest.mark.parametrize("func", ["elu", "elu_derivative"])
@pytest.mark.parametrize("dtype", FLOATS)
def test_large_arrays_blocked_and_threaded(backend, dtype, func, alpha):
    # The grid and the special values, tiled past the sizes where the blocked
    # kernel and then its threads take over from whole-array ufuncs.
    tile = np.concatenate([grid(dtype), SPECIALS]).astype(numpy_dtype(dtype))
    reps = numpy_backend.PARALLEL_MIN // tile.size + 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning either
        y = getattr(unielu, func)(np.tile(tile, reps), alpha)
    assert y.dtype == tile.dtype
    tiles = _float64(y).reshape(reps, tile.size)
    same = (tiles == tiles[0]) | (np.isnan(tiles) & np.isnan(tiles[0]))
    assert same.all(), "tiles differ"
    first = _float64(y[: tile.size - len(SPECIALS)])
    errors = ulp_errors(first, func, dtype, alpha)
    assert errors.max() <= backend.ulp, errors.max()
    expected = _float64(getattr(unielu, func)(tile[-5:], alpha))
    got = _float64(y[tile.size - 5 : tile.size])
    np.testing.assert_array_equal(got, expected)
    zeros = expected == 0  # the sign of zeros is part of the contract
    assert (np.signbit(got[zeros]) == np.signbit(expected[zeros])).all()
