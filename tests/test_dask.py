"""Contract lines of the Dask backend alone: laziness, and who splits the work."""

from __future__ import annotations

import numpy as np
import pytest

import unielu
from unielu import _threads
from unielu.backends import numpy as numpy_backend

pytestmark = pytest.mark.only("dask", reason="the Dask backend's laziness and its blocks")


def _refuse_to_compute(*args: object, **kwargs: object) -> None:
    raise AssertionError("something was computed")


@pytest.mark.parametrize("func", ["elu", "elu_derivative"])
def test_nothing_is_computed(backend, func):
    dask, da = backend.dask, backend.da
    values = np.linspace(-3, 3, 12)
    x = da.from_array(values, chunks=4)
    with dask.config.set(scheduler=_refuse_to_compute):
        y = getattr(unielu, func)(x, 1.5)
        assert isinstance(y, da.Array) and y.chunks == x.chunks
    np.testing.assert_array_equal(y.compute(scheduler="sync"), getattr(unielu, func)(values, 1.5))


@pytest.fixture
def pool_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Thread counts asked of the NumPy backend's pools, which get two threads here
    (even on a one-core machine)."""
    monkeypatch.setenv("UNIELU_NUM_THREADS", "2")
    calls: list[int] = []
    executor = _threads._executor

    def recording(threads: int) -> object:
        calls.append(threads)
        return executor(threads)

    monkeypatch.setattr(_threads, "_executor", recording)
    return calls


@pytest.mark.parametrize("kernel", ["compiled", "numpy"])
@pytest.mark.parametrize("alpha", ["1.5", "per column"])
@pytest.mark.parametrize("blocks", [1, 2, 4])
@pytest.mark.parametrize("func", ["elu", "elu_derivative"])
def test_numpy_threads_only_for_fewer_blocks_than_threads(
    backend, pool_calls, monkeypatch, func, blocks, alpha, kernel
):
    # docs/backends/dask.rst: with at least as many blocks as the NumPy backend's
    # threads, Dask's scheduler runs the blocks in parallel and each block runs on
    # its worker thread alone; a single block is still split over the threads.
    if kernel == "numpy":
        monkeypatch.setattr(numpy_backend, "_ufuncs", None)
    elif numpy_backend._ufuncs is None:
        pytest.skip(reason=f"the compiled kernel is not here: {numpy_backend.kernel()}")
    da = backend.da
    rows = 4 * _threads.PARALLEL_MIN // 1024  # every block large enough to be split
    values = np.random.default_rng(0).normal(0, 3, (rows, 1024)).astype(np.float32)
    values[0, :4] = [-0.0, 0.0, np.nan, -np.inf]
    a = 1.5 if alpha == "1.5" else np.linspace(0, 3, 1024, dtype=np.float32)
    x = da.from_array(values, chunks=(rows // blocks, 1024))
    assert x.npartitions == blocks
    got = getattr(unielu, func)(x, a).compute(scheduler="threads")
    in_dask = list(pool_calls)
    expected = getattr(unielu, func)(values, a)  # the whole array, split over the threads
    # The pure-NumPy path computes an array alpha whole, never threaded.
    splits = not (kernel == "numpy" and alpha == "per column")
    assert pool_calls[len(in_dask) :] == ([2] if splits else [])
    assert in_dask == ([2] if blocks == 1 and splits else [])
    np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))


def test_one_thread_does_not_outlive_a_block(backend, pool_calls):
    # The synchronous scheduler runs the blocks on this very thread.
    n = _threads.PARALLEL_MIN  # blocks large enough to be split, were they alone
    x = backend.da.from_array(np.ones(4 * n, np.float32), chunks=n)
    unielu.elu(x, 1.0).compute(scheduler="sync")
    assert pool_calls == [] and _threads.num_threads() == 2
    unielu.elu(x.compute(), 1.0)
    assert pool_calls == [2]
