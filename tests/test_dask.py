"""Contract lines of the Dask backend alone: laziness."""

from __future__ import annotations

import numpy as np
import pytest

import unielu

pytestmark = pytest.mark.only("dask", reason="Dask's laziness")


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
