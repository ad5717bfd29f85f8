"""Deployment paths on PyTorch (docs/models.rst, "Deploying").

Helpers and the model are in tests/deployment.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from deployment import (
    ALPHA,
    INPUTS,
    ONNX_RUN,
    TINY,
    assert_within_contract,
    run_fresh,
)

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
def test_torch_aoti_package_runs_without_unielu(backend, tmp_path, monkeypatch):
    torch = backend.torch
    # Inductor's cache in the test's folder, and no precompiled header: one is
    # hundreds of MB per torch install, kept in /tmp whatever the cache folder, so
    # each new nox environment would leave another behind.
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    if hasattr(torch._inductor.config.aot_inductor, "precompile_headers"):  # not in every release
        monkeypatch.setattr(torch._inductor.config.aot_inductor, "precompile_headers", False)
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
