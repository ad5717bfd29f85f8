"""Contract lines of the CuPy backend alone: Dask on CuPy blocks, the current stream."""

from __future__ import annotations

import pytest

import unielu

pytestmark = pytest.mark.only("cupy", reason="CuPy on a GPU")


def test_dask_on_cupy_blocks(backend):
    cp = backend.cp
    da = pytest.importorskip("dask.array", reason="Dask is not installed with CuPy here")
    x = da.from_array(cp.linspace(-3, 3, 12), chunks=4, asarray=False)
    y = unielu.elu(x, 1.5)
    assert isinstance(y._meta, cp.ndarray)
    cp.testing.assert_array_equal(y.compute(), unielu.elu(cp.linspace(-3, 3, 12), 1.5))


def test_runs_on_the_current_stream(backend):
    cp = backend.cp
    s = cp.cuda.Stream(non_blocking=True)
    x = cp.linspace(-3, 3, 1 << 20, dtype=cp.float32)
    with s:
        y = unielu.elu(x)
    s.synchronize()
    cp.testing.assert_allclose(y, cp.where(x > 0, x, cp.expm1(x)), rtol=1e-6)
