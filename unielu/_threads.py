"""The threads that large NumPy arrays are split over: how many, how split, and
the pools that run them.

NumPy's ufuncs (unielu's compiled ones and NumPy's own) release the GIL, so an
array of :data:`PARALLEL_MIN` elements or more is split over
:func:`num_threads` threads, the calling thread running one piece itself. The
pools are made once per process and per thread count (a forked child makes
its own). Within :func:`one_thread` a thread's calls are not split: the Dask
backend runs its blocks so when Dask already runs them in parallel. The NumPy
backend, the Dask backend and ``unielu bench`` share these.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np

__all__ = [
    "MAX_THREADS", "PARALLEL_MIN", "num_threads", "one_thread", "pieces", "ranges",
    "run_split", "threads_for",
]  # fmt: skip

#: Below this many elements one thread is faster than handing work out: waking
#: an idle thread costs about as much as 2**19 float32 elements of work on a
#: 2-core VM (measured 1.6x slower threaded at 2**18, 0.88x at 10**6).
PARALLEL_MIN = 1 << 20
#: Most threads used by default: between its ufunc calls each thread needs the
#: GIL, and past this many they queue for it (measured slower on 16 cores).
MAX_THREADS = 4


_local = threading.local()


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Within it, this thread's calls run on this thread alone, at any size.

    For callers that already run calls in parallel, one per core (the Dask
    backend's blocks): the pool's threads on top would only compete for the
    same cores. Other threads are not affected; the bits are the same.
    """
    before = getattr(_local, "one_thread", False)
    _local.one_thread = True
    try:
        yield
    finally:
        _local.one_thread = before


def num_threads() -> int:
    """Threads used for large arrays: 1 inside :func:`one_thread`, else
    ``UNIELU_NUM_THREADS``, else the usable cores, at most :data:`MAX_THREADS`."""
    if getattr(_local, "one_thread", False):
        return 1
    env = os.environ.get("UNIELU_NUM_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(
                f"environment variable UNIELU_NUM_THREADS must be a whole number of "
                f"threads, such as 2; got {env!r}"
            ) from None
    affinity = getattr(os, "sched_getaffinity", None)
    cores = len(affinity(0)) if affinity else os.cpu_count() or 1
    return min(cores, MAX_THREADS)


def threads_for(size: int) -> int:
    """Threads for an array of ``size`` elements: 1 below :data:`PARALLEL_MIN`."""
    return num_threads() if size >= PARALLEL_MIN else 1


def ranges(n: int, parts: int) -> list[tuple[int, int]]:
    """``[start, stop)`` of ``parts`` near-equal consecutive pieces of ``range(n)``."""
    bounds = np.linspace(0, n, parts + 1).astype(int).tolist()
    return list(itertools.pairwise(bounds))


def pieces(x: np.ndarray, alpha: Any, out: np.ndarray, threads: int) -> list[Any]:
    """(x, alpha, out) parts that cover x once: flat ranges where x and out are
    contiguous alike, else slabs along x's longest axis."""
    orders: tuple[Literal["C", "F"], ...] = ("C", "F")
    for order in orders:
        if np.ndim(alpha) == 0 and x.flags[order] and out.flags[order]:
            fx, fo = x.ravel(order=order), out.ravel(order=order)
            return [(fx[a:b], alpha, fo[a:b]) for a, b in ranges(x.size, threads)]
    axis = int(np.argmax(x.shape))
    full = np.broadcast_to(alpha, x.shape) if np.ndim(alpha) else alpha
    parts = []
    for a, b in ranges(x.shape[axis], threads):
        index = (slice(None),) * axis + (slice(a, b),)
        parts.append((x[index], full[index] if np.ndim(full) else full, out[index]))
    return parts


# One pool per thread count, made on first use and kept: threads are reused.
_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _executor(threads: int) -> ThreadPoolExecutor:
    pool = _pools.get(threads)
    if pool is None:
        # Locked, so that threads making their first large call at once share one pool.
        with _pools_lock:
            pool = _pools.get(threads)
            if pool is None:
                pool = ThreadPoolExecutor(threads, thread_name_prefix="unielu")
                _pools[threads] = pool
    return pool


def run_split(calls: Sequence[Callable[[], Any]]) -> None:
    """Run the calls at once, one per thread: all but the last on the pool (of
    that many threads, made as needed), the last on this thread, which would
    otherwise only wait: one thread fewer to wake."""
    if len(calls) == 1:
        calls[0]()
        return
    pool = _executor(len(calls))
    jobs = [pool.submit(call) for call in calls[:-1]]
    try:
        calls[-1]()
    finally:
        for job in jobs:  # every job ends before the caller reads out (or sees an error)
            job.result()


def _after_fork_in_child() -> None:
    # A forked child has only the thread that forked. An inherited pool counts
    # its parent's workers as idle and starts none, so a job sent to it would
    # wait forever: forget the pools (the child makes its own), and the lock,
    # which another thread may have held at the fork.
    global _pools_lock
    _pools.clear()
    _pools_lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # not on Windows, which cannot fork
    os.register_at_fork(after_in_child=_after_fork_in_child)
