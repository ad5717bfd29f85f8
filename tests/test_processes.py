"""Processes and threads (docs/contract.rst, "Processes and threads"): the NumPy
backend's thread pools are safe when many threads make their first large call
at once, and in processes started
after the parent used them (multiprocessing with fork, forkserver or spawn;
PyTorch DataLoader workers): no hang, same values.

These lines are about the NumPy backend, so they take no ``backend`` fixture
and run once. Every wait has a timeout: a regression fails, it does not hang.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

import unielu
from unielu import _threads

#: Seconds any wait may take: a correct run needs well under one.
TIMEOUT = 60
#: Large enough for the threaded path.
N = 2 * _threads.PARALLEL_MIN

# Forking a process that has threads is the very case under test.
pytestmark = [
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning"),  # JAX
]


def _values(seed: int) -> np.ndarray:
    values = np.random.default_rng(seed).normal(0, 3, N)
    values[:4] = [-0.0, 0.0, np.nan, -np.inf]
    return values.astype(np.float32)


def _work(seed: int) -> tuple[np.ndarray, np.ndarray]:
    x = _values(seed)
    return unielu.elu(x, 1.7), unielu.elu_derivative(x, 0.5)


def _same(got: np.ndarray, expected: np.ndarray) -> None:
    assert got.dtype == expected.dtype and got.shape == expected.shape
    # Bitwise: the same kernel must give the same bits, zeros' signs and NaN included.
    np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))


@pytest.fixture
def threaded_parent(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process has used the threaded path: its pool exists and has its workers."""
    # Two threads even on a one-core machine, so that the pool is used.
    monkeypatch.setenv("UNIELU_NUM_THREADS", "2")
    for seed in range(3):  # until the pool has started all its workers
        _work(seed)
    assert _threads._pools, "precondition: the threaded path made a pool"


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_processes_started_after_the_threaded_path(threaded_parent: None, method: str) -> None:
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(reason=f"the start method {method!r} does not exist on this platform")
    seeds = [10, 11, 12, 13]
    with multiprocessing.get_context(method).Pool(2) as pool:
        # A child that inherited a dead pool would wait forever: get() times out instead.
        results = pool.map_async(_work, seeds).get(timeout=TIMEOUT)
    for seed, (y, d) in zip(seeds, results, strict=True):
        expected_y, expected_d = _work(seed)
        _same(y, expected_y)
        _same(d, expected_d)


class _Dataset:
    """A map-style dataset (``__len__``, ``__getitem__``) whose items use the threaded path."""

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> np.ndarray:
        return unielu.elu(_values(20 + i), 1.7)


def test_torch_dataloader_workers_after_the_threaded_path(threaded_parent: None) -> None:
    torch = pytest.importorskip(
        "torch", reason="PyTorch is not installed: the DataLoader line needs it"
    )
    loader = torch.utils.data.DataLoader(
        _Dataset(), batch_size=None, num_workers=2, timeout=TIMEOUT
    )
    got = [item.numpy() for item in loader]  # raises RuntimeError on a timeout
    assert len(got) == 4
    for i, y in enumerate(got):
        _same(y, unielu.elu(_values(20 + i), 1.7))


def test_many_threads_make_their_first_large_call_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[ThreadPoolExecutor] = []

    class CountingPool(ThreadPoolExecutor):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            # Slow to make, so that racing threads would each make one without the lock.
            time.sleep(0.05)
            made.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(_threads, "ThreadPoolExecutor", CountingPool)
    monkeypatch.setattr(_threads, "_pools", {})  # no pool yet: every call is a first
    monkeypatch.setenv("UNIELU_NUM_THREADS", "3")
    callers = 16
    inputs = [_values(30 + i) for i in range(callers)]
    results: list[np.ndarray | None] = [None] * callers
    errors: list[BaseException] = []
    start = threading.Barrier(callers)

    def call(i: int) -> None:
        try:
            start.wait(timeout=TIMEOUT)
            results[i] = unielu.elu(inputs[i], 1.7)
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=call, args=(i,), daemon=True) for i in range(callers)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=TIMEOUT)
        assert not any(t.is_alive() for t in threads), "a call did not finish"
        assert not errors, errors
        assert len(made) == 1, f"{len(made)} thread pools made for one thread count"
    finally:
        for pool in made:
            pool.shutdown(wait=False)
    monkeypatch.undo()  # the one-thread reference below, with the module as it was
    for x, y in zip(inputs, results, strict=True):
        assert y is not None
        _same(y, unielu.elu(x, 1.7))
