"""Benchmarks: unielu against each framework's own ELU, side by side.

The two contenders of a comparison run interleaved, in alternating order,
on the same input; each sample times enough calls to last a few
milliseconds. Reported: the median time per call of each and the median of
the per-pair ratios, which cancels most of the drift of a shared machine.

This module knows no framework. The NumPy backend's cases (the kernel against
NumPy's own formula and copies) are here. ``unielu bench`` times every other
installed backend through the registry alone (its module's ``from_numpy`` and
``to_numpy``, against the framework's own ELU that its SPEC names, or against
the NumPy backend on the same values where there is none). The fuller
comparisons (compiled graphs, workloads, the NumPy backend's yardsticks) need
the test adapters (``tests/adapters/``, developer code that the installed
package does not hold): ``nox -s bench`` (``benchmarks/run.py``) hands them in
as a :class:`Plan`.
"""

from __future__ import annotations

import functools
import gc
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

import unielu
from unielu._registry import get_spec, registry
from unielu._threads import num_threads, pieces, run_split, threads_for
from unielu.backends.numpy import kernel as numpy_kernel

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


def data(n: int, dtype: str) -> np.ndarray:
    """The benchmarks' input: random signs, so both branches run, unpredictably, as
    activations do."""
    return np.random.default_rng(0).normal(0, 2, n).astype(dtype)


def distinct_alphas(calls: int) -> Callable[[], list[float]]:
    """Each call: ``calls`` alpha values never used before (nothing cached can serve them)."""
    count = iter(range(1, 1 << 30))
    return lambda: [1.0 + next(count) * 1e-6 for _ in range(calls)]


#: A comparison: (stable case id ``<backend>.<what>``, the baseline in words,
#: unielu's call, the baseline's call). benchmarks/targets.py refers to the id.
Case = tuple[str, str, Callable[[], Any], Callable[[], Any]]
#: A sequence of calls timed as a whole: (case id, baseline, elements, unielu's, baseline's).
Workload = tuple[str, str, int, Callable[[], Any], Callable[[], Any]]


@dataclass
class Plan:
    """Where each backend's cases come from.

    NumPy's own cases (the kernel against NumPy's formula and copies) need no
    framework and are here. With the test adapters (``bench_cases``,
    ``bench_workloads``, ``bench_native``), which ``benchmarks/run.py`` passes
    in, every other case comes from them. Without them (``adapters`` None, as
    ``unielu bench`` runs), each installed backend is timed through its
    module's own ``from_numpy``/``to_numpy`` against its framework's own ELU
    (the SPEC's ``native_elu``), or the NumPy backend where it has none.
    """

    adapters: dict[str, Any] | None
    made: dict[str, Any] = field(default_factory=dict)

    def adapter(self, name: str) -> Any:
        if name not in self.made:
            assert self.adapters is not None
            self.made[name] = self.adapters[name]({})
        return self.made[name]

    def has_cases(self, name: str) -> bool:
        if name == "numpy" or self.adapters is None:
            return True
        cls = self.adapters.get(name)
        return cls is not None and bool(cls.benchmarked())

    def cases(self, name: str, x: np.ndarray, alpha: float) -> Iterable[Case]:
        if name == "numpy":
            return _numpy_cases(self, x, alpha)
        if self.adapters is None:
            return _registry_cases(name, x, alpha)
        cases: Iterable[Case] = self.adapter(name).bench_cases(x, alpha)
        return cases

    def workloads(self, name: str, repeats: int) -> Iterable[Workload]:
        if self.adapters is None or name == "numpy":
            return ()
        workloads: Iterable[Workload] = self.adapter(name).bench_workloads(repeats)
        return workloads

    def natives(
        self, x: np.ndarray, alpha: float, against_numpy: bool = False
    ) -> list[tuple[str, str, Callable[[], Any]]]:
        """(backend, label, call) of each installed framework's own ELU on x's values
        (only those the NumPy backend is compared with alone, if ``against_numpy``)."""
        found = []
        for spec in registry():
            cls = (self.adapters or {}).get(spec.name)
            if cls is None or not cls.native or not spec.installed():
                continue
            if against_numpy and not cls.bench_against_numpy:
                continue
            native = self.adapter(spec.name).bench_native(x, alpha)
            if native is not None:
                found.append((spec.name, *native))
        return found


def _numpy_cases(plan: Plan, x: np.ndarray, alpha: float) -> Iterable[Case]:
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
    # unielu against a copy into a warm array: the memory bandwidth.
    against_copyto: list[tuple[str, str, Callable[[], Any]]] = [
        ("numpy.copyto", "np.copyto (memory bandwidth)", lambda: unielu.elu(x, alpha))
    ]
    if x.size >= 10**5:
        # The floor of that comparison: any function that returns a new array pays
        # for its memory (first-touch page faults, the kernel zeroing each page).
        against_copyto.append((
            "numpy.alloc-floor-vs-copyto",
            "np.copyto vs the allocation floor (unielu column: a copy into new memory, "
            "on elu's threads)",
            _new_copy(x),
        ))  # fmt: skip
    # elu writing into memory it has written before: no allocation, no page faults.
    ours, derivative_out = np.empty_like(x), np.empty_like(x)
    against_copyto += [
        ("numpy.copyto-out", "np.copyto, with a preallocated out",
         lambda: unielu.elu(x, alpha, out=ours)),
        ("numpy.derivative-copyto-out", "np.copyto; elu_derivative with a preallocated out",
         lambda: unielu.elu_derivative(x, alpha, out=derivative_out)),
    ]  # fmt: skip
    for case, baseline, call in against_copyto:
        yield case, baseline, call, lambda: np.copyto(out, x)
    if x.size >= 10**5:
        fastest = _fastest(plan.natives(x, alpha))
        if fastest is not None:
            name, theirs = fastest
            yield (
                "numpy.fastest-framework",
                f"fastest framework ELU here: {name}",
                lambda: unielu.elu(x, alpha),
                theirs,
            )
            # The floor of that comparison: any ELU reads x and writes a result, so
            # none can beat this copy into a warm output on the same threads.
            yield (
                "numpy.copy-floor-vs-fastest-framework",
                f"{name} vs the copy floor (unielu column: np.copyto into a warm out, "
                "on elu's threads)",
                _threaded_copy(x, np.empty_like(x)),
                theirs,
            )
    for backend, label, theirs in plan.natives(x, alpha, against_numpy=True):
        yield f"numpy.{backend}", f"{label} on the same data", lambda: unielu.elu(x, alpha), theirs


def _threaded_copy(x: np.ndarray, out: np.ndarray) -> Callable[[], None]:
    """``np.copyto(out, x)`` split as the NumPy backend splits ``elu(x)``: over
    its threads, on its pool (no threads of its own)."""
    threads = threads_for(x.size)
    if threads == 1:
        return lambda: np.copyto(out, x)
    calls = [functools.partial(np.copyto, o, i) for i, _, o in pieces(x, 1.0, out, threads)]
    return lambda: run_split(calls)


def _new_copy(x: np.ndarray) -> Callable[[], np.ndarray]:
    """A copy of ``x`` into a new array, split as :func:`_threaded_copy` splits it."""

    def call() -> np.ndarray:
        out = np.empty_like(x)
        _threaded_copy(x, out)()
        return out

    return call


def _fastest(
    contenders: list[tuple[str, str, Callable[[], Any]]],
) -> tuple[str, Callable[[], Any]] | None:
    """The fastest of the frameworks' own ELUs, by a short timing: (label, call)."""
    times = {}
    for _, label, func in contenders:
        func()  # warm up: compilation
        calls = _calls_for(func)
        times[label] = (min(_sample(func, calls) for _ in range(5)), func)
    if not times:
        return None
    best = min(times, key=lambda label: times[label][0])
    return best, times[best][1]


def native_elu(name: str) -> tuple[str, Callable[[Any, float], Any]] | None:
    """The framework's own ELU, as its SPEC's ``native_elu`` names it: (its name,
    ``f(x, alpha)``), or None where the SPEC names none. One that takes no alpha
    (``"module:qualname(x)"``) is called for alpha 1 only, and None is returned
    in its place for another alpha by the call."""
    path = get_spec(name).native_elu
    if not path:
        return None
    module_name, _, qualname = path.partition(":")
    takes_alpha = not qualname.endswith("(x)")
    qualname = qualname.removesuffix("(x)")
    func: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        func = getattr(func, part)
    label = f"{module_name}.{qualname}"
    if takes_alpha:
        return label, func
    return label, lambda x, alpha: func(x) if alpha == 1.0 else None


def _registry_cases(name: str, x: np.ndarray, alpha: float) -> Iterable[Case]:
    """Without the adapters: unielu on the backend's arrays, made and read back by its
    module's ``from_numpy`` and ``to_numpy`` (which also waits for a lazy or
    asynchronous result), against the framework's own ELU (its SPEC's
    ``native_elu``) read back the same way, or where it has none (or none with
    this alpha), against unielu on the NumPy array."""
    module = get_spec(name).load()
    a, to_numpy = module.from_numpy(x), module.to_numpy
    native = native_elu(name)
    if native is not None and native[1](a, alpha) is not None:
        label, func = native
        yield (
            f"{name}.native",
            f"{label} (both + to_numpy)",
            lambda: to_numpy(unielu.elu(a, alpha)),
            lambda: to_numpy(func(a, alpha)),
        )
        return
    yield (
        f"{name}.unielu-numpy",
        "unielu on NumPy, same values (ours: + to_numpy)",
        lambda: to_numpy(unielu.elu(a, alpha)),
        lambda: unielu.elu(x, alpha),
    )


def run_timings(
    backends: Sequence[str],
    settings: dict[str, Any],
    samples: int,
    progress: Callable[[Iterable[Any]], Iterable[Any]],
    plan: Plan | None = None,
) -> list[Row]:
    plan = plan or Plan(None)
    grid = [
        (b, n, d, a)
        for b in backends
        for n in settings["sizes"]
        for d in settings["dtypes"]
        for a in settings["alphas"]
    ]
    rows = []
    for backend, n, dtype, alpha in progress(grid):
        x = data(n, dtype)
        for case, baseline, ours, theirs in plan.cases(backend, x, alpha):
            a, b, ratio = compare(ours, theirs, samples)
            row = Row(case, backend, baseline, n, dtype, alpha, a * 1e9, b * 1e9, ratio, samples)
            rows.append(row)
    for backend in backends:
        # compare() calls each side samples + 2 times, each call a sequence of fresh inputs.
        for case, baseline, n, ours, theirs in plan.workloads(backend, samples + 2):
            a, b, ratio = compare(ours, theirs, samples)
            row = Row(case, backend, baseline, n, "float32", 1.0, a * 1e9, b * 1e9, ratio, samples)
            rows.append(row)
    return rows


def numpy_peak_memory(n: int = 10**7) -> dict[str, float]:
    """Peak bytes allocated by unielu.elu on n float32 elements, beyond its output."""
    x = data(n, "float32")
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


def measure(
    full: bool = False, backends: Sequence[str] | None = None, plan: Plan | None = None
) -> dict[str, Any]:
    """Run the benchmarks; the results as a JSON-ready dict.

    ``plan`` says where the cases come from (default: the registry alone).
    ``backends`` defaults to every installed backend that has cases in it, in
    the registry's order.
    """
    if plan is None:
        plan = Plan(None)
    names = list(backends) if backends else _default_backends(plan)
    settings = FULL if full else QUICK
    rows = run_timings(names, settings, samples=15 if full else 7, progress=_progress, plan=plan)
    extras: dict[str, Any] = {"threads": num_threads(), "kernel": numpy_kernel()}
    if "numpy" in names:
        extras["memory"] = numpy_peak_memory(10**7 if full else 10**6)
        extras["import"] = import_times(15 if full else 5)
        extras["dispatch"] = dispatch_overhead()
    return {
        "machine": machine(),
        "versions": _framework_versions(names),
        "full": full,
        "adapters": plan.adapters is not None,  # comparisons with the frameworks' own ELU
        "rows": [asdict(r) for r in rows],
        "extras": extras,
    }


def cpu_name() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo; platform.processor() is empty there)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def cpu_simd() -> str:
    """The widest SIMD level the CPU reports (Linux's /proc/cpuinfo flags)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            flags = next((line for line in file if line.startswith(("flags", "Features"))), "")
    except OSError:
        return "unknown"
    have = set(flags.split(":", 1)[-1].split())
    for flag, name in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("sse4_2", "SSE4.2")):
        if flag in have:
            return name
    return "NEON" if "asimd" in have else ("SSE2" if "sse2" in have else "unknown")


def machine() -> dict[str, Any]:
    """The machine a measurement ran on: CPU, its SIMD level and the kernel's, cores, load."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu_name(),
        "simd": cpu_simd(),
        "kernel": numpy_kernel(),
        "cores": cores,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_before": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
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


def _default_backends(plan: Plan) -> list[str]:
    """The installed backends that have cases in ``plan`` and can run, in registry order."""
    names = []
    for spec in registry():
        if not (spec.installed() and plan.has_cases(spec.name)):
            continue
        if plan.adapters is None and spec.name != "numpy":
            try:  # the registry alone cannot tell whether a backend is usable: try it
                module = spec.load()
                module.to_numpy(unielu.elu(module.from_numpy(np.zeros(2, np.float32))))
            except Exception as error:  # a broken install must not stop the others' timings
                print(f"unielu bench: skipped {spec.name}: {error}", file=sys.stderr)
                continue
        names.append(spec.name)
    return names


def main(
    full: bool = False,
    backends: Sequence[str] | None = None,
    json_path: str | None = None,
    plan: Plan | None = None,
) -> int:
    """``unielu bench``: time unielu on each installed backend, side by side with a
    baseline; ``plan`` as for :func:`measure`."""
    if plan is None:
        plan = Plan(None)
    skipped = [b for b in backends or [] if not plan.has_cases(b)]
    if skipped:
        print(
            f"no benchmark for {', '.join(skipped)}: no own ELU to compare against "
            "(its test adapter has no bench_cases)",
            file=sys.stderr,
        )
    chosen = [b for b in backends or [] if b not in skipped]
    missing = [b for b in chosen if not get_spec(b).installed()]
    if missing:
        print(f"unielu bench: error: not installed: {', '.join(missing)}", file=sys.stderr)
        return 2
    if backends and not chosen:
        return 2
    results = measure(full, chosen or None, plan)
    print(report(results))
    if json_path:
        with open(json_path, "w") as f:
            json.dump(results, f, indent=2)
        print(f"\nwrote {json_path}")
    return 0


def _framework_versions(backends: Sequence[str]) -> dict[str, str]:
    """unielu's version and that of each benchmarked framework."""
    out = {"unielu": unielu.__version__}
    for name in backends:  # imported by now; a distribution may have another name
        module = sys.modules.get(get_spec(name).framework)
        out[name] = getattr(module, "__version__", "?")
    return out
