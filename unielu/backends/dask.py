"""Dask backend: a lazy map over the blocks, nothing computed.

Each block goes back through :func:`unielu.elu`, so NumPy blocks use the
NumPy backend and CuPy blocks the CuPy one. Where the array has at least as
many blocks as the NumPy backend has threads, Dask's scheduler already keeps
the cores busy with blocks, so each block runs on its worker's thread alone
(:func:`unielu._threads.one_thread`) rather than split again over the
NumPy backend's pool; one big block is still split. The result's dtype and block
type come from applying the function to the input's (empty) meta array,
which also rejects a bad dtype at once rather than at compute time. An
array ``alpha`` (Dask or NumPy) is split into blocks that match ``x``'s, so
the result keeps ``x``'s chunks.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable
from typing import Any

import dask.array as da
import numpy as np
from dask.array.utils import meta_from_array

import unielu
from unielu._checks import alpha_type_error, check_alpha_shape, is_alpha_dtype
from unielu._threads import num_threads, one_thread

# Read by unielu._registry from this source, without importing the module: literals only.
SPEC = {
    "name": "dask",
    "framework": "dask",
    "requirement": "dask[array]>=2024.1.1",
    "priority": 10,
    "types": ["dask.array:Array"],
    "description": "a Dask array",
    # distributed: the tests on a LocalCluster (tests/test_dask_distributed.py)
    # (distributed follows the dask release it is installed with)
    "test_requirements": ["dask[array]>=2024.1.1", "distributed"],
    "newest_tested": "dask 2026.8.0",
}


def _alpha_blocks(alpha: Any, x: da.Array, func: str) -> da.Array:
    """A checked array ``alpha`` as a Dask array chunked like the dimensions of x it spans."""
    if not isinstance(alpha, (da.Array, np.ndarray)) or not is_alpha_dtype(alpha.dtype):
        raise alpha_type_error(func, alpha, "a Dask or NumPy array")
    check_alpha_shape(alpha.shape, x.shape, func)
    lead = x.ndim - alpha.ndim
    # A dimension of length 1 broadcasts as one block; the others take x's chunks.
    chunks = tuple((1,) if size == 1 else x.chunks[lead + i] for i, size in enumerate(alpha.shape))
    if isinstance(alpha, np.ndarray):
        blocks = da.from_array(alpha, chunks=chunks)
    else:
        blocks = alpha.rechunk(chunks)
    meta = x._meta
    if not isinstance(meta, np.ndarray) and isinstance(blocks._meta, np.ndarray):
        # NumPy alpha with blocks of another kind (CuPy): its blocks become that kind.
        like = functools.partial(np.asarray, like=meta)
        blocks = blocks.map_blocks(like, dtype=blocks.dtype, meta=like(blocks._meta))
    return blocks


def _block(func: Callable[..., Any], blocks: int, x: Any, alpha: Any) -> Any:
    """One block through unielu's dispatch; on this thread alone when the array
    has at least as many blocks as the NumPy backend has threads (read where the
    block runs: that machine's cores and ``UNIELU_NUM_THREADS``). Module-level,
    so that the graph pickles for dask.distributed."""
    if blocks >= num_threads():
        with one_thread():
            return func(x, alpha)
    return func(x, alpha)


def _map(func: Callable[..., Any], x: da.Array, alpha: Any, name: str) -> da.Array:
    # The dtype does not depend on alpha; a number alpha too large for the
    # compute dtype is refused here, not when the graph is computed.
    meta = meta_from_array(func(x._meta, alpha if type(alpha) is float else 1.0), ndim=x.ndim)
    # The result has x's blocks, one task each; the keys are named after func.
    block = functools.partial(_block, func, x.npartitions)
    if type(alpha) is float:
        return x.map_blocks(block, alpha, dtype=meta.dtype, meta=meta, token=name)
    blocks = _alpha_blocks(alpha, x, name)
    index = string.ascii_letters[: x.ndim]
    return da.blockwise(
        block, index, x, index, blocks, index[x.ndim - blocks.ndim :],
        dtype=meta.dtype, meta=meta, token=name,
    )  # fmt: skip


def elu(x: da.Array, alpha: Any) -> da.Array:
    return _map(unielu.elu, x, alpha, "elu")


def elu_derivative(x: da.Array, alpha: Any) -> da.Array:
    return _map(unielu.elu_derivative, x, alpha, "elu_derivative")


def devices() -> list[str]:
    return ["the devices of its blocks"]


def from_numpy(a: Any) -> da.Array:
    # About four blocks per axis: chunked as a user's array is, with a task graph
    # that stays small at any size (unielu plot's grid, unielu bench's arrays).
    a = np.asarray(a)
    return da.from_array(a, chunks=tuple(max(1, -(-n // 4)) for n in a.shape))


def to_numpy(y: da.Array) -> Any:
    return np.asarray(y.compute())
