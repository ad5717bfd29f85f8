"""PaddlePaddle: autograd to every order, paddle.jit.to_static (AST and SOT), the layer
(unielu.layers.paddle.ELU), saving and loading, training beside paddle.nn.ELU, and a
saved program run in a fresh process without unielu (docs/backends/paddle.rst).
"""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from deployment import ALPHA, ONNX_RUN, assert_within_contract
from deployment import run_fresh as run_without_unielu
from models import STEPS, compare_curves, data, run_examples

import unielu

pytestmark = pytest.mark.only("paddle", reason="PaddlePaddle")

X = [-100.0, -40.0, -30.0, -2.0, -1e-7, -1e-30, -0.0, 0.0, 1e-30, 0.5, 3.0, 1e4]
#: One ULP of each dtype, relative.
RTOL = {"float16": 2.0**-10, "bfloat16": 2.0**-7, "float32": 2.0**-23, "float64": 2.0**-51}
MODES = {"AST": True, "SOT": False}  # paddle.jit.to_static(full_graph=...)


@pytest.fixture
def paddle(backend):
    return backend.paddle


def leaf(paddle, values, dtype="float64"):
    t = paddle.to_tensor(np.asarray(values, dtype=dtype))
    t.stop_gradient = False
    return t


def same(a, b):
    """Equal values, NaN where NaN, and the signs of zeros."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.signbit(a), np.signbit(b))


# -- autograd --------------------------------------------------------------------------


def test_gradient_at_minus_40_is_exact_where_paddles_is_zero(paddle):
    x = leaf(paddle, [-40.0])
    (ours,) = paddle.grad(unielu.elu(x).sum(), x)
    (theirs,) = paddle.grad(paddle.nn.functional.elu(x).sum(), x)
    assert ours.item() == math.exp(-40.0)
    assert theirs.item() == 0, "Paddle's gradient is y + 1, computed from the output"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.7])
def test_derivatives_of_every_order(paddle, dtype, alpha):
    # d/dx elu = elu_derivative; below 0 each further derivative is the same alpha * exp(x).
    x = leaf(paddle, X, dtype)
    y = unielu.elu(x, alpha)
    expected = unielu.elu_derivative(x.detach(), alpha).numpy()
    negative = np.asarray(X) <= 0
    for order in (1, 2, 3):
        (y,) = paddle.grad(y.sum(), x, create_graph=True)
        want = expected if order == 1 else np.where(negative, expected, 0.0)
        np.testing.assert_array_equal(y.numpy(), want.astype(dtype), err_msg=f"order {order}")


def test_alpha_tensor_gradient_is_expm1(paddle):
    x = paddle.to_tensor([-40.0, -1.0, -1e-30, 0.0, 2.0], dtype="float64")
    alpha = leaf(paddle, 1.5)
    (g,) = paddle.grad(unielu.elu(x, alpha).sum(), alpha)
    assert g.item() == pytest.approx(math.expm1(-40) + math.expm1(-1) - 1e-30, rel=1e-15)


# -- paddle.jit.to_static --------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
@pytest.mark.parametrize("func", ["elu", "elu_derivative"])
def test_to_static_gives_the_eager_values(backend, paddle, func, dtype, mode):
    def f(v):
        return getattr(unielu, func)(v, 1.7)

    x = backend.asarray([*X, math.nan, math.inf, -math.inf], dtype)
    compiled = paddle.jit.to_static(f, full_graph=MODES[mode])
    # Within a ULP: the graph computes in float64 with Paddle's expm1 and rounds
    # once, eager with unielu's kernel; signs of zeros the same.
    got, want = backend.to_numpy(compiled(x)), backend.to_numpy(f(x))
    assert backend.dtype_name(compiled(x)) == dtype
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=0)


@pytest.mark.parametrize("mode", MODES)
def test_to_static_gradients_are_exact(paddle, mode):
    def f(v):
        return unielu.elu(v, 1.7)

    x = leaf(paddle, X)
    compiled = paddle.jit.to_static(f, full_graph=MODES[mode])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Paddle's own, building the backward program
        y = compiled(x)
    y.sum().backward()
    np.testing.assert_allclose(
        x.grad.numpy(), unielu.elu_derivative(x.detach(), 1.7).numpy(), rtol=2**-50
    )
    assert x.grad.numpy()[1] == pytest.approx(1.7 * math.exp(-40), rel=1e-15)


@pytest.mark.parametrize("mode", MODES)
def test_to_static_layer_with_a_learned_alpha_per_channel(paddle, mode):
    from unielu.layers.paddle import ELU

    layer = ELU(learn_alpha=True, num_parameters=3)
    layer.alpha.set_value(paddle.to_tensor([0.5, 1.0, 2.0]))
    x = paddle.to_tensor(np.linspace(-3, 3, 24, dtype=np.float32).reshape(2, 3, 4))
    eager = layer(x)
    eager.sum().backward()
    eager_grad = layer.alpha.grad.numpy().copy()
    layer.clear_gradients()
    static = paddle.jit.to_static(layer, full_graph=MODES[mode])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = static(x)
    y.sum().backward()
    np.testing.assert_allclose(y.numpy(), eager.numpy(), rtol=2e-7)
    np.testing.assert_allclose(layer.alpha.grad.numpy(), eager_grad, rtol=1e-6)


# -- threads and processes ---------------------------------------------------------------


def _large(paddle, seed):
    from unielu.backends import numpy as numpy_backend

    n = 2 * numpy_backend.PARALLEL_MIN  # the NumPy kernel's threaded path
    values = np.random.default_rng(seed).uniform(-20, 5, n).astype(np.float32)
    return values, paddle.to_tensor(values)


def test_threads_make_large_calls_at_once(paddle):
    from concurrent.futures import ThreadPoolExecutor

    inputs = [_large(paddle, seed) for seed in range(6)]
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda pair: unielu.elu(pair[1], 1.7).numpy(), inputs))
    for (values, _), got in zip(inputs, results, strict=True):
        same(got, np.asarray(unielu.elu(values, 1.7)))


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_forked_child_after_a_large_call(paddle):
    import multiprocessing

    values, x = _large(paddle, 7)
    expected = unielu.elu(x, 1.7).numpy()  # the parent's pools exist now
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        got = pool.apply(_child_elu, (values,))
    same(got, expected)


def _child_elu(values):
    import paddle

    return unielu.elu(paddle.to_tensor(values), 1.7).numpy()


# -- the layer -------------------------------------------------------------------------


@pytest.fixture
def ELU(backend):
    from unielu.layers.paddle import ELU

    return ELU


@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.7])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_layer_values_and_gradient_are_unielus(backend, paddle, ELU, dtype, alpha):
    x = backend.asarray(X, dtype)
    x.stop_gradient = False
    y = ELU(alpha)(x)
    assert y.dtype == x.dtype
    same(backend.to_numpy(y), backend.to_numpy(unielu.elu(x.detach(), alpha)))
    (g,) = paddle.grad(y.sum(), x)
    same(backend.to_numpy(g), backend.to_numpy(unielu.elu_derivative(x.detach(), alpha)))


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_layer_is_a_drop_in_for_nn_elu(paddle, ELU, alpha):
    ours, theirs = ELU(alpha), paddle.nn.ELU(alpha)
    assert repr(ours) == repr(theirs)
    assert dict(ours.state_dict()) == dict(theirs.state_dict()) == {}
    x = paddle.to_tensor(np.linspace(-10, 10, 41, dtype=np.float32))
    np.testing.assert_allclose(ours(x).numpy(), theirs(x).numpy(), rtol=1e-6, atol=1e-7)
    tiny = paddle.to_tensor([-1e-7])
    assert ours(tiny).item() == pytest.approx(-alpha * 1e-7, rel=1e-7)
    assert theirs(tiny).item() != pytest.approx(-alpha * 1e-7, rel=1e-2), "exp(x) - 1"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_learned_scalar_alpha(paddle, ELU, dtype):
    layer = ELU(1.5, learn_alpha=True, dtype=dtype)
    assert layer.alpha.shape == [] and str(layer.alpha.dtype) == f"paddle.{dtype}"
    assert list(layer.state_dict()) == ["alpha"]
    x = paddle.to_tensor(np.array([-2.0, -1e-30, 0.0, 3.0], dtype))
    layer(x).sum().backward()
    assert layer.alpha.grad.item() == pytest.approx(math.expm1(-2.0) - 1e-30, rel=1e-6)


@pytest.mark.parametrize("channel_dim", [1, -1])
def test_learned_alpha_per_channel(paddle, ELU, channel_dim):
    layer = ELU(learn_alpha=True, num_parameters=3, channel_dim=channel_dim)
    layer.alpha.set_value(paddle.to_tensor([0.5, 1.0, 2.0]))
    shape = (2, 3, 4) if channel_dim == 1 else (2, 4, 3)
    x = paddle.to_tensor(np.full(shape, -1.0, np.float32))
    y = layer(x)
    expected = np.moveaxis(np.broadcast_to(np.array([0.5, 1.0, 2.0])[:, None], (3, 8)), 0, 0)
    per_channel = np.moveaxis(y.numpy(), channel_dim, 0).reshape(3, -1)
    np.testing.assert_allclose(per_channel, expected * math.expm1(-1.0), rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(layer.alpha.grad.numpy(), [8 * math.expm1(-1.0)] * 3, rtol=1e-6)


def test_per_channel_alpha_must_match_the_input(paddle, ELU):
    layer = ELU(learn_alpha=True, num_parameters=3)
    with pytest.raises(ValueError, match=r"num_parameters=3.*dimension 1 .*size 3.*'x'"):
        layer(paddle.zeros([2, 4]))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"alpha": -1.0}, ValueError, r"'alpha' must be finite and >= 0"),
        ({"alpha": "1"}, TypeError, r"'alpha' must be a real number"),
        ({"num_parameters": 3}, ValueError, r"'num_parameters' must be 1"),
        ({"learn_alpha": True, "num_parameters": 0}, ValueError, r"'num_parameters'"),
        ({"learn_alpha": True, "num_parameters": 2.0}, TypeError, r"'num_parameters'"),
    ],
)
def test_layer_bad_arguments(ELU, kwargs, error, match):
    with pytest.raises(error, match=match):
        ELU(**kwargs)


def model(paddle, activation):
    paddle.seed(0)
    layers = [paddle.nn.Linear(4, 16), activation(), paddle.nn.Linear(16, 16), activation()]
    return paddle.nn.Sequential(*layers, paddle.nn.Linear(16, 1))


@pytest.mark.parametrize("learn", [False, True])
def test_paddle_save_and_load(paddle, ELU, tmp_path, learn):
    net = model(paddle, lambda: ELU(0.7, learn_alpha=learn))
    x = paddle.to_tensor(data("float32")[0])
    paddle.save(net.state_dict(), str(tmp_path / "net.pdparams"))
    again = model(paddle, lambda: ELU(0.2 if learn else 0.7, learn_alpha=learn))
    again.set_state_dict(paddle.load(str(tmp_path / "net.pdparams")))
    if learn:
        assert again[1].alpha.item() == pytest.approx(0.7)
    same(again(x).numpy(), net(x).numpy())


def test_training_matches_nn_elu(paddle, ELU):
    paddle.set_default_dtype("float64")
    try:
        x, y = (paddle.to_tensor(a) for a in data())
        curves = []
        for activation in (lambda: ELU(1.0), lambda: paddle.nn.ELU(1.0)):
            net = model(paddle, activation)  # same seed: same initial weights
            optimizer = paddle.optimizer.SGD(learning_rate=0.05, parameters=net.parameters())
            losses = []
            for _ in range(STEPS):
                loss = paddle.mean((net(x) - y) ** 2)
                loss.backward()
                optimizer.step()
                optimizer.clear_grad()
                losses.append(loss.item())
            curves.append(losses)
    finally:
        paddle.set_default_dtype("float32")
    compare_curves(*curves, "float64", "Paddle: unielu ELU vs paddle.nn.ELU")


def test_docs_example_runs(paddle):
    run_examples("paddle")


# -- deployment ------------------------------------------------------------------------

# In the fresh process unielu cannot even be imported: a saved program that needed it fails.
BLOCK_UNIELU = """
class NoUnielu:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "unielu":
            raise ImportError("unielu is not importable in this process")
sys.meta_path.insert(0, NoUnielu())
"""


def saved_model(paddle, tmp_path, learn=False):
    from unielu.layers.paddle import ELU

    linear = paddle.nn.Linear(1, 1)
    linear.weight.set_value(paddle.ones([1, 1]))
    linear.bias.set_value(paddle.zeros([1]))
    net = paddle.nn.Sequential(linear, ELU(ALPHA, learn_alpha=learn))
    net.eval()
    spec = [paddle.static.InputSpec([None, 1], "float32", name="x")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        paddle.jit.save(net, str(tmp_path / "model"), input_spec=spec)
    files = sorted(p for p in tmp_path.iterdir() if p.name.startswith("model."))
    assert files, list(tmp_path.iterdir())
    return net, files


@pytest.mark.parametrize("learn", [False, True], ids=["alpha", "learn_alpha"])
def test_jit_save_runs_in_jit_load_without_unielu(paddle, tmp_path, learn):
    _, files = saved_model(paddle, tmp_path, learn)
    y = run_without_unielu(
        BLOCK_UNIELU
        + f"""
        import paddle
        model = paddle.jit.load({str(tmp_path / "model")!r})
        y = model(paddle.to_tensor(x)).numpy()
        """.replace("\n        ", "\n"),
        *files,
    )
    assert_within_contract(y, f"paddle.jit.save -> paddle.jit.load (learn_alpha={learn})")


def test_jit_save_runs_in_paddle_inference_without_unielu(paddle, tmp_path):
    _, files = saved_model(paddle, tmp_path)
    program = next(p for p in files if p.suffix in (".json", ".pdmodel"))
    y = run_without_unielu(
        BLOCK_UNIELU
        + f"""
        import paddle.inference as infer
        config = infer.Config({str(program)!r}, {str(tmp_path / "model.pdiparams")!r})
        config.disable_gpu()
        predictor = infer.create_predictor(config)
        handle = predictor.get_input_handle(predictor.get_input_names()[0])
        handle.copy_from_cpu(x)
        predictor.run()
        y = predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu()
        """.replace("\n        ", "\n"),
        *files,
    )
    assert_within_contract(y, "paddle.jit.save -> paddle.inference")


@pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("paddle2onnx", "onnxruntime")),
    reason="needs paddle2onnx and onnxruntime (docs/backends/paddle.rst says where they install)",
)
def test_paddle2onnx_export_runs_in_onnxruntime(paddle, tmp_path):
    _, files = saved_model(paddle, tmp_path)
    program = next(p for p in files if p.suffix in (".json", ".pdmodel"))
    out = subprocess.run(
        [sys.executable, "-m", "paddle2onnx.command", "--model_dir", str(tmp_path),
         "--model_filename", program.name, "--params_filename", "model.pdiparams",
         "--save_file", str(tmp_path / "model.onnx")],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    y = run_without_unielu(
        ONNX_RUN.format(path=str(tmp_path / "model.onnx")), tmp_path / "model.onnx"
    )
    assert_within_contract(y, "paddle2onnx, ONNX Runtime")


def test_first_call_inside_to_static_ast_after_importing_paddle_first(paddle, tmp_path):
    # AST mode rewrites the functions a program calls unless their module is
    # ignored, which the backend asks for when loaded: at `import unielu` when
    # Paddle is already imported (load_early).
    code = textwrap.dedent(
        """
        import numpy as np, paddle, unielu

        def f(v):
            return unielu.elu(v, 1.7)

        y = paddle.jit.to_static(f, full_graph=True)(paddle.to_tensor([-1e-7, -0.0, 2.0]))
        np.testing.assert_allclose(y.numpy(), [-1.7e-7, 0.0, 2.0], rtol=1e-7)
        assert np.signbit(y.numpy()[1])
        """
    )
    (tmp_path / "first.py").write_text(code)  # AST mode reads f's source from its file
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, str(tmp_path / "first.py")], capture_output=True, text=True, cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]


def test_imports_paddle_only_when_asked(backend):
    code = textwrap.dedent(
        """
        import sys, unielu, unielu.layers
        assert "paddle" not in sys.modules, "import unielu imported paddle"
        import paddle
        import unielu.layers.paddle
        assert "torch" not in sys.modules and "tensorflow" not in sys.modules
        """
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert out.returncode == 0, out.stderr[-3000:]
