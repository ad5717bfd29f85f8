"""Deployment paths (docs/models.rst, "Deploying"): each exports the same small model
(Linear -> unielu's ELU(1.7)), runs the artifact where the format allows in a fresh
process that never imports unielu, and compares its outputs with eager
``unielu.elu`` within the contract (5 ULP in float32; -1e-30 gives -1.7e-30, not 0).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
ALPHA = 1.7
#: The model's inputs; its Linear layer is the identity, so the ELU sees these.
INPUTS = np.float32([-30, -1, -1e-6, -1e-30, -0.0, 0, 1e-6, 0.5, 3]).reshape(-1, 1)
TINY = 3  # the row of -1e-30


def expected() -> np.ndarray:
    import unielu

    return np.asarray(unielu.elu(INPUTS.ravel(), ALPHA)).reshape(INPUTS.shape)


def assert_within_contract(got: np.ndarray, label: str) -> None:
    """got (float32) within 5 ULP of eager unielu.elu, -1e-30 kept."""
    want = expected()
    got = np.asarray(got, np.float32).reshape(want.shape)
    spacing = np.spacing(np.abs(want)).astype(np.float64)
    ulps = np.abs(got.astype(np.float64) - want.astype(np.float64)) / spacing
    print(f"\n{label}: max {ulps.max():.2f} ULP from eager unielu.elu")
    assert ulps.max() <= 5, (label, got.ravel(), want.ravel())
    assert got[TINY, 0] == pytest.approx(-ALPHA * 1e-30, rel=1e-6), f"{label}: -1e-30 lost"


def run_fresh(code: str, *files: Path) -> np.ndarray:
    """Run code in a new interpreter without unielu; it saves its outputs as ``y.npy``
    next to the first file. unielu's checkout is not on its path at all."""
    out_path = files[0].parent / "y.npy"
    np.save(files[0].parent / "x.npy", INPUTS)
    prologue = f"import sys, numpy as np\nx = np.load({str(files[0].parent / 'x.npy')!r})\n"
    epilogue = (
        f"\nnp.save({str(out_path)!r}, np.asarray(y, np.float32))\n"
        "assert not any(m == 'unielu' or m.startswith('unielu.') for m in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", prologue + textwrap.dedent(code) + epilogue],
        capture_output=True,
        text=True,
        env=env,
        cwd=files[0].parent,  # not the checkout: unielu cannot be imported from there
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return np.load(out_path)


ONNX_RUN = """
import onnxruntime as ort
session = ort.InferenceSession({path!r})
(y,) = session.run(None, {{session.get_inputs()[0].name: x}})
"""


# -- PyTorch ------------------------------------------------------------------------


def torch_model(torch, activation=None):
    from unielu.layers.torch import ELU

    linear = torch.nn.Linear(1, 1)
    with torch.no_grad():
        linear.weight.fill_(1.0)
        linear.bias.fill_(0.0)
    return torch.nn.Sequential(linear, (activation or ELU)(ALPHA)).eval()


@pytest.mark.only("torch", reason="torch.export")
@pytest.mark.parametrize("strict", [False, True])
def test_torch_export_runs_without_unielu(backend, tmp_path, strict):
    torch = backend.torch
    program = torch.export.export(torch_model(torch), (torch.from_numpy(INPUTS),), strict=strict)
    ops = {str(node.target) for node in program.graph.nodes if node.op == "call_function"}
    assert not [op for op in ops if "unielu" in op], ops
    torch.export.save(program, tmp_path / "model.pt2")
    y = run_fresh(
        f"""
        import torch
        program = torch.export.load({str(tmp_path / "model.pt2")!r})
        y = program.module()(torch.from_numpy(x)).detach().numpy()
        """,
        tmp_path / "model.pt2",
    )
    assert_within_contract(y, f"torch.export (strict={strict})")


@pytest.mark.only("torch", reason="torch.onnx.export")
def test_torch_onnx_export_default_call(backend, tmp_path):
    """The default call (the dynamo exporter), no translation table."""
    torch = backend.torch
    pytest.importorskip("onnxscript", reason="torch.onnx.export needs onnxscript")
    torch.onnx.export(torch_model(torch), (torch.from_numpy(INPUTS),), tmp_path / "model.onnx")
    y = run_fresh(ONNX_RUN.format(path=str(tmp_path / "model.onnx")), tmp_path / "model.onnx")
    assert_within_contract(y, "torch.onnx.export, default call, ONNX Runtime")


@pytest.mark.only("torch", reason="torch.onnx.export")
@pytest.mark.parametrize("grad", [True, False], ids=["grad-mode", "no_grad"])
def test_torch_onnx_export_torchscript_exporter(backend, tmp_path, grad):
    """dynamo=False traces the model. In grad mode (a model with parameters)
    unielu records its accurate formula; under torch.no_grad() ONNX's Elu, which
    ONNX Runtime computes as exp(x) - 1, exactly as for torch.nn.ELU."""
    torch = backend.torch
    outputs = []
    for activation in (None, torch.nn.ELU):
        path = tmp_path / f"{len(outputs)}" / "model.onnx"
        path.parent.mkdir()
        model = torch_model(torch, activation)
        with torch.set_grad_enabled(grad):
            torch.onnx.export(model, (torch.from_numpy(INPUTS),), path, dynamo=False)
        outputs.append(run_fresh(ONNX_RUN.format(path=str(path)), path))
    if grad:
        assert_within_contract(outputs[0], "torch.onnx.export(dynamo=False), ONNX Runtime")
    else:
        np.testing.assert_array_equal(outputs[0], outputs[1])
    assert outputs[1][TINY, 0] == 0, "ONNX Runtime's Elu is exp(x) - 1"


@pytest.mark.only("torch", reason="torch.jit.trace")
def test_torch_jit_trace_saved_and_loaded(backend, tmp_path):
    torch = backend.torch
    x = torch.from_numpy(INPUTS)
    model = torch_model(torch)
    traced = torch.jit.trace(model, (x,))  # grad mode, checked against a no-grad trace
    with torch.no_grad():
        again = torch.jit.trace(model, (x,))
    assert traced.code == again.code
    assert "aten::elu" in str(traced.inlined_graph)
    traced.save(tmp_path / "model.jit")
    y = run_fresh(
        f"""
        import torch
        model = torch.jit.load({str(tmp_path / "model.jit")!r})
        y = model(torch.from_numpy(x)).detach().numpy()
        """,
        tmp_path / "model.jit",
    )
    assert_within_contract(y, "torch.jit.trace")
    # The function in a traced function, in grad mode, with its gradient.
    import unielu

    v = torch.tensor([-30.0, -1.0, 2.0], requires_grad=True)
    f = torch.jit.trace(lambda t: unielu.elu(t, ALPHA), (v,))
    f(v).sum().backward()
    torch.testing.assert_close(v.grad, unielu.elu_derivative(v.detach(), ALPHA))


@pytest.mark.only("torch", reason="torch.jit.script")
@pytest.mark.parametrize(
    "options",
    [{}, {"inplace": True}, {"learn_alpha": True}],
    ids=["alpha", "inplace", "learn_alpha"],
)
def test_torch_jit_script_of_the_layer(backend, tmp_path, options):
    torch = backend.torch
    from unielu.layers.torch import ELU

    model = torch_model(torch, lambda alpha: ELU(alpha, **options))
    scripted = torch.jit.script(model)
    x = torch.from_numpy(INPUTS)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x.clone()), model(x.clone()), rtol=0, atol=0)
    scripted.save(tmp_path / "model.jit")
    y = run_fresh(
        f"""
        import torch
        model = torch.jit.load({str(tmp_path / "model.jit")!r})
        with torch.no_grad():
            y = model(torch.from_numpy(x)).numpy()
        """,
        tmp_path / "model.jit",
    )
    assert_within_contract(y, f"torch.jit.script {options}")


@pytest.mark.only("torch", reason="torch.jit.script")
def test_torch_jit_script_per_channel_alpha_and_gradient(backend):
    torch = backend.torch
    from unielu.layers.torch import ELU

    layer = ELU(learn_alpha=True, num_parameters=3)
    scripted = torch.jit.script(layer)
    x = torch.tensor([[-30.0, -1e-30, 2.0], [-1.0, -0.0, 0.5]], requires_grad=True)
    for module in (layer, scripted):
        x.grad = None
        module.alpha.grad = None
        y = module(x)
        y.sum().backward()
        if module is layer:
            want = (y.detach(), x.grad.clone(), layer.alpha.grad.clone())
    torch.testing.assert_close((y.detach(), x.grad, scripted.alpha.grad), want)
    with pytest.raises(Exception, match="channel_dim"):
        scripted(torch.zeros(2, 4))


@pytest.mark.only("torch", reason="AOTInductor")
def test_torch_aoti_package_runs_without_unielu(backend, tmp_path):
    torch = backend.torch
    model = torch_model(torch)
    program = torch.export.export(model, (torch.from_numpy(INPUTS),))
    path = str(tmp_path / "model.pt2")
    torch._inductor.aoti_compile_and_package(program, package_path=path)
    y = run_fresh(
        f"""
        import torch
        model = torch._inductor.aoti_load_package({path!r})
        y = model(torch.from_numpy(x)).numpy()
        """,
        tmp_path / "model.pt2",
    )
    assert_within_contract(y, "AOTInductor package")
    # And from C++, without Python: a small runner built against the libtorch
    # that the torch wheel ships, run with an empty environment.
    root = Path(torch.__file__).parent
    runner = tmp_path / "run"
    (tmp_path / "run.cpp").write_text(CPP_RUNNER)
    build = [
        "g++", "-std=c++20", "-O1", "-w", f"-I{root / 'include'}",
        f"-I{root / 'include' / 'torch' / 'csrc' / 'api' / 'include'}",
        str(tmp_path / "run.cpp"), "-o", str(runner), f"-L{root / 'lib'}",
        "-ltorch", "-ltorch_cpu", "-lc10", f"-Wl,-rpath,{root / 'lib'}",
    ]  # fmt: skip
    built = subprocess.run(build, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-3000:]
    ran = subprocess.run([str(runner), path], capture_output=True, text=True, env={})
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert_within_contract(np.float32(ran.stdout.split()), "AOTInductor package, C++")


CPP_RUNNER = r"""
// Runs an AOTInductor package on the model inputs and prints the outputs.
#include <ATen/ATen.h>
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#include <cstdio>
#include <vector>

int main(int argc, char** argv) {
  std::vector<float> x = {-30.f, -1.f, -1e-6f, -1e-30f, -0.0f, 0.f, 1e-6f, 0.5f, 3.f};
  at::Tensor input = at::from_blob(x.data(), {9, 1}, at::kFloat).clone();
  torch::inductor::AOTIModelPackageLoader loader(argv[1]);
  at::Tensor y = loader.run({input})[0].contiguous();
  for (int64_t i = 0; i < y.numel(); ++i) std::printf("%.9g\n", y.data_ptr<float>()[i]);
  return 0;
}
"""


@pytest.mark.only("torch", reason="the exported formula over the whole float range")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_torch_exported_formula_accuracy(backend, dtype):
    """What exports record, run by PyTorch (the ONNX test runs it in ONNX Runtime)."""
    torch = backend.torch
    from reference import grid, ulp_errors

    import unielu
    from unielu.backends.torch import _portable_elu

    x = grid(dtype).astype(dtype)
    y = _portable_elu(torch.from_numpy(x), ALPHA).numpy()
    errors = ulp_errors(y.astype(np.float64), "elu", dtype, ALPHA)
    print(f"\nexported formula, {dtype}: max {errors.max():.2f} ULP")
    assert errors.max() <= (5 if dtype == "float32" else 3)
    specials = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, -800.0, 800.0], dtype=dtype)
    got = _portable_elu(torch.from_numpy(specials), ALPHA).numpy()
    want = unielu.elu(specials, ALPHA)
    np.testing.assert_array_equal(got, want)
    assert np.array_equal(np.signbit(got[1:]), np.signbit(want[1:])), "-0.0 keeps its sign"


# -- TensorFlow (a Keras model on the TensorFlow backend) ----------------------------


@pytest.fixture
def keras_tf(backend, monkeypatch):
    """Keras 3 on TensorFlow (the keras that TensorFlow installs)."""
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        pytest.skip(reason="not applicable: needs KERAS_BACKEND=tensorflow")
    keras = pytest.importorskip("keras", reason="the Keras models need keras")
    if keras.backend.backend() != "tensorflow":
        pytest.skip(reason="not applicable: needs the Keras TensorFlow backend")
    return keras


def keras_model(keras):
    from unielu.layers.keras import ELU

    dense = keras.layers.Dense(1, kernel_initializer="ones", bias_initializer="zeros")
    return keras.Sequential([keras.Input((1,)), dense, ELU(ALPHA)])


TFLITE_RUN = """
try:
    from ai_edge_litert.interpreter import Interpreter
except ImportError:  # older TensorFlow: the interpreter inside it
    from tensorflow.lite import Interpreter
interpreter = Interpreter(model_path={path!r})
interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], x.shape)
interpreter.allocate_tensors()
interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
interpreter.invoke()
y = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
"""


@pytest.mark.only("tensorflow", reason="TFLite")
@pytest.mark.parametrize("source", ["keras_model", "saved_model"])
def test_tflite_builtins_only(backend, keras_tf, tmp_path, source):
    tf = backend.tf
    model = keras_model(keras_tf)
    if source == "keras_model":
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
    else:
        model.export(str(tmp_path / "saved"), format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path / "saved"))
    # The default: TFLite builtin ops only (no Flex delegate, no custom op).
    path = tmp_path / "model.tflite"
    path.write_bytes(converter.convert())
    y = run_fresh(TFLITE_RUN.format(path=str(path)), path)
    assert_within_contract(y, f"TFLite from {source}")


@pytest.mark.only("tensorflow", reason="tf2onnx")
def test_tf2onnx_from_saved_model(backend, keras_tf, tmp_path):
    pytest.importorskip("tf2onnx", reason="needs tf2onnx")
    model = keras_model(keras_tf)
    model.export(str(tmp_path / "saved"), format="tf_saved_model", verbose=False)
    path = tmp_path / "model.onnx"
    command = [sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(tmp_path / "saved")]
    result = subprocess.run([*command, "--output", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    y = run_fresh(ONNX_RUN.format(path=str(path)), path)
    assert_within_contract(y, "tf2onnx --saved-model, ONNX Runtime")


@pytest.mark.only("tensorflow", reason="Keras ONNX export on TensorFlow")
def test_keras_onnx_export_on_tensorflow(backend, keras_tf, tmp_path):
    pytest.importorskip("tf2onnx", reason="Keras exports ONNX on TensorFlow with tf2onnx")
    path = tmp_path / "model.onnx"
    model = keras_model(keras_tf)
    model(INPUTS)  # Keras' ONNX export wants a model that has been called
    model.export(str(path), format="onnx", verbose=False)
    y = run_fresh(ONNX_RUN.format(path=str(path)), path)
    assert_within_contract(y, "Keras export(format='onnx') on TensorFlow, ONNX Runtime")


@pytest.mark.only("keras", reason="Keras ONNX export on PyTorch")
def test_keras_onnx_export_on_torch(backend, tmp_path):
    if backend.keras_backend != "torch":
        pytest.skip(reason="not applicable: this row is for KERAS_BACKEND=torch")
    pytest.importorskip("onnxscript", reason="torch.onnx.export needs onnxscript")
    path = tmp_path / "model.onnx"
    model = keras_model(backend.keras)
    model(INPUTS)
    model.export(str(path), format="onnx", verbose=False)
    y = run_fresh(ONNX_RUN.format(path=str(path)), path)
    assert_within_contract(y, "Keras export(format='onnx') on PyTorch, ONNX Runtime")


@pytest.mark.only("tensorflow", reason="the TensorFlow graph's formulas")
def test_tf_graph_after_arithmetic_has_no_bit_ops(backend):
    """After arithmetic the graph has no bit op and no Expm1; on a graph input it
    keeps the exact formulas (TensorFlow reads a subnormal input as zero)."""
    tf = backend.tf
    import unielu

    def op_types(f) -> set[str]:
        graph = f.get_concrete_function(tf.TensorSpec([None], tf.float32)).graph
        found = set()
        for function in graph.as_graph_def().library.function:
            found |= {node.op for node in function.node_def}
        return found

    bits = {"Bitcast", "BitwiseAnd", "Expm1"}
    after = op_types(tf.function(lambda v: unielu.elu(v * 2.0, ALPHA)))
    assert not after & bits, after
    assert bits <= op_types(tf.function(lambda v: unielu.elu(v, ALPHA)))


@pytest.mark.only("tensorflow", reason="the TensorFlow graph's formulas")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("func", ["elu", "elu_derivative"])
def test_tf_portable_formulas_accuracy(backend, dtype, func):
    """The formulas of converted graphs, run by TensorFlow on its normal inputs
    (TF reads a subnormal input as zero: those are the exact formulas' job)."""
    tf = backend.tf
    from reference import FORMATS, grid, reference, ulp

    from unielu.backends.tensorflow import _traced

    x = grid(dtype).astype(dtype)
    f = _traced(func, False, tf.as_dtype(dtype), False, True)
    got = f(tf.constant(x), tf.constant(ALPHA, dtype)).numpy().astype(np.float64)
    _, exact = reference(func, dtype, ALPHA)
    smallest = float(2.0 ** FORMATS[dtype][1])
    worst = 0.0
    for v, y, ref in zip(x.tolist(), got.tolist(), exact, strict=True):
        if v != 0 and abs(v) < smallest:
            continue  # a subnormal input, read as 0
        if y == 0 and abs(ref) < smallest:
            continue  # a flushed subnormal result
        if np.isnan(y) or np.isinf(y):
            assert (np.isnan(y) and ref != ref) or y == ref, (v, y, ref)
            continue
        worst = max(worst, float(abs(y - ref) / ulp(ref, dtype)))
    print(f"\nportable {func}, {dtype}, in TensorFlow: max {worst:.2f} ULP")
    assert worst <= 5


@pytest.mark.only("tensorflow", reason="TFLite and tf2onnx")
@pytest.mark.parametrize("runtime", ["TFLite", "ONNX Runtime"])
def test_tf_converted_formula_accuracy(backend, tmp_path, runtime):
    """The converted graph over the whole float32 range (the layer after arithmetic)."""
    tf = backend.tf
    from reference import grid, ulp_errors

    import unielu

    specials = np.float32([np.nan, np.inf, -np.inf, -0.0, 0.0, -800.0, 800.0])
    x = np.concatenate([grid("float32").astype("float32"), specials])
    spec = tf.TensorSpec(x.shape, tf.float32)
    f = tf.function(lambda v: unielu.elu(v * 1.0, ALPHA), input_signature=[spec])
    if runtime == "TFLite":
        converter = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()])
        path = tmp_path / "model.tflite"
        path.write_bytes(converter.convert())
        scope: dict = {"x": x}
        exec(TFLITE_RUN.format(path=str(path)), scope)
    else:
        tf2onnx = pytest.importorskip("tf2onnx", reason="needs tf2onnx")
        path = tmp_path / "model.onnx"
        tf2onnx.convert.from_function(f, input_signature=[spec], output_path=str(path))
        scope = {"x": x}
        exec(ONNX_RUN.format(path=str(path)), scope)
    y = np.asarray(scope["y"], np.float64)
    got, want = y[-len(specials) :], unielu.elu(specials, ALPHA)
    np.testing.assert_array_equal(got, want)
    # tf2onnx writes selects as c * a + (1 - c) * b: elu(-0.0) is +0.0 there.
    keeps = runtime == "TFLite"
    assert np.array_equal(np.signbit(got[1:]), np.signbit(want[1:])) == keeps
    y, x = y[: -len(specials)], x[: -len(specials)]
    errors = ulp_errors(y, "elu", "float32", ALPHA, flush_subnormals=True)
    # TFLite's CPU kernels (XNNPACK) read a subnormal input as 0, as TF does.
    normal = (x == 0) | (np.abs(x) >= np.finfo(np.float32).tiny)
    print(f"\n{runtime}, converted graph, float32: max {errors[normal].max():.2f} ULP")
    assert errors[normal].max() <= 5
    if runtime == "ONNX Runtime":
        assert errors.max() <= 5, "ONNX Runtime keeps subnormal inputs"


@pytest.mark.only("tensorflow", reason="TFLite")
def test_tflite_elu_on_the_model_input(backend, keras_tf):
    """An ELU reading the model's input keeps the exact (bit) formulas: the
    converter refuses them; a Rescaling(1.0) layer before it is the documented fix."""
    tf = backend.tf
    from unielu.layers.keras import ELU

    keras = keras_tf
    direct = keras.Sequential([keras.Input((3,)), ELU(ALPHA)])
    with pytest.raises(Exception, match="BitwiseAnd"):
        tf.lite.TFLiteConverter.from_keras_model(direct).convert()
    fixed = keras.Sequential([keras.Input((3,)), keras.layers.Rescaling(1.0), ELU(ALPHA)])
    assert tf.lite.TFLiteConverter.from_keras_model(fixed).convert()
