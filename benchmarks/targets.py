"""The project's performance targets, keyed by ids, checked against ``unielu bench``'s results.

Each target names a case id of ``unielu bench`` (a comparison of unielu/bench.py
or of a backend's test adapter, tests/adapters/<name>.py, with a size, dtype and
alpha) or an extra measurement, the largest acceptable value, and, where a
target has been missed before, why (printed beside it when it is). A backend
with none of its own at 1e7 gets the registry's default (:func:`default_targets`),
so that a new backend needs no entry here.
``benchmarks/run.py`` applies them; the docs render the verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NOISE = "ratios near their limit move 10-30% between runs on a shared machine"


@dataclass(frozen=True)
class Target:
    id: str
    text: str
    limit: float
    case: str = ""  # a case id of unielu bench; else an extra measurement (see _extra)
    size: int = 0
    dtype: str = "float32"
    alpha: float = 1.0
    why_missed: str = NOISE
    # A case id whose ratio (same size, dtype, alpha) is the best any implementation
    # could reach in this comparison here: shown beside the verdict.
    floor: str = ""


TARGETS = [
    Target("numpy-vs-plain-1e7", "NumPy >= 6x faster than the plain formula at 1e7 float32",
           1 / 6, "numpy.plain", 10**7,
           why_missed="each elu result is new memory, and right after the plain formula (whose "
           "temporaries go back to the system) its page faults cost more; " + NOISE),
    Target("numpy-vs-copyto-1e7", "NumPy within 2x of np.copyto at 1e7 float32", 2.0,
           "numpy.copyto", 10**7, floor="numpy.alloc-floor-vs-copyto",
           why_missed="elu allocates its output: first-touch page faults, and the kernel "
           "zeroing each new page, that np.copyto into an existing array does not pay. The "
           "floor row numpy.alloc-floor-vs-copyto times a copy into new memory on elu's "
           "threads (compare also the x.copy() row, and the preallocated-out target); " + NOISE),
    Target("numpy-out-vs-copyto-1e7",
           "NumPy with a preallocated out within 2x of np.copyto at 1e7 float32", 2.0,
           "numpy.copyto-out", 10**7,
           why_missed="without AVX2 (x86-64 baseline, or UNIELU_SIMD=baseline) the arithmetic, "
           "not memory, sets the time; " + NOISE),
    Target("numpy-vs-plain-1e7-f64", "NumPy >= 2.5x faster than the plain formula at 1e7 "
           "float64, alpha 1.7", 1 / 2.5, "numpy.plain", 10**7, "float64", 1.7),
    Target("numpy-vs-torch-1e7", "NumPy not slower than torch F.elu at 1e7 float32", 1.0,
           "numpy.torch", 10**7),
    Target("numpy-vs-plain-16", "NumPy not slower than the plain formula at 16 elements", 1.0,
           "numpy.plain", 16),
    Target("torch-1e7", "PyTorch within 5% of F.elu at 1e7", 1.05, "torch.F.elu", 10**7),
    Target("torch-16", "PyTorch within 15% of F.elu at 16", 1.15, "torch.F.elu", 16,
           why_missed="a few tens of ns per call of checks the contract needs (forward-mode "
           "AD, torch.compile and torch.export tracing, out=, array alpha) on a 1.1-1.7 us call; "
           + NOISE),
    Target("tf-1e7", "TensorFlow within 1.5x of tf.nn.elu at 1e7", 1.5, "tensorflow.tf.nn.elu",
           10**7),
    Target("tf-16", "TensorFlow within 4x of tf.nn.elu at 16", 4.0, "tensorflow.tf.nn.elu", 16),
    Target("jax-1e7", "JAX within 10% of jax.nn.elu at 1e7", 1.10, "jax.jax.nn.elu", 10**7),
    Target("jax-16", "JAX within 20% of jax.nn.elu at 16", 1.20, "jax.jax.nn.elu", 16),
    Target("tf-function-1e5", "TensorFlow in a user's tf.function within 1.5x of tf.nn.elu at "
           "1e5", 1.5, "tensorflow.in-tf.function", 10**5),
    Target("tf-function-1e7", "TensorFlow in a user's tf.function within 1.5x of tf.nn.elu at "
           "1e7", 1.5, "tensorflow.in-tf.function", 10**7,
           why_missed="the op is one XLA-compiled loop with unielu's own expm1, as fast as "
           "tf.nn.elu's kernel when the machine is quiet; " + NOISE),
    Target("tf-30-alphas", "TensorFlow: 30 new alphas within 3x of tf.nn.elu (total, 2e5 "
           "float32)", 3.0, "tensorflow.30-alphas", 200_000),
    Target("tf-40-shapes", "TensorFlow eager: 40 new shapes within 3x of tf.nn.elu (total)", 3.0,
           "tensorflow.40-shapes", 110_000),
    Target("jax-30-alphas", "JAX: 30 new alphas within 3x of jax.nn.elu (total, 2e5 float32)",
           3.0, "jax.30-alphas", 200_000),
    Target("numpy-derivative-out-vs-copyto-1e7", "NumPy elu_derivative with out= within 2x of "
           "np.copyto at 1e7 float32", 2.0, "numpy.derivative-copyto-out", 10**7),
    Target("numpy-out-vs-copyto-1e7-f64", "NumPy elu with out= within 3x of np.copyto at 1e7 "
           "float64", 3.0, "numpy.copyto-out", 10**7, "float64"),
    Target("numpy-vs-fastest-framework-1e7", "NumPy >= 3x faster than the fastest of F.elu, "
           "tf.nn.elu, jax.nn.elu at 1e7 float32", 1 / 3, "numpy.fastest-framework", 10**7,
           floor="numpy.copy-floor-vs-fastest-framework",
           why_missed="The floor row numpy.copy-floor-vs-fastest-framework times a copy of x "
           "into a warm output on the NumPy backend's threads against the same framework call: "
           "no ELU that reads x and writes a result beats it, so where the floor is above the "
           "limit no ELU can meet the target in that run. Interleaved with tf.nn.elu, whose "
           "threads spin after each call, unielu's new result pays its page faults under "
           "contention (compare the numpy.copyto and numpy.copyto-out rows). " + NOISE),
    Target("numpy-vs-plain-1e3", "NumPy in at most 0.5x the plain formula's time at 1e3 float32",
           0.5, "numpy.plain", 10**3),
    Target("dask-vs-where-1e7", "Dask >= 2x faster than da.where(x > 0, x, da.expm1(x)) at 1e7 "
           "float32, 10 chunks", 0.5, "dask.where", 10**7),
    Target("import", "import unielu within 15% of import numpy", 1.15),
    Target("numpy-memory", "NumPy peak memory beyond the output <= 8 MiB (MiB)", 8.0),
]  # fmt: skip


#: Every backend whose framework has an ELU of its own (its SPEC's ``native_elu``) and
#: no target of its own at this size above: within this factor of it.
DEFAULT_LIMIT, DEFAULT_SIZE = 1.5, 10**7


def default_targets(results: dict[str, Any]) -> list[Target]:
    """The registry's targets: one per measured backend with a ``native_elu`` and no
    target of its own at :data:`DEFAULT_SIZE`, on its first case (its adapter yields
    the comparison with the framework's own ELU first)."""
    from unielu._registry import registry

    first: dict[str, str] = {}
    for r in results["rows"]:
        first.setdefault(r["backend"], r["case"])
    covered = {t.case.split(".")[0] for t in TARGETS if t.case and t.size == DEFAULT_SIZE}
    found = []
    for spec in registry():
        case = first.get(spec.name)
        if spec.native_elu and case and spec.name not in covered:
            native = spec.native_elu.replace(":", ".").removesuffix("(x)")
            found.append(Target(
                f"{spec.name}-1e7", f"{spec.name} within {DEFAULT_LIMIT:g}x of {native} at "
                f"1e7 float32", DEFAULT_LIMIT, case, DEFAULT_SIZE,
            ))  # fmt: skip
    return found


def _extra(target_id: str, extras: dict[str, Any]) -> float | None:
    if target_id == "import" and "import" in extras:
        return float(extras["import"]["ratio"])
    if target_id == "numpy-memory" and "memory" in extras:
        return float(extras["memory"]["extra_mib"])
    return None


def _ratio(results: dict[str, Any], case: str, t: Target) -> float | None:
    """The ratio of ``case`` at ``t``'s size, dtype and alpha, if it was measured."""
    match = [
        r["ratio"]
        for r in results["rows"]
        if (r["case"], r["size"], r["dtype"], r["alpha"]) == (case, t.size, t.dtype, t.alpha)
    ]
    return float(match[0]) if match else None


def check(results: dict[str, Any]) -> list[dict[str, Any]]:
    """A verdict for each target whose measurement is in ``results``."""
    verdicts = []
    for t in [*TARGETS, *default_targets(results)]:
        if t.case:
            measured = _ratio(results, t.case, t)
            benchmarked = {r["backend"] for r in results["rows"]}
            if measured is None and t.case.split(".")[0] in benchmarked:
                verdicts.append({
                    "id": t.id, "target": t.text, "measured": float("nan"), "limit": t.limit,
                    "met": False, "why": f"no row of case {t.case!r} at {t.size} {t.dtype}, "
                    f"alpha {t.alpha:g}: renamed in unielu/bench.py or the adapter?",
                })  # fmt: skip
                continue
        else:
            measured = _extra(t.id, results["extras"])
        if measured is None:
            continue
        met = measured <= t.limit
        floor = _ratio(results, t.floor, t) if t.floor else None
        why = "" if met else t.why_missed
        if not met and floor is not None and floor > t.limit:
            why = f"out of reach in this run: the floor itself is {floor:.2f}. {why}"
        verdicts.append({
            "id": t.id, "target": t.text, "measured": measured, "limit": t.limit, "met": met,
            "why": why, "floor": floor,
        })  # fmt: skip
    return verdicts


def measured_text(v: dict[str, Any]) -> str:
    """The measured value, and the floor beside it where the target has one."""
    floor = v.get("floor")
    return f"{v['measured']:.2f}" + ("" if floor is None else f" (floor here {floor:.2f})")


def format_verdicts(verdicts: list[dict[str, Any]]) -> str:
    lines = ["targets (ratio = unielu time / baseline time):"]
    for v in verdicts:
        lines.append(
            f"  [{'met' if v['met'] else 'MISSED'}] {v['target']}: "
            f"{measured_text(v)} (limit {v['limit']:.2f})"
            + (f"\n      why: {v['why']}" if v["why"] else "")
        )
    return "\n".join(lines)
