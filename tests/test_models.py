"""unielu inside small models: save and reload, export, and train like the framework's own ELU.

Each model is a few dense layers with unielu's ELU. Training starts from the
same weights as the same model with the framework's own ELU and must give the
same loss curve: the two ELUs are both correct to a few ULP, so the curves
differ by rounding only. Over STEPS plain gradient steps a relative
perturbation of a few ULP grows at most by about (1 + lr * curvature) per step,
which for these well-conditioned problems stays below 1e3 ULP: hence a relative
tolerance of 1e-12 in float64 (eps 2.2e-16) and 1e-4 in float32 (eps 1.2e-7).
The measured differences are printed (``-s``) and are far smaller.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import unielu
from unielu._registry import release

ROOT = Path(__file__).resolve().parent.parent
STEPS = 40
TOLERANCE = {"float64": 1e-12, "float32": 1e-4}


def data(dtype: str = "float64") -> tuple[np.ndarray, np.ndarray]:
    """A small regression problem with negative pre-activations: y = sin(x0) - x1 * x2 + x3."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4))
    y = np.sin(x[:, :1]) - x[:, 1:2] * x[:, 2:3] + 0.5 * x[:, 3:]
    return x.astype(dtype), y.astype(dtype)


def compare_curves(ours: list[float], theirs: list[float], dtype: str, label: str) -> None:
    ours_a, theirs_a = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    abs_diff = np.abs(ours_a - theirs_a)
    rel_diff = abs_diff / np.abs(theirs_a)
    print(
        f"\n{label} ({dtype}, {STEPS} steps): loss {theirs_a[0]:.4g} -> {theirs_a[-1]:.4g}; "
        f"max abs diff {abs_diff.max():.3g}, max rel diff {rel_diff.max():.3g}"
    )
    assert rel_diff.max() <= TOLERANCE[dtype], (label, rel_diff.max())
    assert ours_a[-1] < 0.5 * ours_a[0], f"{label}: the loss did not clearly decrease: {ours}"


def run_fresh(code: str, **env: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


# -- PyTorch ---------------------------------------------------------------------


def torch_model(backend, activation):
    torch = backend.torch
    torch.manual_seed(0)
    layers = [torch.nn.Linear(4, 16), activation(), torch.nn.Linear(16, 16), activation()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(16, 1))
    return model.double().to(backend.device)


@pytest.mark.only("torch", reason="a PyTorch model")
def test_torch_state_dict_saved_and_reloaded(backend, tmp_path):
    torch = backend.torch
    from unielu.layers.torch import ELU

    model = torch_model(backend, lambda: ELU(0.7))
    torch.save(model.state_dict(), tmp_path / "model.pt")
    again = torch_model(backend, lambda: ELU(0.7))
    again.load_state_dict(torch.load(tmp_path / "model.pt"))
    x = torch.from_numpy(data()[0]).to(backend.device)
    torch.testing.assert_close(again(x), model(x), rtol=0, atol=0)


@pytest.mark.only("torch", reason="torch.export")
@pytest.mark.parametrize("strict", [False, True])
def test_torch_export_loaded_in_a_fresh_process(backend, tmp_path, strict):
    torch = backend.torch
    from unielu.layers.torch import ELU

    model = torch_model(backend, lambda: ELU(0.7)).cpu()
    x = torch.from_numpy(data()[0])
    program = torch.export.export(model, (x,), strict=strict)
    torch.export.save(program, tmp_path / "model.pt2")
    np.save(tmp_path / "x.npy", x.numpy())
    np.save(tmp_path / "y.npy", model(x).detach().numpy())
    # Standard ops only (tests/test_torch_deploy.py): the loading process needs no unielu.
    run_fresh(f"""
        import numpy as np, torch
        program = torch.export.load({str(tmp_path / "model.pt2")!r})
        y = program.module()(torch.from_numpy(np.load({str(tmp_path / "x.npy")!r})))
        # Kahan's expm1 (the exported formula) and eager expm1 differ by rounding.
        want = np.load({str(tmp_path / "y.npy")!r})
        np.testing.assert_allclose(y.detach().numpy(), want, rtol=1e-14, atol=0)
    """)


@pytest.mark.only("torch", reason="torch.onnx.export")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_torch_onnx_export_is_accurate_in_onnxruntime(backend, tmp_path, dtype):
    torch = backend.torch
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from reference import grid, ulp_errors

    from unielu.layers.torch import ELU, onnx_translation_table

    # The layer alone over the whole range (where exp(x) - 1 fails too), then a model.
    x = grid(dtype).astype(dtype)
    model = torch.nn.Sequential(ELU(1.7)).cpu()
    program = torch.onnx.export(
        model,
        (torch.from_numpy(x),),
        dynamo=True,
        verbose=False,
        custom_translation_table=onnx_translation_table(),
    )
    program.save(tmp_path / "elu.onnx")
    session = ort.InferenceSession(tmp_path / "elu.onnx")
    (y,) = session.run(None, {session.get_inputs()[0].name: x})
    errors = ulp_errors(y.astype(np.float64), "elu", dtype, 1.7)
    print(f"\nONNX Runtime, unielu's translation, {dtype}: max {errors.max():.2f} ULP")
    assert errors.max() <= 3
    specials = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, -800.0, 800.0], dtype=dtype)
    (s,) = session.run(None, {session.get_inputs()[0].name: np.resize(specials, x.shape)})
    expected = unielu.elu(specials, 1.7)
    np.testing.assert_array_equal(s[: len(specials)], expected)
    assert np.array_equal(np.signbit(s[:7]), np.signbit(expected)), "-0.0 keeps its sign"

    mlp = torch_model(backend, lambda: ELU(0.7)).cpu().to(getattr(torch, dtype))
    inputs = torch.from_numpy(data(dtype)[0])
    program = torch.onnx.export(
        mlp,
        (inputs,),
        dynamo=True,
        verbose=False,
        custom_translation_table=onnx_translation_table(),
    )
    program.save(tmp_path / "mlp.onnx")
    session = ort.InferenceSession(tmp_path / "mlp.onnx")
    (out,) = session.run(None, {session.get_inputs()[0].name: inputs.numpy()})
    rtol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(out, mlp(inputs).detach().numpy(), rtol=rtol, atol=rtol)


@pytest.mark.only("torch", reason="training a PyTorch model")
def test_torch_training_matches_nn_elu(backend):
    torch = backend.torch
    from unielu.layers.torch import ELU

    x, y = (torch.from_numpy(a).to(backend.device) for a in data())
    curves = []
    for activation in (lambda: ELU(1.0), lambda: torch.nn.ELU(1.0)):
        model = torch_model(backend, activation)  # same seed: same initial weights
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        losses = []
        for _ in range(STEPS):
            optimizer.zero_grad()
            loss = torch.mean((model(x) - y) ** 2)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        curves.append(losses)
    compare_curves(*curves, "float64", "PyTorch: unielu ELU vs torch.nn.ELU")


# -- Keras (the backend KERAS_BACKEND picks) ------------------------------------------


def keras_model(backend, activation, dtype):
    keras = backend.keras
    keras.utils.set_random_seed(0)
    layers = [keras.Input((4,), dtype=dtype)]
    for width in (16, 16):
        layers += [keras.layers.Dense(width, dtype=dtype), activation(dtype)]
    return keras.Sequential([*layers, keras.layers.Dense(1, dtype=dtype)])


def keras_dtype(backend) -> str:
    return "float64" if "float64" in backend.dtypes else "float32"  # JAX: x64 or not


@pytest.mark.only("keras", reason="a Keras model")
def test_keras_model_saved_and_reloaded(backend, tmp_path):
    keras = backend.keras
    from unielu.backends.keras import _numpy
    from unielu.layers.keras import ELU

    dtype = keras_dtype(backend)
    model = keras_model(backend, lambda d: ELU(0.7, dtype=d), dtype)
    model.save(tmp_path / "model.keras")
    again = keras.saving.load_model(tmp_path / "model.keras")
    x = data(dtype)[0]
    np.testing.assert_array_equal(_numpy(again(x)), _numpy(model(x)))


@pytest.mark.only("keras", reason="a Keras model")
def test_keras_training_matches_keras_elu(backend):
    keras = backend.keras
    from unielu.layers.keras import ELU

    dtype = keras_dtype(backend)
    x, y = data(dtype)
    curves = []
    for activation in (lambda d: ELU(1.0, dtype=d), lambda d: keras.layers.ELU(1.0, dtype=d)):
        model = keras_model(backend, activation, dtype)  # same seed: same initial weights
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
        # One batch per epoch: each history entry is the loss before that step.
        history = model.fit(x, y, batch_size=len(x), epochs=STEPS, shuffle=False, verbose=0)
        curves.append(history.history["loss"])
    compare_curves(*curves, dtype, f"Keras ({backend.keras_backend}): unielu ELU vs keras ELU")


@pytest.mark.only("keras", reason="TensorFlow SavedModel")
def test_tensorflow_saved_model_with_gradient_after_reload(backend, tmp_path):
    if backend.keras_backend != "tensorflow":
        why = "not applicable: a tf.saved_model of a Keras model needs the TensorFlow backend"
        pytest.skip(reason=why)
    import tensorflow as tf

    from unielu.layers.keras import ELU

    model = keras_model(backend, lambda d: ELU(0.7, dtype=d), "float64")

    class Exported(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float64)])
        def __call__(self, x):
            return self.model(x)

    tf.saved_model.save(Exported(), str(tmp_path / "saved"))
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    x = tf.constant(data()[0])
    gradients = []
    for f in (loaded, model):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(f(x))
        gradients.append(tape.gradient(y, x).numpy())
    # The reloaded graph is optimised (fused) differently from the eager model: 1 ULP apart.
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), rtol=1e-14)
    np.testing.assert_allclose(gradients[0], gradients[1], rtol=1e-12)
    # the ELU's own gradient survives the reload: alpha*exp(-30), not 0 as tf.nn.elu's
    tensor = tf.constant([-30.0, -1.0, 2.0], tf.float64)

    class Alone(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([3], tf.float64)])
        def __call__(self, v):
            return unielu.elu(v, 0.7)

    tf.saved_model.save(Alone(), str(tmp_path / "alone"))
    alone = tf.saved_model.load(str(tmp_path / "alone"))
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        out = alone(tensor)
    np.testing.assert_allclose(
        tape.gradient(out, tensor).numpy(), unielu.elu_derivative(tensor, 0.7).numpy(), rtol=1e-15
    )


# -- Flax NNX ----------------------------------------------------------------------


def flax_model(activation):
    from flax import nnx

    class MLP(nnx.Module):
        def __init__(self, rngs: nnx.Rngs) -> None:
            layers = [nnx.Linear(4, 16, rngs=rngs), nnx.Linear(16, 16, rngs=rngs)]
            # nnx.List since Flax 0.12 (which wants it); a plain list before
            self.layers = nnx.List(layers) if hasattr(nnx, "List") else layers
            self.out = nnx.Linear(16, 1, rngs=rngs)
            self.activation = activation

        def __call__(self, x):
            for layer in self.layers:
                x = self.activation(layer(x))
            return self.out(x)

    return MLP(nnx.Rngs(0))


@pytest.fixture
def nnx(backend):
    return pytest.importorskip("flax.nnx", reason="the Flax models need flax")


@pytest.mark.only("jax", reason="a Flax NNX model")
def test_flax_state_saved_and_reloaded(backend, nnx):
    import flax
    from flax import serialization

    from unielu.layers.flax import ELU

    if release(flax.__version__) < (0, 12, 8):
        pytest.skip(
            reason=f"flax {flax.__version__}: msgpack_restore refuses the integer keys of a "
            "list of layers (strict_map_key), fixed in Flax 0.12.8"
        )
    model = flax_model(ELU(0.7))
    blob = serialization.msgpack_serialize(nnx.to_pure_dict(nnx.state(model)))
    again = flax_model(ELU(0.7))
    nnx.update(again, serialization.msgpack_restore(blob))
    again_state = nnx.state(again)
    nnx.replace_by_pure_dict(again_state, serialization.msgpack_restore(blob))
    nnx.update(again, again_state)
    x = data("float32")[0]
    np.testing.assert_array_equal(np.asarray(again(x)), np.asarray(model(x)))


@pytest.mark.only("jax", reason="jax.export")
def test_jax_export_serialized_deserialized_and_called(backend, nnx):
    import jax.export  # a submodule that JAX 0.6 does not import with jax

    from unielu.layers.flax import ELU

    model = flax_model(ELU(0.7))
    x = data("float32")[0]
    exported = jax.export.export(jax.jit(lambda v: model(v)))(x)
    blob = exported.serialize(vjp_order=1)
    again = jax.export.deserialize(blob)
    # Against the function exported, compiled here: eager runs may differ from
    # compiled ones in the last bit (XLA fuses the Linear layers' dot and add
    # differently, e.g. in JAX 0.6 and 0.10.0-0.10.1, with jax.nn.elu too).
    jitted = jax.jit(lambda v: model(v))(x)
    np.testing.assert_array_equal(np.asarray(again.call(x)), np.asarray(jitted))
    # The gradient, through the serialized custom JVP: alpha*exp(x) at -30, not 0.
    v = np.float32([-30.0, -1.0, 2.0])
    exported = jax.export.export(jax.jit(lambda t: unielu.elu(t, 0.7)))(v)
    again = jax.export.deserialize(exported.serialize(vjp_order=1))
    g = jax.grad(lambda t: again.call(t).sum())(v)
    np.testing.assert_allclose(np.asarray(g), np.asarray(unielu.elu_derivative(v, 0.7)), rtol=1e-6)
    assert g[0] > 0


@pytest.mark.only("jax", reason="training a Flax NNX model")
def test_flax_training_matches_jax_nn_elu(backend, nnx):
    jax = backend.jax
    optax = pytest.importorskip("optax")
    from unielu.layers.flax import ELU

    dtype = "float64" if "float64" in backend.dtypes else "float32"
    x, y = data(dtype)
    curves = []
    for activation in (ELU(1.0), jax.nn.elu):
        model = flax_model(activation)  # same seed: same initial weights
        optimizer = nnx.Optimizer(model, optax.sgd(0.05), wrt=nnx.Param)

        @nnx.jit
        def step(model, optimizer):
            loss, grads = nnx.value_and_grad(lambda m: ((m(x) - y) ** 2).mean())(model)
            optimizer.update(model, grads)
            return loss

        # Full float32 matrix products: on a GPU, JAX's default (TF32) would amplify
        # the two activations' last-bit differences far beyond the tolerance.
        with jax.default_matmul_precision("float32"):
            curves.append([float(step(model, optimizer)) for _ in range(STEPS)])
    compare_curves(*curves, dtype, "Flax NNX: unielu ELU vs jax.nn.elu")


# -- the examples of docs/models.rst ------------------------------------------------


def examples(needs: str) -> list[str]:
    """The Python code blocks of docs/models.rst that import ``needs``."""
    text = (ROOT / "docs" / "models.rst").read_text()
    blocks = []
    for chunk in text.split(".. code-block:: python\n")[1:]:
        lines = []
        for line in chunk.splitlines()[1:]:
            if line and not line.startswith("   "):
                break
            lines.append(line[3:])
        code = "\n".join(lines)
        if f"import {needs}" in code or f"from {needs}" in code:
            blocks.append(code)
    return blocks


@pytest.mark.parametrize(
    ("framework", "needs"),
    [
        pytest.param("torch", "torch", marks=pytest.mark.only("torch", reason="a PyTorch example")),
        pytest.param("keras", "keras", marks=pytest.mark.only("keras", reason="a Keras example")),
        pytest.param("jax", "flax", marks=pytest.mark.only("jax", reason="a Flax example")),
    ],
)
def test_docs_examples_run(backend, framework, needs):
    blocks = examples(needs)
    assert blocks, f"docs/models.rst has no {needs} example"
    if needs == "flax":
        flax = pytest.importorskip("flax")
        pytest.importorskip("optax")
        if release(flax.__version__) < (0, 11):
            pytest.skip(
                reason=f"the example uses Flax 0.11's nnx.Optimizer(model, tx, wrt=) and "
                f"update(model, grads); flax {flax.__version__} is installed"
            )
    for code in blocks:
        run_fresh(code)
