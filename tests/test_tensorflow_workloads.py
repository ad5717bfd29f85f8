"""TensorFlow workloads: every route an eager or traced call can take gives the
contract's values; alpha is data (no trace or compilation per value); eager
shapes seen once compile nothing; an array alpha is checked and
differentiable; nothing is printed inside a user's tf.function; the gradient under
XLA computes one exp."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from reference import grid, ulp_errors

import unielu

tf = pytest.importorskip("tensorflow", reason="needs tensorflow (its own session has it)")
tfb = pytest.importorskip(
    "unielu.backends.tensorflow", reason="needs its framework (its own session has it)"
)

pytestmark = pytest.mark.only("tensorflow", reason="TensorFlow's own execution routes")

FUNCS = ("elu", "elu_derivative")
DTYPES = ("float16", "bfloat16", "float32", "float64")
SPECIALS = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0])


def _float64(y):
    return tf.cast(y, tf.float64).numpy()


class Spy:
    """Which compiled form (XLA or not) each eager call took, and the traces made."""

    def __init__(self, traced):
        self.traced, self.jit = traced, []

    def __call__(self, func, array_alpha, dtype, jit):
        self.jit.append(jit)
        return self.traced(func, array_alpha, dtype, jit)

    def traces(self):
        return self.traced.cache_info().misses


@pytest.fixture
def spy(monkeypatch):
    """Forget the eager shapes seen so far; watch the calls of traced functions."""
    monkeypatch.setattr(tfb, "_SEEN", {})
    watcher = Spy(tfb._traced)
    monkeypatch.setattr(tfb, "_traced", watcher)
    return watcher


def _first_call(func, x, alpha):
    return getattr(unielu, func)(x, alpha)


def _eager_uncompiled(func, x, alpha):
    tfb._SEEN.clear()
    with tf.GradientTape():  # a tape rules out the NumPy path
        return getattr(unielu, func)(x, alpha)


def _eager_xla(func, x, alpha):
    with tf.GradientTape():
        getattr(unielu, func)(x, alpha)
        return getattr(unielu, func)(x, alpha)  # the shape again: compiled


def _in_function(func, x, alpha):
    return tf.function(lambda v: getattr(unielu, func)(v, alpha))(x)


def _in_function_unknown_shape(func, x, alpha):
    spec = tf.TensorSpec(None, x.dtype)
    return tf.function(lambda v: getattr(unielu, func)(v, alpha), input_signature=[spec])(x)


def _in_jit_function(func, x, alpha):
    return tf.function(lambda v: getattr(unielu, func)(v, alpha), jit_compile=True)(x)


ROUTES = {
    "eager-first-call": _first_call,
    "eager-uncompiled": _eager_uncompiled,
    "eager-xla": _eager_xla,
    "tf.function": _in_function,
    "tf.function-unknown-shape": _in_function_unknown_shape,
    "tf.function-jit_compile": _in_jit_function,
}


@pytest.mark.parametrize("alpha_kind", ["number", "tensor"])
@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.7])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("func", FUNCS)
def test_every_route_meets_the_contract(backend, func, route, dtype, alpha, alpha_kind):
    x = grid(dtype)
    # A tensor alpha in the compute dtype (float32 for half precisions), as its value
    compute = "float64" if dtype == "float64" else "float32"
    a = alpha if alpha_kind == "number" else tf.constant(alpha, compute)
    y = ROUTES[route](func, backend.asarray(np.concatenate([x, SPECIALS]), dtype), a)
    assert y.dtype.name == dtype and y.shape == (x.size + SPECIALS.size,)
    got = _float64(y)
    errors = ulp_errors(got[: x.size], func, dtype, alpha, True)
    i = int(np.argmax(errors))
    assert errors.max() <= backend.ulp, f"{errors[i]:.2f} ULP at x={x[i]!r}"
    special = got[x.size :]
    if func == "elu":
        a32 = float(np.float32(alpha)) if dtype != "float64" else alpha
        assert np.isnan(special[0]) and special[1] == np.inf
        assert special[2] == pytest.approx(-a32, rel=2**-7)
        assert special[3] == 0 and np.signbit(special[3]), "elu(-0.0) is -0.0"
        assert special[4] == 0 and not np.signbit(special[4]), "elu(+0.0) is +0.0"
    else:
        assert np.isnan(special[0]) and special[1] == 1 and special[2] == 0


def test_distinct_eager_shapes_compile_nothing(backend, spy):
    # With a tape (no NumPy path): each new shape runs uncompiled.
    rng = np.random.default_rng(0)
    sizes = rng.integers(70_000, 110_000, 12)
    with tf.GradientTape():
        for n in sizes:
            unielu.elu(tf.constant(rng.normal(size=n).astype(np.float32)), 1.5)
    assert spy.jit == [False] * len(sizes)


def test_a_shape_seen_again_is_compiled(backend, spy):
    x = tf.constant(np.linspace(-3, 3, 1000, dtype=np.float32))
    with tf.GradientTape():
        first, again = unielu.elu(x, 1.5), unielu.elu(x, 1.5)
    assert spy.jit == [False, True]
    # XLA's expm1 and TF's own may round differently: within the contract's ULP.
    np.testing.assert_allclose(first.numpy(), again.numpy(), rtol=backend.ulp * 2.0**-23)


def test_host_tensors_without_a_tape_use_no_function(backend, spy):
    for n in (16, 1000, 100_000, 1_000_003):  # the last one: a first sighting
        unielu.elu(tf.ones([n]), 1.5)
    assert spy.jit == []


@pytest.mark.parametrize("alpha_kind", ["number", "tensor"])
def test_new_alpha_values_trace_and_compile_nothing(backend, spy, caplog, alpha_kind):
    x = tf.constant(np.linspace(-3, 3, 1000, dtype=np.float32))
    with tf.GradientTape():
        unielu.elu(x, 1.0 if alpha_kind == "number" else tf.constant(1.0))
        unielu.elu(x, 1.0 if alpha_kind == "number" else tf.constant(1.0))
        traces = spy.traces()
        for i in range(30):
            value = 0.5 + i / 10
            y = unielu.elu(x, value if alpha_kind == "number" else tf.constant(value))
            np.testing.assert_allclose(y.numpy()[0], value * np.expm1(-3.0), rtol=1e-6)
    # The shape's one XLA-compiled function, for every alpha; no new trace.
    assert spy.jit == [False] + [True] * 31
    assert spy.traces() == traces
    assert "retracing" not in caplog.text


def test_tensor_alpha_in_a_user_function_does_not_retrace(backend):
    traces = []

    @tf.function
    def f(v, a):
        traces.append(1)
        return unielu.elu(v, a)

    x = tf.constant([-1.0, 2.0])
    for value in (0.5, 1.0, 2.5):
        y = f(x, tf.constant(value))
        np.testing.assert_allclose(y.numpy(), [value * np.expm1(-1.0), 2.0], rtol=1e-6)
    assert len(traces) == 1


def test_nothing_is_printed_inside_a_users_tf_function(backend, tmp_path):
    """A fresh process: TF's own start-up and first XLA compilation are done
    first; then unielu in user functions (first trace, gradients, unknown
    shapes, half precision) adds nothing to stdout or stderr, no warning and no
    log record."""
    script = textwrap.dedent(
        """
        import json, logging, sys, warnings
        import tensorflow as tf
        import unielu

        records = []
        class Keep(logging.Handler):
            def emit(self, record):
                records.append(record.getMessage())
        logging.getLogger().addHandler(Keep(level=logging.DEBUG))

        # TensorFlow's own one-time output (INFO lines): start-up, XLA eager and
        # nested in a graph (as any use of XLA prints once), half precision.
        x = tf.constant([-1.0, 0.0, 2.0])
        tf.function(lambda v: tf.nn.elu(v))(x)
        compiled = tf.function(lambda v: tf.exp(v) + tf.nn.elu(v), jit_compile=True)
        compiled(x), tf.function(lambda v: compiled(v))(x)
        tf.cast(x, tf.float16), tf.cast(x, tf.bfloat16)
        sys.stdout.flush(); sys.stderr.flush()
        print("=== unielu", flush=True); print("=== unielu", file=sys.stderr, flush=True)
        records.clear()

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")

            @tf.function
            def step(v, a):
                with tf.GradientTape(persistent=True) as tape:
                    tape.watch(v)
                    y = unielu.elu(v, 1.7) + unielu.elu(v, a) + unielu.elu_derivative(v, 0.5)
                    h = unielu.elu(tf.cast(v, tf.float16), 2.0)
                return y, h, tape.gradient(y, v), tape.gradient(y, a)

            spec = [tf.TensorSpec(None)]
            unknown = tf.function(lambda v: unielu.elu(v, 1.2), input_signature=spec)
            a = tf.Variable(1.3)
            for n in (3, 4, 5):
                v = tf.linspace(-3.0, 3.0, n)
                step(v, a)
                unknown(v)
        sys.stdout.flush(); sys.stderr.flush()
        print("=== done", flush=True); print("=== done", file=sys.stderr, flush=True)
        print(json.dumps({"warnings": [str(w.message) for w in caught], "records": records}))
        """
    )
    path = tmp_path / "user_function.py"
    path.write_text(script)
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (os.getcwd(), env.get("PYTHONPATH")) if p)
    run = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, env=env, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]

    def between(text):
        return text.split("=== unielu\n", 1)[1].split("=== done\n", 1)[0]

    assert between(run.stdout) == "", between(run.stdout)
    assert between(run.stderr) == "", between(run.stderr)
    reported = json.loads(run.stdout.rsplit("\n", 2)[-2])
    assert reported == {"warnings": [], "records": []}


def test_inside_tf_data_map(backend):
    values = np.linspace(-4, 4, 24, dtype=np.float32).reshape(6, 4)
    ds = tf.data.Dataset.from_tensor_slices(values).batch(2)
    got = np.concatenate([y.numpy() for y in ds.map(lambda v: unielu.elu(v, 1.5))])
    np.testing.assert_allclose(got, unielu.elu(values, 1.5), rtol=1e-6)


# -- alpha arrays -----------------------------------------------------------------


@pytest.mark.parametrize(
    "alpha",
    [np.ones(3), np.ones((), np.float32), "tensor of bool", "tensor of complex"],
    ids=["numpy-array", "numpy-0-d", "bool", "complex64"],
)
@pytest.mark.parametrize("func", FUNCS)
def test_alpha_of_another_kind_or_dtype_raises_type_error(backend, func, alpha):
    x = tf.ones([2, 3])
    if isinstance(alpha, str):
        alpha = tf.ones([3], tf.bool if "bool" in alpha else tf.complex64)
    with pytest.raises(TypeError, match=r"argument 'alpha' must be .*tf.Tensor or tf.Variable"):
        getattr(unielu, func)(x, alpha)


@pytest.mark.parametrize("shape", [(2,), (4, 3), (2, 2, 3), (3, 1, 1)])
@pytest.mark.parametrize("func", FUNCS)
def test_alpha_that_would_change_the_shape_raises_value_error(backend, func, shape):
    with pytest.raises(ValueError, match=r"argument 'alpha' of shape .* does not broadcast"):
        getattr(unielu, func)(tf.ones([2, 3]), tf.ones(shape))


def test_alpha_with_unknown_dimensions_in_a_function(backend):
    spec = tf.TensorSpec([None, 3])
    f = tf.function(lambda v, a: unielu.elu(v, a), input_signature=[spec, tf.TensorSpec([None])])
    y = f(tf.constant([[-1.0, 0.0, 2.0]] * 2), tf.constant([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(y.numpy()[0], [np.expm1(-1.0), 0.0, 2.0], rtol=1e-6)


@pytest.mark.parametrize("alpha_dtype", ["float16", "float64", "int32", "int64", "bfloat16"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_result_keeps_the_dtype_of_x(backend, dtype, alpha_dtype):
    x = backend.asarray([-2.0, -0.5, 0.0, 3.0], dtype)
    alpha = tf.cast(tf.constant([2.0, 2.0, 2.0, 2.0]), alpha_dtype)
    for func in FUNCS:
        y = getattr(unielu, func)(x, alpha)
        assert y.dtype.name == dtype
        expected = getattr(unielu, func)(_float64(x), 2.0)
        np.testing.assert_allclose(_float64(y), expected, rtol=2**-7)


def test_alpha_on_the_input_device(backend):
    with tf.device("/CPU:1"):
        x = tf.constant([-1.0, 1.0])
        a = tf.constant([2.0, 3.0])
    for func in FUNCS:
        assert getattr(unielu, func)(x, a).device == x.device


@pytest.mark.parametrize("where", ["eager", "tf.function", "jit_compile"])
def test_second_derivatives_with_a_variable_alpha(backend, where):
    x = tf.constant([-30.0, -2.0, -0.0, 0.0, 1e-3, 3.0])
    alpha = tf.Variable([1.5, 1.5, 0.5, 0.5, 2.0, 2.0])

    def grads(v):
        with tf.GradientTape(persistent=True) as outer:
            outer.watch(v)
            with tf.GradientTape() as inner:
                inner.watch(v)
                y = unielu.elu(v, alpha)
            gx, ga = inner.gradient(y, [v, alpha])
        return outer.gradient(gx, alpha), outer.gradient(ga, v), outer.gradient(ga, alpha)

    run = {
        "eager": grads,
        "tf.function": tf.function(grads),
        "jit_compile": tf.function(grads, jit_compile=True),
    }[where]
    dx_dalpha, dalpha_dx, dalpha2 = run(x)
    expected = np.where(x.numpy() > 0, 0.0, np.exp(np.minimum(x.numpy(), 0)))
    np.testing.assert_allclose(dx_dalpha.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(dalpha_dx.numpy(), expected, rtol=1e-6)
    assert dalpha2 is None or not np.any(dalpha2.numpy())


@pytest.mark.parametrize("source", ["graph input", "after arithmetic"])
def test_ops_in_a_users_function_are_marked_for_xla(backend, source):
    """Inside a user's tf.function (no jit_compile, unknown shape) unielu's ops carry
    jit_scope's mark, which TF's clustering compiles per run-time shape; the call
    itself is not marked for XLA (tf2onnx could not inline it)."""
    pre = (lambda v: v * 2.0) if source == "after arithmetic" else tf.identity
    f = tf.function(lambda v: unielu.elu(pre(v), 1.5))
    graph = f.get_concrete_function(tf.TensorSpec([None], tf.float32)).graph
    library = graph.as_graph_def().library.function
    marked = [
        node.attr["_XlaCompile"].b
        for function in library
        for node in function.node_def
        if node.op in ("Exp", "SelectV2", "Mul")
    ]
    assert marked and all(marked), marked
    calls = [op for op in graph.get_operations() if op.type.endswith("PartitionedCall")]
    assert calls and not any(op.node_def.attr["_XlaMustCompile"].b for op in calls)


@pytest.mark.parametrize("alpha", [1.0, 1.5])
@pytest.mark.parametrize("source", ["graph input", "after arithmetic"])
def test_the_gradient_under_xla_computes_one_exp(backend, source, alpha):
    """The derivative needs one exp per element; with alpha 1, XLA's simplifier
    would turn a product ``e * e`` of the same exp into a second exp."""
    x = tf.constant(np.linspace(-100, 3, 4096, dtype=np.float32))
    b = tf.zeros([])

    @tf.function(jit_compile=True)
    def gradient(x, b):
        with tf.GradientTape() as tape:
            tape.watch([x, b])
            v = x + b if source == "after arithmetic" else x
            loss = tf.reduce_sum(unielu.elu(v, alpha) * x)
        return tape.gradient(loss, b if source == "after arithmetic" else x)

    hlo = gradient.experimental_get_compiler_ir(x, b)(stage="optimized_hlo")
    assert hlo.count("exponential(") == 1, hlo
