"""unielu's ELU in small PyTorch models: state_dict, torch.export, ONNX, training
(docs/models.rst). Helpers and the tolerances' reasoning are in tests/models.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from models import STEPS, compare_curves, data, run_examples, run_fresh

import unielu


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
    ort = pytest.importorskip("onnxruntime", reason="needs onnxruntime (its own session has it)")
    pytest.importorskip("onnxscript", reason="needs onnxscript (its own session has it)")
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


@pytest.mark.only("torch", reason="a PyTorch example")
def test_docs_examples_run(backend):
    run_examples("torch")
