"""Deployment paths on TensorFlow: Keras on its TensorFlow backend, TFLite, tf2onnx
(docs/models.rst, "Deploying"). Helpers and the model are in tests/deployment.py.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from deployment import (
    ALPHA,
    INPUTS,
    ONNX_RUN,
    assert_within_contract,
    keras_model,
    run_fresh,
)

from unielu._registry import release

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


def skip_from_keras_model_on_tf_2_16(tf) -> None:
    """TensorFlow 2.16's TFLiteConverter.from_keras_model aborts the process on any
    Keras 3 model, a plain Dense included (LLVM "Failed to infer result type(s)",
    tensorflow/tensorflow#63987); the SavedModel path works there."""
    if release(tf.__version__) < (2, 17):
        pytest.skip(
            reason=f"tensorflow {tf.__version__}: TFLiteConverter.from_keras_model aborts "
            "on Keras 3 models before TensorFlow 2.17 (tensorflow/tensorflow#63987)"
        )


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
        skip_from_keras_model_on_tf_2_16(tf)
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


@pytest.mark.only("tensorflow", reason="the TensorFlow graph's formulas")
def test_tf_graph_after_arithmetic_has_no_bit_ops(backend):
    """After arithmetic the graph has no bit op and no Expm1; on a graph input it
    keeps the exact formulas (TensorFlow reads a subnormal input as zero), whose
    float32 expm1 is unielu's own (bit operations, no Expm1)."""
    tf = backend.tf
    import unielu

    def op_types(f) -> set[str]:
        graph = f.get_concrete_function(tf.TensorSpec([None], tf.float32)).graph
        found = set()
        for function in graph.as_graph_def().library.function:
            found |= {node.op for node in function.node_def}
        return found

    bits = {"Bitcast", "BitwiseAnd"}
    after = op_types(tf.function(lambda v: unielu.elu(v * 2.0, ALPHA)))
    assert not after & (bits | {"Expm1"}), after
    exact = op_types(tf.function(lambda v: unielu.elu(v, ALPHA)))
    assert bits <= exact and "Expm1" not in exact, exact


@pytest.mark.only("tensorflow", reason="the TensorFlow graph's formulas")
@pytest.mark.parametrize("runtime", ["TF", "XLA"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("func", ["elu", "elu_derivative"])
def test_tf_portable_formulas_accuracy(backend, dtype, func, runtime):
    """The formulas of converted graphs, run by TensorFlow's kernels and by XLA
    (as a user's graph runs them) on normal inputs (TF and XLA read a subnormal
    input as zero: those are the exact formulas' job)."""
    tf = backend.tf
    from reference import FORMATS, grid, reference, ulp

    from unielu.backends.tensorflow import _traced

    x = grid(dtype).astype(dtype)
    f = _traced(func, False, tf.as_dtype(dtype), runtime == "XLA", True)
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
    print(f"\nportable {func}, {dtype}, {runtime}: max {worst:.2f} ULP")
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
    skip_from_keras_model_on_tf_2_16(tf)
    from unielu.layers.keras import ELU

    keras = keras_tf
    direct = keras.Sequential([keras.Input((3,)), ELU(ALPHA)])
    with pytest.raises(Exception, match="BitwiseAnd"):
        tf.lite.TFLiteConverter.from_keras_model(direct).convert()
    fixed = keras.Sequential([keras.Input((3,)), keras.layers.Rescaling(1.0), ELU(ALPHA)])
    assert tf.lite.TFLiteConverter.from_keras_model(fixed).convert()
