"""Dask backend: a lazy map over the blocks, nothing computed.

Each block goes back through :func:`unielu.elu`, so NumPy blocks use the
NumPy backend and CuPy blocks the CuPy one. The result's dtype and block
type come from applying the function to the input's (empty) meta array,
which also rejects a bad dtype at once rather than at compute time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dask.array as da
from dask.array.utils import meta_from_array

import unielu

# Read by unielu._dispatch from this source, without importing the module: literals only.
SPEC = {
    "name": "dask",
    "framework": "dask",
    "requirement": "dask[array]",
    "priority": 10,
    "types": ["dask.array:Array"],
    "description": "a Dask array",
}


def _map(func: Callable[..., Any], x: da.Array, alpha: float) -> da.Array:
    meta = meta_from_array(func(x._meta, alpha), ndim=x.ndim)
    return x.map_blocks(func, alpha, dtype=meta.dtype, meta=meta)


def elu(x: da.Array, alpha: float) -> da.Array:
    return _map(unielu.elu, x, alpha)


def elu_derivative(x: da.Array, alpha: float) -> da.Array:
    return _map(unielu.elu_derivative, x, alpha)


def devices() -> list[str]:
    return ["the devices of its blocks"]


def from_numpy(a: Any) -> da.Array:
    return da.from_array(a, chunks=4)


def to_numpy(y: da.Array) -> Any:
    import numpy as np

    return np.asarray(y.compute())
