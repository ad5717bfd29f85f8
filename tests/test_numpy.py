"""Contract lines of the NumPy backend alone: large arrays, in blocks and over threads."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest
from adapter import FLOATS, _float64
from reference import grid, numpy_dtype, ulp_errors

import unielu
from unielu import _threads

pytestmark = pytest.mark.only("numpy", reason="the NumPy backend's own kernel")

SPECIALS = [np.nan, np.inf, -np.inf, -0.0, 0.0]


@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.7])
@pytest.mark.parametrize("func", ["elu", "elu_derivative"])
@pytest.mark.parametrize("dtype", FLOATS)
def test_large_arrays_blocked_and_threaded(backend, dtype, func, alpha):
    # The grid and the special values, tiled past the sizes where the blocked
    # path and then its threads take over from whole-array ufuncs.
    tile = np.concatenate([grid(dtype), SPECIALS]).astype(numpy_dtype(dtype))
    reps = _threads.PARALLEL_MIN // tile.size + 3
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


def test_one_thread_keeps_this_threads_calls_unsplit(backend, monkeypatch):
    # The Dask backend's blocks run so (docs/backends/dask.rst): this thread alone,
    # other threads unaffected, the same bits.
    monkeypatch.setenv("UNIELU_NUM_THREADS", "2")
    calls: list[int] = []
    executor = _threads._executor
    monkeypatch.setattr(
        _threads, "_executor", lambda threads: calls.append(threads) or executor(threads)
    )
    x = np.random.default_rng(1).normal(0, 3, 2 * _threads.PARALLEL_MIN).astype(np.float32)
    split = unielu.elu(x, 1.7), unielu.elu_derivative(x, 0.5)
    assert calls == [2, 2]
    elsewhere: list[int] = []
    with _threads.one_thread():
        with _threads.one_thread():
            pass
        alone = unielu.elu(x, 1.7), unielu.elu_derivative(x, 0.5)
        other = threading.Thread(target=lambda: elsewhere.append(_threads.num_threads()))
        other.start()
        other.join()
        assert _threads.num_threads() == 1
    assert calls == [2, 2] and elsewhere == [2] and _threads.num_threads() == 2
    for a, b in zip(alone, split, strict=True):
        np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))
