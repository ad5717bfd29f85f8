"""Dask at scale: a dask.distributed LocalCluster of two worker processes on
loopback, as docs/at-scale.rst describes. unielu adds one layer of one task per
chunk, computes nothing until asked, broadcasts an array alpha per chunk, and a
worker killed mid-computation changes nothing in the result.

Every wait has a time limit, and the cluster's processes are checked gone at
the end: a hang or a leftover fails.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from multiprocessing import resource_tracker

import numpy as np
import pytest
from at_scale import EXAMPLES, TIMEOUT, run

import unielu

da = pytest.importorskip("dask.array", reason="needs dask (its own session has it)")
distributed = pytest.importorskip(
    "distributed", reason="needs distributed (its own session has it)"
)
psutil = pytest.importorskip(
    "psutil", reason="needs psutil (its own session has it)"
)  # a dependency of distributed

pytestmark = [pytest.mark.distributed, pytest.mark.only("dask", reason="Dask's distributed engine")]

ALPHA = 1.5
FUNCS = ("elu", "elu_derivative")


def _values(shape: tuple[int, ...] = (40, 30)) -> np.ndarray:
    values = np.random.default_rng(0).normal(0, 4, shape).astype(np.float32)
    values.flat[:6] = [-0.0, 0.0, np.nan, -np.inf, -1e-30, 1e-40]  # subnormal included
    return values


def _bits(a: np.ndarray) -> np.ndarray:
    assert a.dtype == np.float32, a.dtype
    return a.view(np.uint32)


@pytest.fixture(scope="module")
def client():
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
        host="127.0.0.1", silence_logs=40, timeout=TIMEOUT,
    )  # fmt: skip
    try:
        with distributed.Client(cluster, timeout=TIMEOUT) as c:
            c.wait_for_workers(2, timeout=TIMEOUT)
            yield c
            # Its worker processes (one restarted after a kill included) and their helpers;
            # not multiprocessing's resource tracker (one per Python process, until it exits).
            tracker = resource_tracker._resource_tracker._pid
            started = [
                p
                for p in psutil.Process().children(recursive=True)
                if p.pid not in before and p.pid != tracker
            ]
            workers = set(c.run(os.getpid).values())
            assert len(workers) == 2 and workers <= {p.pid for p in started}, (workers, started)
    finally:
        cluster.close(timeout=TIMEOUT)
    # No process of the cluster outlives it.
    _, alive = psutil.wait_procs(started, timeout=10)
    described = [(p, p.cmdline()) for p in alive]
    for p in alive:
        p.kill()
    assert not alive, f"processes left running: {described}"


def _scheduler_keys(client, name: str) -> dict[str, str]:
    """The scheduler's tasks of one graph layer, and their states."""

    def keys(dask_scheduler, name=name):
        return {
            str(k): ts.state
            for k, ts in dask_scheduler.tasks.items()
            if isinstance(k, tuple) and k[0] == name
        }

    return client.run_on_scheduler(keys)


@pytest.mark.parametrize("func", FUNCS)
def test_values_equal_numpys_to_the_bit(backend, client, func):
    values = _values()
    x = da.from_array(values, chunks=(10, 15))
    y = getattr(unielu, func)(x, ALPHA)
    got = client.compute(y).result(timeout=TIMEOUT)
    assert isinstance(got, np.ndarray) and got.shape == values.shape
    np.testing.assert_array_equal(_bits(got), _bits(getattr(unielu, func)(values, ALPHA)))


@pytest.mark.parametrize("func", FUNCS)
def test_one_layer_one_task_per_chunk_nothing_computed_before_asked(backend, client, func):
    x = da.from_array(_values(), chunks=(10, 15))
    y = getattr(unielu, func)(x, ALPHA)
    graph = y.__dask_graph__()
    layers = dict(graph.layers)
    assert set(layers) == {x.name, y.name}, list(layers)
    assert len(layers[y.name]) == x.npartitions == 8
    assert len(dict(graph)) == 2 * x.npartitions
    assert y.chunks == x.chunks
    # Building the graph sent nothing to the cluster.
    assert _scheduler_keys(client, y.name) == {}
    persisted = client.persist(y)
    distributed.wait(persisted, timeout=TIMEOUT)
    states = _scheduler_keys(client, y.name)
    assert len(states) == x.npartitions and set(states.values()) == {"memory"}, states
    expected = getattr(unielu, func)(_values(), ALPHA)
    got = persisted.compute()
    np.testing.assert_array_equal(_bits(got), _bits(expected))
    del persisted


@pytest.mark.parametrize("kind", ["numpy", "dask"])
@pytest.mark.parametrize("func", FUNCS)
def test_array_alpha_is_broadcast_per_chunk(backend, client, func, kind):
    values = _values()
    alpha = np.linspace(0.0, 3.0, values.shape[1], dtype=np.float32)  # one per column
    x = da.from_array(values, chunks=(10, 15))
    y = getattr(unielu, func)(x, alpha if kind == "numpy" else da.from_array(alpha, chunks=7))
    # One task per chunk of x, each given the alpha block of its columns.
    assert len(y.__dask_graph__().layers[y.name]) == x.npartitions
    assert y.chunks == x.chunks
    got = client.compute(y).result(timeout=TIMEOUT)
    np.testing.assert_array_equal(_bits(got), _bits(getattr(unielu, func)(values, alpha)))


def _gate(block: np.ndarray, queue: str, event: str) -> np.ndarray:
    """Says which worker runs it, then waits for the test to let it go."""
    worker = distributed.get_worker()
    distributed.Queue(queue).put(worker.address)
    if not distributed.Event(event).wait(timeout=TIMEOUT):
        raise TimeoutError("the test never let the gate go")
    return block


@pytest.mark.parametrize("func", FUNCS)
def test_a_worker_killed_mid_computation_changes_nothing(backend, client, func):
    values = _values((64, 16))
    x = da.from_array(values, chunks=(16, 16))
    y = getattr(unielu, func)(x, ALPHA)
    tag = uuid.uuid4().hex
    z = y.map_blocks(_gate, f"started-{tag}", f"go-{tag}", dtype=y.dtype)
    pids = client.run(os.getpid)
    go = distributed.Event(f"go-{tag}", client=client)
    # Unfused, so that unielu's blocks are tasks of their own, held in workers' memory.
    future = client.compute(z, optimize_graph=False)
    try:
        # A worker is in the middle: it holds unielu's result of a chunk and runs its gate.
        victim = distributed.Queue(f"started-{tag}", client=client).get(timeout=TIMEOUT)
        held = [k for k, w in client.who_has().items() if victim in w and k[0] == y.name]
        assert held, "the worker running a gate holds the unielu block it reads"
        os.kill(pids[victim], signal.SIGKILL)
        deadline = time.monotonic() + TIMEOUT
        while victim in client.scheduler_info()["workers"]:
            assert time.monotonic() < deadline, "the scheduler never saw the worker die"
            time.sleep(0.05)
    finally:
        go.set()
    got = future.result(timeout=TIMEOUT)
    np.testing.assert_array_equal(_bits(got), _bits(getattr(unielu, func)(values, ALPHA)))

    # The lost unielu blocks were computed again, elsewhere.
    def memory_transitions(dask_scheduler, key=held[0]):
        return sum(1 for event in dask_scheduler.story(key) if event[2] == "memory")

    assert client.run_on_scheduler(memory_transitions) >= 2
    del future
    client.wait_for_workers(2, timeout=TIMEOUT)  # the nanny restarts the killed worker


def test_cupy_chunks_use_the_cupy_kernel_per_chunk(backend, client):
    cupy = pytest.importorskip("cupy", reason="Dask arrays of CuPy chunks need CuPy and a GPU")
    if cupy.cuda.runtime.getDeviceCount() == 0:
        pytest.skip(reason="Dask arrays of CuPy chunks need a CUDA device; this machine has none")
    values = cupy.asarray(_values())
    x = da.from_array(values, chunks=(10, 15), asarray=False)
    y = unielu.elu(x, ALPHA)
    assert isinstance(y._meta, cupy.ndarray)
    got = client.compute(y).result(timeout=TIMEOUT)
    assert isinstance(got, cupy.ndarray)
    expected = unielu.elu(values, ALPHA)  # the CuPy kernel on the whole array
    np.testing.assert_array_equal(
        cupy.asnumpy(got).view(np.uint32), cupy.asnumpy(expected).view(np.uint32)
    )


def test_docs_example(backend):
    out = run(EXAMPLES / "dask_cluster.py")
    assert "equal to NumPy's: True" in out, out
