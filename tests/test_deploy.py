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
    y = run_fresh(
        f"""
        import onnxruntime as ort
        session = ort.InferenceSession({str(tmp_path / "model.onnx")!r})
        (y,) = session.run(None, {{session.get_inputs()[0].name: x}})
        """,
        tmp_path / "model.onnx",
    )
    assert_within_contract(y, "torch.onnx.export, default call, ONNX Runtime")


@pytest.mark.only("torch", reason="torch.onnx.export")
def test_torch_onnx_export_torchscript_exporter_matches_nn_elu(backend, tmp_path):
    """dynamo=False traces the model: ONNX's Elu, which ONNX Runtime computes as
    exp(x) - 1, exactly as for torch.nn.ELU (-1e-30 gives 0 with both)."""
    torch = backend.torch
    outputs = []
    for activation in (None, torch.nn.ELU):
        path = tmp_path / f"{len(outputs)}" / "model.onnx"
        path.parent.mkdir()
        model = torch_model(torch, activation)
        torch.onnx.export(model, (torch.from_numpy(INPUTS),), path, dynamo=False)
        outputs.append(
            run_fresh(
                f"""
                import onnxruntime as ort
                session = ort.InferenceSession({str(path)!r})
                (y,) = session.run(None, {{session.get_inputs()[0].name: x}})
                """,
                path,
            )
        )
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert outputs[0][TINY, 0] == 0, "ONNX Runtime's Elu is exp(x) - 1"


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
