"""Benchmarks: unielu against each framework's own ELU, side by side.

The two contenders of a comparison run interleaved, in alternating order,
on the same input; each sample times enough calls to last a few
milliseconds. Reported: the median time per call of each and the median of
the per-pair ratios, which cancels most of the drift of a shared machine.
"""

from __future__ import annotations

import gc
import json
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

import unielu
from unielu._registry import get_spec, registry
from unielu.backends.numpy import kernel as numpy_kernel
from unielu.backends.numpy import num_threads

FULL = {"sizes": (16, 10**3, 10**5, 10**7), "dtypes": ("float32", "float64"), "alphas": (1.0, 1.7)}
QUICK = {"sizes": (16, 10**5, 10**6), "dtypes": ("float32",), "alphas": (1.0,)}


@dataclass
class Row:
    case: str  # stable id of the comparison (benchmarks/targets.py refers to it)
    backend: str
    baseline: str
    size: int
    dtype: str
    alpha: float
    unielu_ns: float  # median ns per call
    baseline_ns: float
    ratio: float  # median of per-pair unielu/baseline: < 1 means unielu is faster
    samples: int


def _calls_for(func: Callable[[], Any], budget: float = 2e-3) -> int:
    """How many calls make one sample last about ``budget`` seconds."""
    start = time.perf_counter()
    func()
    once = max(time.perf_counter() - start, 1e-7)
    return max(1, min(10_000, int(budget / once)))


def _sample(func: Callable[[], Any], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        func()
    return (time.perf_counter() - start) / calls


def compare(
    ours: Callable[[], Any], theirs: Callable[[], Any], samples: int
) -> tuple[float, float, float]:
    """(median s per call of ours, of theirs, median per-pair ratio), interleaved."""
    ours(), theirs()  # warm up: compilation, caches, thread pools
    calls = min(_calls_for(ours), _calls_for(theirs))
    a, b, ratios = [], [], []
    gc.disable()
    try:
        for i in range(samples):
            if i % 2:
                tb, ta = _sample(theirs, calls), _sample(ours, calls)
            else:
                ta, tb = _sample(ours, calls), _sample(theirs, calls)
            a.append(ta)
            b.append(tb)
            ratios.append(ta / tb)
    finally:
        gc.enable()
    return statistics.median(a), statistics.median(b), statistics.median(ratios)


def _data(n: int, dtype: str) -> np.ndarray:
    # Random signs: both branches, unpredictable, as activations are.
    return np.random.default_rng(0).normal(0, 2, n).astype(dtype)


def _numpy_cases(
    x: np.ndarray, alpha: float
) -> Iterable[tuple[str, str, Callable[[], Any], Callable[[], Any]]]:
    def plain() -> Any:
        return np.where(x > 0, x, alpha * (np.exp(x) - 1))

    out = np.empty_like(x)
    yield (
        "numpy.plain",
        "plain formula np.where(x > 0, x, alpha*(exp(x) - 1))",
        lambda: unielu.elu(x, alpha),
        plain,
    )
    yield "numpy.copy", "x.copy() (bandwidth, allocating)", lambda: unielu.elu(x, alpha), x.copy
    yield (
        "numpy.copyto",
        "np.copyto (memory bandwidth)",
        lambda: unielu.elu(x, alpha),
        lambda: np.copyto(out, x),
    )
    # The same copy against elu writing into memory it has written before: no
    # allocation, no first-touch page faults.
    ours = np.empty_like(x)
    yield (
        "numpy.copyto-out",
        "np.copyto, with a preallocated out",
        lambda: unielu.elu(x, alpha, out=ours),
        lambda: np.copyto(out, x),
    )
    derivative_out = np.empty_like(x)
    yield (
        "numpy.derivative-copyto-out",
        "np.copyto; elu_derivative with a preallocated out",
        lambda: unielu.elu_derivative(x, alpha, out=derivative_out),
        lambda: np.copyto(out, x),
    )
    if x.size >= 10**5:
        fastest = _fastest_framework_elu(x, alpha)
        if fastest is not None:
            name, theirs = fastest
            yield (
                "numpy.fastest-framework",
                f"fastest framework ELU here: {name}",
                lambda: unielu.elu(x, alpha),
                theirs,
            )
    if get_spec("torch").installed():
        import torch

        t = torch.from_numpy(x)
        yield (
            "numpy.torch",
            "torch F.elu on the same data",
            lambda: unielu.elu(x, alpha),
            lambda: torch.nn.functional.elu(t, alpha),
        )


def _fastest_framework_elu(x: np.ndarray, alpha: float) -> tuple[str, Callable[[], Any]] | None:
    """The fastest of F.elu, tf.nn.elu and jax.nn.elu (jitted) on x, by a short timing."""
    contenders: dict[str, Callable[[], Any]] = {}
    if get_spec("torch").installed():
        import torch

        t = torch.from_numpy(x)
        contenders["torch F.elu"] = lambda: torch.nn.functional.elu(t, alpha)
    if get_spec("tensorflow").installed() and alpha == 1.0:  # tf.nn.elu has no alpha
        import tensorflow as tf

        tx = tf.constant(x)
        contenders["tf.nn.elu"] = lambda: tf.nn.elu(tx).numpy()
    if get_spec("jax").installed():
        import jax
        import jax.numpy as jnp

        j = jnp.asarray(x)
        if j.dtype == x.dtype:
            native = jax.jit(jax.nn.elu)
            contenders["jax.nn.elu"] = lambda: native(j, alpha).block_until_ready()
    if not contenders:
        return None
    times = {}
    for name, func in contenders.items():
        func()  # warm up: compilation
        calls = _calls_for(func)
        times[name] = min(_sample(func, calls) for _ in range(5))
    best = min(times, key=times.__getitem__)
    return best, contenders[best]


def _dask_cases(
    x: np.ndarray, alpha: float
) -> Iterable[tuple[str, str, Callable[[], Any], Callable[[], Any]]]:
    import dask.array as da

    if x.size < 10**4:
        return
    d = da.from_array(x, chunks=x.size // 10)
    yield (
        "dask.where",
        "da.where(x > 0, x, alpha*da.expm1(x)), 10 chunks, .compute()",
        lambda: unielu.elu(d, alpha).compute(),
        lambda: da.where(d > 0, d, alpha * da.expm1(d)).compute(),
    )


def _torch_cases(
    x: np.ndarray, alpha: float
) -> Iterable[tuple[str, str, Callable[[], Any], Callable[[], Any]]]:
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(x)
    yield "torch.F.elu", "F.elu", lambda: unielu.elu(t, alpha), lambda: F.elu(t, alpha)


def _tensorflow_cases(
    x: np.ndarray, alpha: float
) -> Iterable[tuple[str, str, Callable[[], Any], Callable[[], Any]]]:
    import tensorflow as tf

    t = tf.constant(x)
    if alpha == 1.0:  # tf.nn.elu has no alpha
        yield (
            "tensorflow.tf.nn.elu",
            "tf.nn.elu",
            lambda: unielu.elu(t, alpha).numpy(),
            lambda: tf.nn.elu(t).numpy(),
        )
        # Steady state of a user's own tf.function (traced and compiled in the warm-up).
        user = tf.function(lambda v: unielu.elu(v, alpha))
        native = tf.function(lambda v: tf.nn.elu(v))
        yield (
            "tensorflow.in-tf.function",
            "tf.nn.elu, both in a user's tf.function",
            lambda: user(t).numpy(),
            lambda: native(t).numpy(),
        )


def _jax_cases(
    x: np.ndarray, alpha: float
) -> Iterable[tuple[str, str, Callable[[], Any], Callable[[], Any]]]:
    import jax
    import jax.numpy as jnp

    j = jnp.asarray(x)
    if j.dtype != x.dtype:  # float64 without x64
        return
    native = jax.jit(jax.nn.elu)
    yield (
        "jax.jax.nn.elu",
        "jax.nn.elu (jitted)",
        lambda: unielu.elu(j, alpha).block_until_ready(),
        lambda: native(j, alpha).block_until_ready(),
    )


def _distinct_alphas(calls: int) -> Callable[[], list[float]]:
    """Each call: ``calls`` alpha values never used before (nothing cached can serve them)."""
    count = iter(range(1, 1 << 30))
    return lambda: [1.0 + next(count) * 1e-6 for _ in range(calls)]


def _tensorflow_workloads(
    repeats: int,
) -> Iterable[tuple[str, str, int, Callable[[], Any], Callable[[], Any]]]:
    import tensorflow as tf

    # 30 calls, each with an alpha never seen before (tf.nn.elu has none: alpha 1).
    t = tf.constant(_data(200_000, "float32"))
    fresh = _distinct_alphas(30)
    yield (
        "tensorflow.30-alphas",
        "tf.nn.elu, 30 calls; unielu with 30 new alphas (total)",
        200_000,
        lambda: [unielu.elu(t, a) for a in fresh()][-1].numpy(),
        lambda: [tf.nn.elu(t) for _ in range(30)][-1].numpy(),
    )
    # 40 eager calls, each on a shape never seen before, 70,000-110,000 elements.
    rng = np.random.default_rng(1)
    sizes = iter(rng.permutation(np.arange(70_000, 110_001))[: 40 * repeats].tolist())
    batches = [
        [tf.constant(_data(next(sizes), "float32")) for _ in range(40)] for _ in range(repeats)
    ]
    ours, theirs = iter(batches), iter(batches)
    yield (
        "tensorflow.40-shapes",
        "tf.nn.elu, 40 calls on 40 new shapes (total)",
        110_000,
        lambda: [unielu.elu(v, 1.0) for v in next(ours)][-1].numpy(),
        lambda: [tf.nn.elu(v) for v in next(theirs)][-1].numpy(),
    )


def _jax_workloads(
    repeats: int,
) -> Iterable[tuple[str, str, int, Callable[[], Any], Callable[[], Any]]]:
    import jax
    import jax.numpy as jnp

    j = jnp.asarray(_data(200_000, "float32"))
    native = jax.jit(jax.nn.elu)
    fresh, same = _distinct_alphas(30), _distinct_alphas(30)
    yield (
        "jax.30-alphas",
        "jax.nn.elu (jitted), 30 calls with 30 new alphas (total)",
        200_000,
        lambda: [unielu.elu(j, a) for a in fresh()][-1].block_until_ready(),
        lambda: [native(j, a) for a in same()][-1].block_until_ready(),
    )


Workload = Callable[[int], Iterable[tuple[str, str, int, Callable[[], Any], Callable[[], Any]]]]

#: Sequences of calls timed as a whole, once per backend, outside the size grid.
WORKLOADS: dict[str, Workload] = {"tensorflow": _tensorflow_workloads, "jax": _jax_workloads}


#: Backend -> its comparisons against the framework's own ELU, each with a stable id.
CASES = {
    "numpy": _numpy_cases,
    "torch": _torch_cases,
    "tensorflow": _tensorflow_cases,
    "jax": _jax_cases,
    "dask": _dask_cases,
}


def run_timings(
    backends: Sequence[str],
    settings: dict[str, Any],
    samples: int,
    progress: Callable[[Iterable[Any]], Iterable[Any]],
) -> list[Row]:
    grid = [
        (b, n, d, a)
        for b in backends
        for n in settings["sizes"]
        for d in settings["dtypes"]
        for a in settings["alphas"]
    ]
    rows = []
    for backend, n, dtype, alpha in progress(grid):
        x = _data(n, dtype)
        for case, baseline, ours, theirs in CASES[backend](x, alpha):
            a, b, ratio = compare(ours, theirs, samples)
            row = Row(case, backend, baseline, n, dtype, alpha, a * 1e9, b * 1e9, ratio, samples)
            rows.append(row)
    for backend in backends:
        # compare() calls each side samples + 2 times, each call a sequence of fresh inputs.
        workload = WORKLOADS.get(backend)
        for case, baseline, n, ours, theirs in workload(samples + 2) if workload else ():
            a, b, ratio = compare(ours, theirs, samples)
            row = Row(case, backend, baseline, n, "float32", 1.0, a * 1e9, b * 1e9, ratio, samples)
            rows.append(row)
    return rows


def numpy_peak_memory(n: int = 10**7) -> dict[str, float]:
    """Peak bytes allocated by unielu.elu on n float32 elements, beyond its output."""
    x = _data(n, "float32")
    unielu.elu(x[:1000])  # thread pool and imports outside the measurement
    tracemalloc.start()
    tracemalloc.reset_peak()
    y = unielu.elu(x)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "elements": n,
        "output_mib": y.nbytes / 2**20,
        "peak_mib": peak / 2**20,
        "extra_mib": (peak - y.nbytes) / 2**20,
    }


def import_times(samples: int = 15) -> dict[str, float]:
    """Median wall time of `python -c 'import unielu'` and of 'import numpy', interleaved."""

    def once(module: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
        return time.perf_counter() - start

    ours, theirs, ratios = [], [], []
    for _ in range(samples):
        a, b = once("unielu"), once("numpy")
        ours.append(a)
        theirs.append(b)
        ratios.append(a / b)
    return {
        "unielu_s": statistics.median(ours),
        "numpy_s": statistics.median(theirs),
        "ratio": statistics.median(ratios),
    }


def dispatch_overhead(samples: int = 15) -> dict[str, float]:
    """ns per call of unielu's public layer (dispatch and alpha check): unielu.elu
    against the NumPy backend called directly; and of array_api_compat.array_namespace."""
    from array_api_compat import array_namespace

    from unielu.backends import numpy as _numpy

    x = np.ones(16, dtype=np.float32)
    public, direct, _ = compare(lambda: unielu.elu(x, 1.0), lambda: _numpy.elu(x, 1.0), samples)
    namespace, _, _ = compare(lambda: array_namespace(x), lambda: None, samples)
    return {"unielu_ns": (public - direct) * 1e9, "array_namespace_ns": namespace * 1e9}


def format_table(rows: list[Row]) -> str:
    lines = [
        f"{'backend':<11} {'against':<52} {'size':>9} {'dtype':<8} {'alpha':>5} "
        f"{'unielu':>11} {'baseline':>11} {'ratio':>7}"
    ]
    for r in rows:
        lines.append(
            f"{r.backend:<11} {r.baseline[:52]:<52} {r.size:>9.0e} {r.dtype:<8} {r.alpha:>5g} "
            f"{format_time(r.unielu_ns):>11} {format_time(r.baseline_ns):>11} {r.ratio:>7.2f}"
        )
    return "\n".join(lines)


def format_time(ns: float) -> str:
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def _progress(items: Iterable[Any]) -> Iterable[Any]:
    try:
        from tqdm import tqdm
    except ImportError:
        return items
    bar: Iterable[Any] = tqdm(items, desc="benchmarking", unit="case", file=sys.stderr)
    return bar


def measure(full: bool = False, backends: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmarks; the results as a JSON-ready dict.

    ``backends`` defaults to every installed backend that has a framework ELU
    to compare against, in the registry's order.
    """
    known = [spec for spec in registry() if spec.name in CASES]
    names = list(backends) if backends else [s.name for s in known if s.installed()]
    settings = FULL if full else QUICK
    rows = run_timings(names, settings, samples=15 if full else 7, progress=_progress)
    extras: dict[str, Any] = {"threads": num_threads(), "kernel": numpy_kernel()}
    if "numpy" in names:
        extras["memory"] = numpy_peak_memory(10**7 if full else 10**6)
        extras["import"] = import_times(15 if full else 5)
        extras["dispatch"] = dispatch_overhead()
    return {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "processor": platform.processor(),
        },
        "versions": _versions(names),
        "full": full,
        "rows": [asdict(r) for r in rows],
        "extras": extras,
    }


def report(results: dict[str, Any]) -> str:
    """The table and the extras, as ``unielu bench`` prints them."""
    rows = [Row(**r) for r in results["rows"]]
    lines = [format_table(rows)]
    extras = results["extras"]
    if "memory" in extras:
        m, i, d = extras["memory"], extras["import"], extras["dispatch"]
        lines += [
            f"\nNumPy peak memory: {m['peak_mib']:.1f} MiB for a {m['output_mib']:.1f} MiB "
            f"output ({m['elements']:.0e} float32)",
            f"import unielu {i['unielu_s'] * 1e3:.0f} ms, import numpy "
            f"{i['numpy_s'] * 1e3:.0f} ms (ratio {i['ratio']:.2f})",
            f"dispatch and alpha check {d['unielu_ns']:.0f} ns per call; "
            f"array_api_compat.array_namespace {d['array_namespace_ns']:.0f} ns",
        ]
    lines.append(f"NumPy backend threads: {extras['threads']} (set UNIELU_NUM_THREADS to change)")
    if "kernel" in extras:
        lines.append(f"NumPy kernel: {extras['kernel']} (UNIELU_SIMD, UNIELU_KERNEL to change)")
    return "\n".join(lines)


def main(
    full: bool = False, backends: Sequence[str] | None = None, json_path: str | None = None
) -> int:
    """``unielu bench``: time unielu against each framework's own ELU, side by side."""
    comparable = [spec.name for spec in registry() if spec.name in CASES]
    skipped = [b for b in backends or [] if b not in comparable]
    if skipped:
        print(
            f"no benchmark for {', '.join(skipped)}: it has no own ELU to compare against",
            file=sys.stderr,
        )
    chosen = [b for b in backends or [] if b in comparable]
    missing = [b for b in chosen if not get_spec(b).installed()]
    if missing:
        print(f"unielu bench: error: not installed: {', '.join(missing)}", file=sys.stderr)
        return 2
    if backends and not chosen:
        return 2
    results = measure(full, chosen or None)
    print(report(results))
    if json_path:
        with open(json_path, "w") as f:
            json.dump(results, f, indent=2)
        print(f"\nwrote {json_path}")
    return 0


def _versions(backends: Sequence[str]) -> dict[str, str]:
    out = {"unielu": unielu.__version__}
    for name in backends:  # all imported by now; distributions differ (tensorflow-cpu)
        out[name] = getattr(sys.modules.get(name), "__version__", "?")
    return out
