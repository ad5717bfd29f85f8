"""The model benchmark: unielu's ELU against each framework's own, inside models.

Each case runs one model or compiled function twice, built from the same seed
and fed the same data: once with unielu's layer or function, once with the
framework's own ELU. The two run in one process, interleaved (A B, B A, A B
...); the table gives the median time of each and the median of the per-pair
ratios (unielu / framework: below 1 means unielu is faster), which cancels most
of the drift of a shared machine. Compilation happens in the warm-up calls,
before any timing.

    python benchmarks/models.py [--only torch,tensorflow,keras,jax] [--quick] [--save]

Groups: ``torch``, ``tensorflow``, ``jax`` (with Flax NNX) and
``keras-tensorflow``, ``keras-jax``, ``keras-torch`` (``keras`` names all
three). Each group runs in a child process of its own (``--child``), which
hands its rows back as JSON: Keras' backend is fixed per process, and no
framework's thread pools or allocator then weigh on another's timings.
``--save`` merges the results into benchmarks/results.json (key ``models``),
which docs/benchmarks.rst renders; ``nox -s bench`` (benchmarks/run.py) runs
this after the function benchmarks and saves. ``--quick`` takes fewer pairs
(compilation still takes its time: Inductor's and XLA's caches shorten a second
run); ``--smoke`` runs each case once at a tiny size, to check that the code runs.

The targets are those of the issue "Fast inside models" (``TARGETS``).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

import unielu
from unielu.bench import machine

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"


@dataclass(frozen=True)
class Scale:
    """How long each case is timed, and the models' sizes."""

    name: str
    budget_s: float  # timed pairs per case: until this is spent and min_pairs are done
    min_pairs: int
    max_pairs: int
    warmup: int  # calls of each side before timing: compilation, caches, thread pools
    sample_s: float  # a sample repeats its call until it lasts about this long
    batch: int  # the CNN: batch, image side, channels (3 -> c -> c)
    image: int
    channels: int
    mlp: tuple[int, int, int, int]  # the MLP's widths (3 layers), input to output; its batch
    mlp_batch: int
    elements: int  # the elementwise chains (and the TensorFlow graphs' outputs)
    inner: int  # the inner dimension of TensorFlow's matmul
    keras_samples: int  # Keras fit: one epoch of these, images of this side, this batch
    keras_image: int
    keras_batch: int


FULL = Scale(
    "full", budget_s=5.0, min_pairs=7, max_pairs=101, warmup=2, sample_s=0.01,
    batch=16, image=64, channels=32, mlp=(784, 512, 512, 10), mlp_batch=256,
    elements=10**6, inner=256, keras_samples=256, keras_image=32, keras_batch=32,
)  # fmt: skip
QUICK = replace(FULL, name="quick", budget_s=0.4, min_pairs=3, max_pairs=21)
SMOKE = Scale(
    "smoke", budget_s=0.0, min_pairs=1, max_pairs=1, warmup=1, sample_s=0.0,
    batch=2, image=8, channels=4, mlp=(16, 8, 8, 4), mlp_batch=4,
    elements=1000, inner=8, keras_samples=8, keras_image=8, keras_batch=4,
)  # fmt: skip
SCALES = {s.name: s for s in (FULL, QUICK, SMOKE)}

#: The largest acceptable ratio for a case, where the issue sets one.
TARGETS = {
    "torch.cnn-train": 1.10,
    "torch.cnn-learn-alpha": 1.25,
    "torch.cnn-inference": 1.05,
    "torch.cnn-compile": 1.10,
    "torch.chain-compile": 1.20,
    "torch.chain-compile-backward": 1.20,
    "tensorflow.matmul-batch-none": 1.5,
    "tensorflow.dynamic-shape": 1.5,
    "tensorflow.static-shape": 1.5,
    "keras-tensorflow.fit": 1.10,
    "keras-tensorflow.fit-jit": 1.10,
    "keras-jax.fit": 1.10,
    "keras-jax.fit-jit": 1.10,
    "keras-torch.fit": 1.10,
    "keras-torch.fit-jit": 1.10,
    "jax.flax-mlp-train": 1.10,
}

Step = Callable[[], Any]


@dataclass(frozen=True)
class Case:
    """One comparison: ``make(scale)`` builds both sides, (unielu's step, the framework's)."""

    id: str  # "<group>.<what>", stable: TARGETS and the docs refer to it
    text: str  # what runs, for the table
    baseline: str  # the framework's own ELU, in words
    make: Callable[[Scale], tuple[Step, Step]]


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


def _normal(*shape: int) -> np.ndarray:
    """Inputs with random signs, so both branches of the ELU run."""
    return _rng().normal(0, 2, shape).astype(np.float32)


def _labels(n: int) -> np.ndarray:
    return _rng().integers(0, 10, n)


def _matmul_shape(scale: Scale) -> tuple[int, int]:
    """(rows, columns) of a matmul output of about ``scale.elements`` elements."""
    side = math.isqrt(scale.elements)
    return side, scale.elements // side


# -- PyTorch ----------------------------------------------------------------------------


def torch_cases() -> list[Case]:
    import torch
    import torch.nn.functional as F
    from torch import nn

    from unielu.layers.torch import ELU

    def cnn(scale: Scale, act: Callable[[], nn.Module]) -> nn.Module:
        torch.manual_seed(0)
        c = scale.channels
        return nn.Sequential(
            nn.Conv2d(3, c, 3, padding=1), act(), nn.Conv2d(c, c, 3, padding=1), act(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10),
        )  # fmt: skip

    def mlp(scale: Scale, act: Callable[[], nn.Module]) -> nn.Module:
        torch.manual_seed(0)
        a, b, c, d = scale.mlp
        return nn.Sequential(nn.Linear(a, b), act(), nn.Linear(b, c), act(), nn.Linear(c, d))

    def train_step(model: nn.Module, x: Any, y: Any, compiled: bool = False) -> Step:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        forward = torch.compile(model) if compiled else model

        def step() -> None:
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(forward(x), y).backward()
            optimizer.step()

        return step

    def cnn_data(scale: Scale) -> tuple[Any, Any]:
        x = torch.from_numpy(_normal(scale.batch, 3, scale.image, scale.image))
        return x, torch.from_numpy(_labels(scale.batch))

    def cnn_train(ours: Callable[[], nn.Module], compiled: bool = False) -> Any:
        def make(scale: Scale) -> tuple[Step, Step]:
            x, y = cnn_data(scale)
            return tuple(  # type: ignore[return-value]
                train_step(cnn(scale, act), x, y, compiled) for act in (ours, nn.ELU)
            )

        return make

    def cnn_inference(scale: Scale) -> tuple[Step, Step]:
        x, _ = cnn_data(scale)

        def infer(model: nn.Module) -> Step:
            def step() -> None:
                with torch.no_grad():
                    model(x)

            return step

        return infer(cnn(scale, ELU)), infer(cnn(scale, nn.ELU))

    def mlp_train(scale: Scale) -> tuple[Step, Step]:
        x = torch.from_numpy(_normal(scale.mlp_batch, scale.mlp[0]))
        y = torch.from_numpy(_labels(scale.mlp_batch) % scale.mlp[-1])
        return train_step(mlp(scale, ELU), x, y), train_step(mlp(scale, nn.ELU), x, y)

    def chain(backward: bool) -> Any:
        def make(scale: Scale) -> tuple[Step, Step]:
            x = torch.from_numpy(_normal(scale.elements)).requires_grad_(backward)
            w = torch.from_numpy(_normal(scale.elements))
            grad = torch.ones_like(x)

            def run(elu: Callable[[Any], Any]) -> Step:
                f = torch.compile(lambda x, w: elu(x * w + 1) * 2)
                if backward:
                    return lambda: torch.autograd.grad(f(x, w), x, grad)
                return lambda: f(x, w)

            return run(unielu.elu), run(F.elu)

        return make

    cnn_text = "PyTorch eager, small CNN (2 conv + ELU) training step, SGD"
    return [
        Case("torch.cnn-train", cnn_text, "nn.ELU", cnn_train(ELU)),
        Case(
            "torch.cnn-learn-alpha",
            cnn_text + ", ELU(learn_alpha=True)",
            "nn.ELU (fixed alpha)",
            cnn_train(lambda: ELU(learn_alpha=True)),
        ),
        Case(
            "torch.cnn-inference",
            "PyTorch eager, the same CNN, inference under no_grad",
            "nn.ELU",
            cnn_inference,
        ),
        Case(
            "torch.cnn-compile",
            "PyTorch torch.compile, the same CNN training step",
            "nn.ELU",
            cnn_train(ELU, compiled=True),
        ),
        Case("torch.mlp-train", "PyTorch eager, MLP training step, SGD", "nn.ELU", mlp_train),
        Case(
            "torch.chain-compile",
            "torch.compile(elu(x * w + 1) * 2), forward",
            "F.elu",
            chain(backward=False),
        ),
        Case(
            "torch.chain-compile-backward",
            "torch.compile(elu(x * w + 1) * 2), forward and backward",
            "F.elu",
            chain(backward=True),
        ),
    ]


# -- TensorFlow -------------------------------------------------------------------------


def tensorflow_cases() -> list[Case]:
    import tensorflow as tf

    def graph(body: Callable[[Any], Any], spec: Any, xla: bool) -> Any:
        return tf.function(body, input_signature=[spec], jit_compile=xla)

    def matmul(xla: bool) -> Any:
        def make(scale: Scale) -> tuple[Step, Step]:
            rows, cols = _matmul_shape(scale)
            x = tf.constant(_normal(rows, scale.inner))
            w = tf.constant(_normal(scale.inner, cols) / np.float32(scale.inner**0.5))
            spec = tf.TensorSpec([None, scale.inner], tf.float32)
            ours = graph(lambda x: unielu.elu(tf.matmul(x, w)), spec, xla)
            theirs = graph(lambda x: tf.nn.elu(tf.matmul(x, w)), spec, xla)
            return lambda: ours(x), lambda: theirs(x)

        return make

    def elementwise(static: bool, arithmetic: bool, xla: bool) -> Any:
        def make(scale: Scale) -> tuple[Step, Step]:
            x = tf.constant(_normal(scale.elements))
            w = tf.constant(_normal(scale.elements))
            spec = tf.TensorSpec([scale.elements if static else None], tf.float32)

            def run(elu: Callable[[Any], Any]) -> Step:
                body = (lambda x: elu(x * w + 1) * 2) if arithmetic else elu
                f = graph(body, spec, xla)
                return lambda: f(x)

            return run(unielu.elu), run(tf.nn.elu)

        return make

    cases = []
    for xla in (False, True):
        how = "with XLA (jit_compile=True)" if xla else "without XLA"
        tail = "-xla" if xla else ""
        cases += [
            Case(f"tensorflow.matmul-batch-none{tail}",
                 f"TensorFlow tf.function {how}, input_signature batch None, matmul -> ELU",
                 "tf.nn.elu", matmul(xla)),
            Case(f"tensorflow.dynamic-shape{tail}",
                 f"TensorFlow tf.function {how}, dynamic shape TensorSpec([None])", "tf.nn.elu",
                 elementwise(static=False, arithmetic=False, xla=xla)),
            Case(f"tensorflow.static-shape{tail}", f"TensorFlow tf.function {how}, static shape",
                 "tf.nn.elu", elementwise(static=True, arithmetic=False, xla=xla)),
            Case(f"tensorflow.arithmetic{tail}",
                 f"TensorFlow tf.function {how}, static shape, elu(x * w + 1) * 2", "tf.nn.elu",
                 elementwise(static=True, arithmetic=True, xla=xla)),
        ]  # fmt: skip
    return cases


# -- Keras 3 ----------------------------------------------------------------------------


def keras_cases(backend: str) -> list[Case]:
    """The Keras cases on ``backend``, which must be this process's Keras backend."""
    import keras

    from unielu.layers.keras import ELU

    if keras.backend.backend() != backend:
        raise RuntimeError(
            f"group 'keras-{backend}' needs Keras' backend {backend!r}; this process has "
            f"{keras.backend.backend()!r} (KERAS_BACKEND); the benchmark runs each Keras "
            "group in a child process with its own KERAS_BACKEND"
        )

    def fit(jit: bool) -> Any:
        def make(scale: Scale) -> tuple[Step, Step]:
            side, c = scale.keras_image, scale.channels
            x, y = _normal(scale.keras_samples, side, side, 3), _labels(scale.keras_samples)

            def model(act: Callable[[], Any]) -> Step:
                keras.utils.set_random_seed(0)
                m = keras.Sequential([
                    keras.Input((side, side, 3)),
                    keras.layers.Conv2D(c, 3, padding="same"), act(),
                    keras.layers.Conv2D(c, 3, padding="same"), act(),
                    keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10),
                ])  # fmt: skip
                m.compile(
                    optimizer=keras.optimizers.SGD(0.01),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    jit_compile=jit,
                )
                batch = scale.keras_batch
                if backend == "tensorflow":
                    # A tf.data pipeline without autotuning: with it (and with arrays,
                    # which Keras feeds through tf.data), each fit call ends on a tick
                    # of tf.data's autotuning thread, so an epoch takes one or two
                    # ticks at random, whichever the ELU.
                    import tensorflow as tf

                    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)
                    options = tf.data.Options()
                    options.autotune.enabled = False
                    data = data.with_options(options)
                    return lambda: m.fit(data, epochs=1, verbose=0)
                return lambda: m.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)

            return model(ELU), model(keras.layers.ELU)

        return make

    text = "Keras 3 on {}, small CNN, fit one epoch, jit_compile={}"
    name = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}.get(backend, backend)
    return [
        Case(f"keras-{backend}.fit", text.format(name, False), "keras.layers.ELU", fit(False)),
        Case(f"keras-{backend}.fit-jit", text.format(name, True), "keras.layers.ELU", fit(True)),
    ]


# -- JAX and Flax NNX -------------------------------------------------------------------


def jax_cases() -> list[Case]:
    import jax
    import jax.numpy as jnp

    def chain(grad: bool) -> Any:
        def make(scale: Scale) -> tuple[Step, Step]:
            x = jnp.asarray(_normal(scale.elements))
            w = jnp.asarray(_normal(scale.elements))

            def run(elu: Callable[[Any], Any]) -> Step:
                if grad:
                    f = jax.jit(jax.grad(lambda x, w: jnp.sum(elu(x * w + 1) * 2)))
                else:
                    f = jax.jit(lambda x, w: elu(x * w + 1) * 2)
                return lambda: f(x, w).block_until_ready()

            return run(unielu.elu), run(jax.nn.elu)

        return make

    def flax_mlp(scale: Scale) -> tuple[Step, Step]:
        import optax
        from flax import nnx

        from unielu.layers.flax import ELU

        x = jnp.asarray(_normal(scale.mlp_batch, scale.mlp[0]))
        y = jnp.asarray(_labels(scale.mlp_batch) % scale.mlp[-1])

        class MLP(nnx.Module):
            def __init__(self, act: Callable[[Any], Any], rngs: nnx.Rngs) -> None:
                a, b, c, d = scale.mlp
                self.first = nnx.Linear(a, b, rngs=rngs)
                self.second = nnx.Linear(b, c, rngs=rngs)
                self.last = nnx.Linear(c, d, rngs=rngs)
                self.act = act

            def __call__(self, x: Any) -> Any:
                return self.last(self.act(self.second(self.act(self.first(x)))))

        def train_step(act: Callable[[Any], Any]) -> Step:
            model = MLP(act, nnx.Rngs(0))
            optimizer = nnx.Optimizer(model, optax.sgd(0.01), wrt=nnx.Param)

            @nnx.jit
            def step(model: MLP, optimizer: Any, x: Any, y: Any) -> Any:
                def loss(model: MLP) -> Any:
                    logits = model(x)
                    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

                value, grads = nnx.value_and_grad(loss)(model)
                optimizer.update(model, grads)
                return value

            return lambda: step(model, optimizer, x, y).block_until_ready()

        return train_step(ELU()), train_step(jax.nn.elu)

    return [
        Case("jax.chain-jit", "JAX jax.jit(elu(x * w + 1) * 2)", "jax.nn.elu", chain(grad=False)),
        Case(
            "jax.chain-jit-grad",
            "JAX jax.jit(jax.grad(sum(elu(x * w + 1) * 2)))",
            "jax.nn.elu",
            chain(grad=True),
        ),
        Case(
            "jax.flax-mlp-train",
            "Flax NNX MLP training step under nnx.jit, SGD",
            "jax.nn.elu",
            flax_mlp,
        ),
    ]


# -- Groups -----------------------------------------------------------------------------

KERAS_BACKENDS = ("tensorflow", "jax", "torch")
#: group -> (the modules it needs, their versions reported, the cases).
GROUPS: dict[str, tuple[tuple[str, ...], Callable[[], list[Case]]]] = {
    "torch": (("torch",), torch_cases),
    "tensorflow": (("tensorflow",), tensorflow_cases),
    **{
        f"keras-{b}": (("keras", b), lambda b=b: keras_cases(b))  # type: ignore[misc]
        for b in KERAS_BACKENDS
    },
    "jax": (("jax", "flax", "optax"), jax_cases),
}
ALIASES = {"keras": tuple(f"keras-{b}" for b in KERAS_BACKENDS)}


def installed(group: str) -> bool:
    """Whether the framework(s) a group needs can be imported (Flax and optax are
    needed by one JAX case only)."""
    needs = [m for m in GROUPS[group][0] if m not in ("flax", "optax")]
    return all(importlib.util.find_spec(m) is not None for m in needs)


def parse_only(text: str | None) -> list[str]:
    """The groups ``--only`` names, in the benchmark's order (all if None)."""
    if text is None:
        return list(GROUPS)
    wanted: set[str] = set()
    for name in (n.strip() for n in text.split(",")):
        if name in ALIASES:
            wanted.update(ALIASES[name])
        elif name in GROUPS:
            wanted.add(name)
        else:
            raise ValueError(
                f"--only: unknown group {name!r} in {text!r}; accepted: "
                f"{', '.join([*GROUPS, *ALIASES])} (comma-separated)"
            )
    return [g for g in GROUPS if g in wanted]


# -- Timing -----------------------------------------------------------------------------


def _calls_for(step: Step, seconds: float) -> int:
    """How many calls make one sample last about ``seconds``."""
    if seconds <= 0:
        return 1
    start = time.perf_counter()
    step()
    once = max(time.perf_counter() - start, 1e-7)
    return max(1, min(1000, round(seconds / once)))


def _sample(step: Step, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        step()
    return (time.perf_counter() - start) / calls


def time_pair(ours: Step, theirs: Step, scale: Scale) -> dict[str, Any]:
    """Both medians (ms) and the median per-pair ratio, interleaved, after a warm-up."""
    for _ in range(scale.warmup):
        ours()
        theirs()
    calls = min(_calls_for(ours, scale.sample_s), _calls_for(theirs, scale.sample_s))
    a: list[float] = []
    b: list[float] = []
    gc.collect()
    gc.disable()  # a collection inside one side's sample would be charged to it alone
    start = time.perf_counter()
    try:
        while len(a) < scale.max_pairs and (
            len(a) < scale.min_pairs or time.perf_counter() - start < scale.budget_s
        ):
            if len(a) % 2:
                tb, ta = _sample(theirs, calls), _sample(ours, calls)
            else:
                ta, tb = _sample(ours, calls), _sample(theirs, calls)
            a.append(ta)
            b.append(tb)
    finally:
        gc.enable()
    return {
        "unielu_ms": statistics.median(a) * 1e3,
        "baseline_ms": statistics.median(b) * 1e3,
        "ratio": statistics.median(x / y for x, y in zip(a, b, strict=True)),
        "pairs": len(a),
        "calls": calls,
    }


def _verdict(row: dict[str, Any]) -> dict[str, Any]:
    limit = TARGETS.get(row["id"])
    met = None if limit is None or "ratio" not in row else bool(row["ratio"] <= limit)
    return {**row, "limit": limit, "met": met}


def run_group(
    group: str, scale: Scale, progress: Callable[[str], None] | None = None
) -> list[dict[str, Any]]:
    """Time every case of ``group`` in this process; a row per case (see :func:`run_cases`).

    A group whose framework cannot be imported raises.
    """
    return run_cases(group, GROUPS[group][1](), scale, progress)


def run_cases(
    group: str,
    cases: Sequence[Case],
    scale: Scale,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Time ``cases`` in this process; a row per case. A case that fails gives a
    row with ``error``, and the others still run."""
    rows = []
    for case in cases:
        row: dict[str, Any] = {
            "id": case.id, "group": group, "text": case.text, "baseline": case.baseline,
        }  # fmt: skip
        start = time.perf_counter()
        try:
            ours, theirs = case.make(scale)
            row.update(time_pair(ours, theirs, scale))
        except Exception as error:  # one broken case must not lose the others' timings
            row["error"] = f"{type(error).__name__}: {str(error).strip().splitlines()[0][:300]}"
        finally:
            ours = theirs = None  # type: ignore[assignment]
            gc.collect()
            row["wall_s"] = time.perf_counter() - start  # building, compiling and timing
        rows.append(_verdict(row))
        if progress:
            progress(format_row(rows[-1]))
    return rows


def versions(group: str) -> dict[str, str]:
    """The versions of the group's frameworks, as imported in this process."""
    found = {}
    for name in GROUPS[group][0]:
        module = sys.modules.get(name)
        if module is not None:
            found[name] = str(getattr(module, "__version__", "?"))
    return found


def run_child(group: str, scale: Scale, timeout: float = 1800) -> dict[str, Any]:
    """Run ``group`` in a child process (``--child``): its rows and versions.

    Keras groups get their backend through ``KERAS_BACKEND``. The child's output
    passes through (its progress lines); a failed child gives one error row.
    """
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    if group.startswith("keras-"):
        env["KERAS_BACKEND"] = group.removeprefix("keras-")
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "rows.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--child", group]
        command += ["--scale", scale.name, "--child-out", str(out)]
        try:
            done = subprocess.run(command, env=env, timeout=timeout)
            failed = f"exited with status {done.returncode}" if done.returncode else ""
        except subprocess.TimeoutExpired:
            failed = f"ran past {timeout:.0f} s"
        if not failed and out.is_file():
            result: dict[str, Any] = json.loads(out.read_text())
            return result
    why = failed or "wrote no results"
    row = {"id": f"{group}.*", "group": group, "text": f"the {group} group", "baseline": "—"}
    return {"rows": [_verdict({**row, "error": f"its child process {why}"})], "versions": {}}


# -- Results ----------------------------------------------------------------------------


def run(
    groups: Sequence[str], scale: Scale, progress: Callable[[str], None] | None = print
) -> dict[str, Any]:
    """Every group in a child process of its own; the results, ready for JSON."""
    start = time.perf_counter()
    results: dict[str, Any] = {
        "machine": machine(),
        "versions": {"unielu": unielu.__version__, "numpy": np.__version__},
        "scale": scale.name,
        "rows": [],
        "skipped": {},
    }
    for group in groups:
        if not installed(group):
            results["skipped"][group] = "not installed: " + ", ".join(GROUPS[group][0])
            continue
        if progress:
            progress(f"-- {group}")
        found = run_child(group, scale)
        results["rows"] += found["rows"]
        results["versions"].update(found["versions"])
    results["seconds"] = time.perf_counter() - start
    if hasattr(os, "getloadavg"):
        results["machine"]["load_after"] = os.getloadavg()[0]
    return results


def _ms(value: float) -> str:
    return f"{value:.3g}" if value < 100 else f"{value:.0f}"


def verdict_text(row: dict[str, Any]) -> str:
    if row["limit"] is None:
        return "—"
    if row["met"] is None:
        return "not measured"
    return "yes" if row["met"] else "**no**"


def format_row(row: dict[str, Any]) -> str:
    if "error" in row:
        return f"{row['id']:<36} ERROR {row['error']}"
    limit = "" if row["limit"] is None else f" (target {row['limit']:.2f}: {verdict_text(row)})"
    return (
        f"{row['id']:<36} unielu {_ms(row['unielu_ms']):>7} ms  {row['baseline']:<20} "
        f"{_ms(row['baseline_ms']):>7} ms  ratio {row['ratio']:5.2f}{limit}"
    )


def format_results(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"model benchmark ({results['scale']}): {m['cpu']}, {m['simd']}, {m['cores']} cores, "
        f"load average {m['load_before']:.1f} before, {m.get('load_after', 0):.1f} after; "
        f"{results['seconds']:.0f} s",
        "ratio = unielu / framework's own (median of interleaved pairs); below 1: unielu faster",
        *(format_row(r) for r in results["rows"]),
    ]
    lines += [f"skipped {g}: {why}" for g, why in results["skipped"].items()]
    return "\n".join(lines)


def save(results: dict[str, Any], path: Path = RESULTS) -> None:
    """Merge the model results into results.json (key ``models``), keeping the rest."""
    data = json.loads(path.read_text()) if path.is_file() else {}
    data["models"] = results
    path.write_text(json.dumps(data, indent=2) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help=f"comma-separated groups of {', '.join(GROUPS)}, keras")
    parser.add_argument("--quick", action="store_true", help="fewer pairs per case")
    parser.add_argument("--smoke", action="store_true", help="each case once, at a tiny size")
    parser.add_argument("--save", action="store_true", help=f"merge the results into {RESULTS}")
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # run one group in this process
    parser.add_argument("--scale", choices=SCALES, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    scale = SMOKE if args.smoke else QUICK if args.quick else FULL
    if args.scale:
        scale = SCALES[args.scale]

    if args.child:
        rows = run_group(args.child, scale, lambda line: print(line, flush=True))
        found = {"rows": rows, "versions": versions(args.child)}
        Path(args.child_out).write_text(json.dumps(found))
        return 0

    try:
        groups = parse_only(args.only)
    except ValueError as error:
        parser.error(str(error))
    missing = [g for g in groups if not installed(g)]
    if args.only and missing:
        parser.error(
            f"--only: not installed here: {', '.join(missing)} "
            f"(they need {', '.join(sorted({m for g in missing for m in GROUPS[g][0]}))})"
        )
    results = run(groups, scale)
    print()
    print(format_results(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")
    if args.save:
        save(results)
        print(f"saved into {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
