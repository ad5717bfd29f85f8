"""The MLX backend's own lines: transformations (grad, vjp, jvp, vmap, compile, to
any order), the layer (unielu.layers.mlx.ELU) beside mlx.nn.ELU, its weights
files, and mx.export_function to a process without unielu."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import mpmath
import numpy as np
import pytest
from reference import ALPHAS, EXACT, grid, ulp, ulp_errors

import unielu

pytestmark = pytest.mark.only("mlx", reason="MLX's transformations, layer and export")

X = [-40.0, -2.0, -1e-7, -0.0, 0.0, 1e-30, 0.5, 3.0]


@pytest.fixture
def mx(backend):
    import mlx.core

    return mlx.core


@pytest.fixture
def nn(backend):
    import mlx.nn

    return mlx.nn


def _np(backend, y):
    return backend.to_numpy(y)


def _worst_ulp(got, x, func, dtype, alpha):
    """Worst error of ``got`` (float64 values) at the points ``x``, against mpmath."""
    a = float(np.float32(alpha)) if dtype != "float64" else alpha
    exact = [EXACT[func](float(v), a) for v in x]
    return max(
        float(abs(mpmath.mpf(y) - e) / ulp(e, dtype)) for y, e in zip(got, exact, strict=True)
    )


# -- values ---------------------------------------------------------------------------


def test_accurate_where_mlx_nn_elu_is_not(backend, mx, nn):
    x = backend.asarray([-1e-7], "float32")
    ours, theirs = float(_np(backend, unielu.elu(x))[0]), float(_np(backend, nn.elu(x))[0])
    assert ours == pytest.approx(np.expm1(np.float32(-1e-7)), rel=1e-7)
    assert abs(theirs / ours - 1) > 0.1, "mlx.nn.elu computes exp(x) - 1 (19% off here)"


@pytest.mark.parametrize("alpha", [1.0, 1.7, 37.0])
def test_derivative_where_exp_underflows_alone(backend, alpha):
    # alpha * exp(x) with exp(x) subnormal or 0 in float32 (MLX's own exp is 0 below -88).
    x = np.array([-87.0, -90.0, -100.0, -103.0], np.float32)
    got = _np(backend, unielu.elu_derivative(backend.asarray(x, "float32"), alpha))
    assert _worst_ulp(got, x, "elu_derivative", "float32", alpha) <= backend.ulp
    assert (got > 0).all()


def test_a_huge_alpha_times_an_underflowing_exp(backend):
    # exp(-120) is below float32's smallest subnormal, 3e38 * exp(-120) is not.
    y = _np(backend, unielu.elu_derivative(backend.asarray([-120.0], "float32"), 3e38))
    expected = np.float32(3e38) * np.exp(-120.0)
    assert y[0] == pytest.approx(expected, rel=2e-7)


def test_float64_is_float64(backend, mx):
    # MLX's own exp computes float64 in float32 precision; unielu's derivative does not.
    x = mx.array(np.array([-700.0, -30.0, -1e-300]), dtype=mx.float64)
    d = np.array(unielu.elu_derivative(x, 1.0))
    np.testing.assert_allclose(d, np.exp([-700.0, -30.0, -1e-300]), rtol=4e-16)
    assert unielu.elu(x).dtype == mx.float64


def test_lazy_result_on_the_default_stream(backend, mx):
    # The result is an unevaluated MLX array, computed where the caller's stream runs.
    stream = mx.new_stream(mx.cpu)
    x = mx.array([-1.0, 2.0])
    with mx.stream(stream):
        y = unielu.elu(x, 0.5)
    mx.eval(y)
    np.testing.assert_allclose(np.array(y), [0.5 * np.expm1(-1.0), 2.0], rtol=1e-7)


def test_out_is_refused_by_name(backend, mx):
    x = mx.array([1.0])
    with pytest.raises(TypeError, match="argument 'out' must be None for mlx arrays"):
        unielu.elu(x, out=x)


def test_alpha_of_another_framework_is_refused_by_name(backend, mx):
    with pytest.raises(TypeError, match="argument 'alpha' must be a real number or an mlx"):
        unielu.elu(mx.array([1.0]), np.array(1.0))


# -- processes and threads (docs/contract.rst) ----------------------------------------


def _work(seed: int) -> tuple[np.ndarray, np.ndarray]:
    import mlx.core as mx

    x = mx.array(np.random.default_rng(seed).normal(0, 3, 5000).astype(np.float32))
    return np.array(unielu.elu(x, 1.7)), np.array(unielu.elu_derivative(x, 0.5))


def _same(got, expected):
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))


def test_threads_give_the_serial_values(backend):
    from concurrent.futures import ThreadPoolExecutor

    expected = [_work(seed) for seed in range(8)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(_work, list(range(8)) * 4))
    for i, got in enumerate(results):
        _same(got, expected[i % 8])


# fork is left out: a child forked after its parent evaluated any MLX array hangs in
# MLX itself (mx.exp alone, MLX 0.32.4), before unielu is called.
@pytest.mark.parametrize("method", ["forkserver", "spawn"])
def test_processes_started_after_use(backend, method):
    import multiprocessing

    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(reason=f"the start method {method!r} does not exist on this platform")
    expected = [_work(seed) for seed in range(4)]
    with multiprocessing.get_context(method).Pool(2) as pool:
        results = pool.map_async(_work, range(4)).get(timeout=120)
    for got, want in zip(results, expected, strict=True):
        _same(got, want)


# -- transformations ------------------------------------------------------------------


@pytest.mark.parametrize("alpha", ALPHAS)
def test_third_derivative_is_exact(backend, mx, alpha):
    x = grid("float32")
    g3 = mx.vmap(mx.grad(mx.grad(mx.grad(lambda v: unielu.elu(v, alpha)))))
    got = _np(backend, g3(backend.asarray(x, "float32")))
    # elu''' = elu'' = alpha * exp(x) for x <= 0, 0 for x > 0.
    filled = np.where(x > 0, 0.0, got)
    errors = ulp_errors(np.where(x > 0, 1.0, filled), "elu_derivative", "float32", alpha, False)
    assert errors.max() <= backend.ulp and (got[x > 0] == 0).all()


def test_forward_over_reverse_and_reverse_over_forward(backend, mx):
    x = backend.asarray(X, "float32")
    ones = mx.ones_like(x)

    def f(v):
        return unielu.elu(v, 1.7)

    expected = _np(backend, mx.vmap(mx.grad(mx.grad(f)))(x))
    over_reverse = mx.jvp(lambda v: mx.vjp(f, [v], [ones])[1][0], [x], [ones])[1][0]
    over_forward = mx.vjp(lambda v: mx.jvp(f, [v], [ones])[1][0], [x], [ones])[1][0]
    np.testing.assert_array_equal(_np(backend, over_reverse), expected)
    np.testing.assert_array_equal(_np(backend, over_forward), expected)
    assert expected[0] == pytest.approx(1.7 * np.exp(-40.0), rel=1e-6)


def test_compile_gives_the_eager_values(backend, mx):
    values = np.concatenate([grid("float32"), [np.nan, np.inf, -np.inf]])
    for dtype in ("float16", "bfloat16", "float32", "float64"):
        x = backend.asarray(values, dtype)
        for func in (unielu.elu, unielu.elu_derivative):
            eager = _np(backend, func(x, 1.7))
            compiled = mx.compile(lambda v, func=func: func(v, 1.7))
            got = _np(backend, compiled(x))
            np.testing.assert_array_equal(got, eager, err_msg=f"{func.__name__} {dtype}")
            assert (np.signbit(got) == np.signbit(eager)).all()


def test_shapeless_compile_is_mlxs_refusal(backend, mx):
    # MLX cannot compile a custom_function (unielu's derivative rules) shapeless:
    # its own error, at the first call. Shaped mx.compile works (above).
    compiled = mx.compile(lambda v: unielu.elu(v, 1.7), shapeless=True)
    with pytest.raises(ValueError, match="CustomTransforms cannot infer output shapes"):
        compiled(mx.array([-1.0, 2.0]))


def test_compiled_training_step_with_an_array_alpha(backend, mx):
    x = backend.asarray(np.linspace(-5, 2, 12).reshape(3, 4), "float32")
    alpha = mx.array([0.5, 1.0, 1.5, 2.0])

    @mx.compile
    def step(a):
        return mx.value_and_grad(lambda b: unielu.elu(x, b).sum())(a)

    value, grad = step(alpha)
    expected = np.where(np.array(x) > 0, 0.0, np.expm1(np.minimum(np.array(x), 0))).sum(0)
    np.testing.assert_allclose(np.array(grad), expected, rtol=1e-6)
    assert float(value) == pytest.approx(float(unielu.elu(x, alpha).sum()), rel=1e-6)


def test_a_new_alpha_and_a_new_shape_compile_nothing(backend, mx, monkeypatch):
    from unielu.backends import mlx as mlx_backend

    x = backend.asarray([-1.0, 2.0], "float32")
    mx.eval(unielu.elu(x, 0.3))
    traced = []
    monkeypatch.setattr(mlx_backend, "_widen", lambda v: traced.append(v.shape) or v)
    for i in range(5):
        mx.eval(unielu.elu(backend.asarray(np.full(3 + i, -1.0), "float32"), 0.4 + i))
    assert traced == [], "the shapeless kernel was traced again"


# -- the layer ------------------------------------------------------------------------


@pytest.fixture
def ELU(backend):
    from unielu.layers.mlx import ELU

    return ELU


@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.7])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_layer_values_and_gradient_are_unielus(backend, mx, ELU, dtype, alpha):
    x = backend.asarray(X, dtype)
    layer = ELU(alpha)
    y = layer(x)
    assert y.dtype == x.dtype
    np.testing.assert_array_equal(_np(backend, y), _np(backend, unielu.elu(x, alpha)))
    g = mx.vmap(mx.grad(layer))(x)
    np.testing.assert_array_equal(_np(backend, g), _np(backend, unielu.elu_derivative(x, alpha)))


def test_layer_is_a_drop_in_for_mlx_nn_elu(backend, mx, nn, ELU):
    ours, theirs = ELU(0.5), nn.ELU(0.5)
    assert isinstance(ours, nn.Module) and ours.parameters() == theirs.parameters() == {}
    x = backend.asarray(np.linspace(-10, 10, 41), "float32")
    np.testing.assert_allclose(_np(backend, ours(x)), _np(backend, theirs(x)), rtol=2e-6)


def test_learned_alpha_is_a_parameter_with_exact_gradient(backend, mx, nn, ELU):
    x = backend.asarray([-40.0, -2.0, -1e-7, -0.0, 0.0, 1.0], "float32")
    layer = ELU(0.5, learn_alpha=True)
    assert set(layer.trainable_parameters()) == {"alpha"} and layer.alpha.shape == ()
    _, grads = nn.value_and_grad(layer, lambda v: layer(v).sum())(x)
    expected = np.expm1([-40.0, -2.0, -1e-7, -0.0, 0.0]).sum()
    assert float(grads["alpha"]) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_weights_round_trip(backend, mx, ELU, tmp_path, suffix):
    layer = ELU(0.5, learn_alpha=True, num_parameters=3)
    layer.alpha = mx.array([0.25, 1.0, 2.0])
    path = str(tmp_path / f"elu{suffix}")
    layer.save_weights(path)
    again = ELU(learn_alpha=True, num_parameters=3)
    again.load_weights(path)
    x = backend.asarray(np.full((2, 3), -1.0), "float32")
    np.testing.assert_array_equal(_np(backend, again(x)), _np(backend, layer(x)))
    np.testing.assert_allclose(
        _np(backend, again(x))[0], np.array([0.25, 1.0, 2.0]) * np.expm1(-1.0), rtol=1e-6
    )


@pytest.mark.parametrize("channel_dim", [-1, 1])
def test_learned_alpha_per_channel(backend, mx, nn, ELU, channel_dim):
    layer = ELU(1.0, learn_alpha=True, num_parameters=3, channel_dim=channel_dim)
    shape = (2, 5, 5, 3) if channel_dim == -1 else (2, 3, 5, 5)
    x = backend.asarray(np.random.default_rng(0).normal(size=shape), "float32")
    _, grads = nn.value_and_grad(layer, lambda v: layer(v).sum())(x)
    values = np.moveaxis(np.array(x), channel_dim, -1).reshape(-1, 3)
    expected = np.where(values > 0, 0.0, np.expm1(np.minimum(values, 0))).sum(0)
    np.testing.assert_allclose(np.array(grads["alpha"]), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="num_parameters=3 needs an input whose dimension"):
        layer(backend.asarray(np.zeros((2, 4)), "float32"))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"alpha": -1.0}, ValueError, "argument 'alpha'"),
        ({"alpha": "1"}, TypeError, "argument 'alpha'"),
        ({"num_parameters": 3}, ValueError, "argument 'num_parameters'"),
        ({"num_parameters": 2.0, "learn_alpha": True}, TypeError, "argument 'num_parameters'"),
    ],
)
def test_layer_bad_arguments(ELU, kwargs, error, match):
    with pytest.raises(error, match=rf"unielu.layers.mlx.ELU\(\) {match}"):
        ELU(**kwargs)


def test_trains_beside_mlx_nn_elu(backend, mx, nn, ELU):
    """The same small model, trained a few steps with unielu's layer and with
    mlx.nn.ELU from the same weights: the losses fall and stay close (the two
    ELUs differ only near 0, and in the gradient below about -17)."""
    import mlx.optimizers as optim

    rng = np.random.default_rng(0)
    inputs = mx.array(rng.normal(size=(64, 4)).astype(np.float32))
    targets = mx.array(np.sin(np.array(inputs).sum(1, keepdims=True)))

    def model(activation):
        mx.random.seed(0)
        return nn.Sequential(nn.Linear(4, 16), activation, nn.Linear(16, 1))

    losses = {}
    for label, activation in (("unielu", ELU(learn_alpha=False)), ("mlx", nn.ELU())):
        net = model(activation)
        optimizer = optim.SGD(learning_rate=0.1)

        def loss(m):
            return nn.losses.mse_loss(m(inputs), targets)

        step = nn.value_and_grad(net, loss)
        history = []
        for _ in range(20):
            value, grads = step(net)
            optimizer.update(net, grads)
            mx.eval(net.parameters(), optimizer.state)
            history.append(float(value))
        losses[label] = history
    assert losses["unielu"][-1] < 0.8 * losses["unielu"][0]
    np.testing.assert_allclose(losses["unielu"], losses["mlx"], rtol=1e-4)


def test_learned_alpha_trains(backend, mx, nn, ELU):
    import mlx.optimizers as optim

    x = mx.array(np.linspace(-4, 1, 50).astype(np.float32))
    target = unielu.elu(x, 2.0)
    layer = ELU(0.5, learn_alpha=True)
    optimizer = optim.SGD(learning_rate=0.05)
    step = nn.value_and_grad(layer, lambda m: ((m(x) - target) ** 2).mean())
    for _ in range(200):
        _, grads = step(layer)
        optimizer.update(layer, grads)
        mx.eval(layer.parameters())
    assert float(layer.alpha) == pytest.approx(2.0, rel=1e-3)


# -- export ---------------------------------------------------------------------------


def _run_without_unielu(tmp_path, path, inputs):
    """The exported function at ``path`` on each of ``inputs``, in a fresh process
    in which unielu cannot be imported: the file alone computes."""
    np.savez(tmp_path / "inputs.npz", *inputs)
    code = textwrap.dedent(f"""
        import sys
        sys.modules["unielu"] = None  # import unielu now raises ImportError
        import mlx.core as mx, numpy as np
        try:
            import unielu
        except ImportError:
            pass
        else:
            raise SystemExit("unielu importable")
        function = mx.import_function({path!r})
        inputs = np.load({str(tmp_path / "inputs.npz")!r})
        outputs = [np.array(function(mx.array(inputs[k]))[0]) for k in sorted(inputs.files)]
        np.savez({str(tmp_path / "outputs.npz")!r}, *outputs)
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert out.returncode == 0, out.stderr
    outputs = np.load(tmp_path / "outputs.npz")
    return [outputs[f"arr_{i}"] for i in range(len(inputs))]


def test_exported_model_runs_without_unielu(backend, mx, nn, ELU, tmp_path):
    from unielu.layers.mlx import export_function

    model = nn.Sequential(nn.Linear(3, 3), ELU(0.5))
    model.update(
        {"layers": [{"weight": mx.eye(3), "bias": mx.zeros(3)}, {}]}  # the identity
    )
    mx.eval(model.parameters())  # evaluated: their graphs would be exported otherwise
    values = np.array([[-1e-7, -2.0, 3.0], [-0.0, -40.0, 1e-30]], np.float32)
    path = str(tmp_path / "model.mlxfn")
    # Shaped: MLX 0.32's shapeless export of nn.Linear computes wrong values.
    export_function(path, model, mx.array(values))
    (got,) = _run_without_unielu(tmp_path, path, [values])
    np.testing.assert_array_equal(got, np.array(model(mx.array(values))))
    assert got[0, 0] == pytest.approx(0.5 * np.expm1(np.float32(-1e-7)), rel=1e-6)


@pytest.mark.parametrize("func", ["elu", "elu_derivative"])
def test_exported_shapeless_function_gives_unielus_values(backend, mx, func, tmp_path):
    from unielu.layers.mlx import export_function

    path = str(tmp_path / "f.mlxfn")
    export_function(path, lambda v: getattr(unielu, func)(v, 1.7), mx.zeros(4), shapeless=True)
    inputs = [grid("float32").astype(np.float32), np.array([-0.0, np.nan, -np.inf], np.float32)]
    for x, got in zip(inputs, _run_without_unielu(tmp_path, path, inputs), strict=True):
        expected = _np(backend, getattr(unielu, func)(mx.array(x), 1.7))
        np.testing.assert_array_equal(got, expected)
        assert (np.signbit(got) == np.signbit(expected)).all()


def test_plain_export_names_the_helper(backend, mx, tmp_path):
    # mx.export_function cannot serialize the derivative rules: unielu's helper can.
    with pytest.raises(ValueError, match="CustomTransforms"):
        mx.export_function(str(tmp_path / "f.mlxfn"), lambda v: unielu.elu(v), mx.zeros(2))


def test_the_docs_example_runs(backend, tmp_path, monkeypatch):
    from models import run_examples

    monkeypatch.chdir(tmp_path)  # the example writes its files to the working directory
    run_examples("mlx")


def test_imports_mlx_only(backend):
    others = "{'torch', 'keras', 'tensorflow', 'jax'}"
    code = f"import sys, unielu.layers.mlx; print(sorted({others} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
