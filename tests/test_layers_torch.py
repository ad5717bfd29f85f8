"""unielu.layers.torch.ELU: a drop-in for torch.nn.ELU with the contract's values and gradients."""

from __future__ import annotations

import copy
import io
import pickle
import subprocess
import sys

import numpy as np
import pytest

import unielu

pytestmark = pytest.mark.only("torch", reason="the PyTorch layer")

X = [-100.0, -30.0, -2.0, -1e-30, -0.0, 0.0, 1e-30, 0.5, 3.0, 1e4]


@pytest.fixture
def torch(backend):
    return backend.torch


@pytest.fixture
def ELU(backend):
    from unielu.layers.torch import ELU

    return ELU


def tensor(backend, values, dtype="float32", grad=False):
    torch = backend.torch
    t = torch.tensor(values, dtype=getattr(torch, dtype), device=backend.device)
    return t.requires_grad_(grad)


@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.7])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_values_and_gradient_are_unielus(backend, torch, ELU, dtype, alpha):
    x = tensor(backend, X, dtype, grad=True)
    y = ELU(alpha)(x)
    assert y.dtype == x.dtype and y.device == x.device
    torch.testing.assert_close(y, unielu.elu(x.detach(), alpha), rtol=0, atol=0)
    (g,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(g, unielu.elu_derivative(x.detach(), alpha), rtol=0, atol=0)


def test_inplace_gradient_where_torch_nn_elu_gives_zero(backend, torch, ELU):
    # torch.nn.ELU(inplace=True) differentiates from its output: y + alpha, 0 at -30.
    for layer, expected in ((ELU(inplace=True), np.exp(-30.0)), (torch.nn.ELU(inplace=True), 0)):
        leaf = tensor(backend, [-30.0], grad=True)
        (g,) = torch.autograd.grad(layer(leaf * 1.0).sum(), leaf)
        assert g.item() == pytest.approx(expected, rel=1e-6), type(layer)


@pytest.mark.parametrize("kwargs", [{}, {"alpha": 0.5}, {"alpha": 2.0, "inplace": True}])
def test_drop_in_for_nn_elu(backend, torch, ELU, kwargs):
    ours, theirs = ELU(**kwargs), torch.nn.ELU(**kwargs)
    assert repr(ours) == repr(theirs)
    assert (ours.alpha, ours.inplace) == (theirs.alpha, theirs.inplace)
    assert ours.state_dict() == theirs.state_dict() == {}
    x = tensor(backend, np.linspace(-10, 10, 41))
    torch.testing.assert_close(ours(x.clone()), theirs(x.clone()))


@pytest.mark.parametrize("learn", [False, True])
def test_copy_pickle_and_state_dict(backend, torch, ELU, learn):
    layer = ELU(0.7, learn_alpha=learn, num_parameters=3 if learn else 1)
    if learn:
        with torch.no_grad():
            layer.alpha.copy_(torch.tensor([0.5, 1.0, 2.0]))
    x = tensor(backend, np.linspace(-3, 3, 12).reshape(2, 3, 2))
    layer = layer.to(backend.device)
    expected = layer(x)
    buffer = io.BytesIO()
    torch.save(layer, buffer)
    buffer.seek(0)
    copies = {
        "deepcopy": copy.deepcopy(layer),
        "pickle": pickle.loads(pickle.dumps(layer)),
        "torch.save": torch.load(buffer, weights_only=False),
    }
    fresh = ELU(0.7, learn_alpha=learn, num_parameters=3 if learn else 1).to(backend.device)
    fresh.load_state_dict(layer.state_dict())
    copies["state_dict"] = fresh
    assert set(layer.state_dict()) == ({"alpha"} if learn else set())
    for label, other in copies.items():
        assert repr(other) == repr(layer), label
        torch.testing.assert_close(other(x), expected, rtol=0, atol=0, msg=label)


def test_torch_compile_fullgraph(backend, torch, ELU):
    torch._dynamo.reset()
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), ELU(1.3), torch.nn.Linear(8, 1))
    model = model.to(backend.device).double()
    x = tensor(backend, np.linspace(-20, 5, 12).reshape(3, 4), "float64")
    compiled = torch.compile(model, fullgraph=True)
    torch.testing.assert_close(compiled(x), model(x))
    grads = [torch.autograd.grad(m(x).sum(), model[0].weight)[0] for m in (model, compiled)]
    torch.testing.assert_close(grads[1], grads[0])


def test_inplace_overwrites_the_input_when_autograd_does_not_need_it(backend, torch, ELU):
    x = tensor(backend, X)
    expected = unielu.elu(x, 1.5)
    y = ELU(1.5, inplace=True)(x)
    assert y.data_ptr() == x.data_ptr()
    torch.testing.assert_close(x, expected, rtol=0, atol=0)
    z = tensor(backend, X, grad=True)
    with torch.no_grad():
        w = z.clone()
        assert ELU(1.5, inplace=True)(w).data_ptr() == w.data_ptr()


def test_inplace_keeps_the_exact_gradient_when_autograd_needs_the_input(backend, torch, ELU):
    leaf = tensor(backend, X, grad=True)
    x = leaf * 1.0  # a non-leaf that requires grad: nn.ELU(inplace=True) would overwrite it
    before = x.detach().clone()
    y = ELU(1.5, inplace=True)(x)
    torch.testing.assert_close(x.detach(), before, rtol=0, atol=0)  # left as it was
    (g,) = torch.autograd.grad(y.sum(), leaf)
    torch.testing.assert_close(g, unielu.elu_derivative(before, 1.5), rtol=0, atol=0)


def test_inplace_with_a_learned_alpha_keeps_its_gradient(backend, torch, ELU):
    layer = ELU(1.5, inplace=True, learn_alpha=True).to(backend.device)
    x = tensor(backend, [-2.0, -0.5, 1.0])
    y = layer(x)
    assert y.data_ptr() != x.data_ptr()
    y.sum().backward()
    expected = float(np.expm1([-2.0, -0.5]).sum())
    assert layer.alpha.grad.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_learned_scalar_alpha(backend, torch, ELU, dtype):
    layer = ELU(0.5, learn_alpha=True, dtype=getattr(torch, dtype)).to(backend.device)
    assert isinstance(layer.alpha, torch.nn.Parameter) and layer.alpha.shape == ()
    assert repr(layer) == "ELU(learn_alpha=True, num_parameters=1)"
    x = tensor(backend, [-40.0, -2.0, -1e-7, -0.0, 0.0, 1.0], dtype, grad=True)
    y = layer(x)
    torch.testing.assert_close(y, unielu.elu(x.detach(), 0.5))
    y.sum().backward()
    values = np.array([-40.0, -2.0, -1e-7, -0.0, 0.0])
    assert layer.alpha.grad.item() == pytest.approx(np.expm1(values).sum(), rel=1e-6)
    torch.testing.assert_close(x.grad, unielu.elu_derivative(x.detach(), 0.5))


@pytest.mark.parametrize("memory_format", ["contiguous_format", "channels_last"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_learned_scalar_alpha_with_an_upstream_gradient(backend, torch, ELU, dtype, memory_format):
    # Both gradients of a training step, where the gradient arriving is not ones.
    layer = ELU(1.3, learn_alpha=True, dtype=getattr(torch, dtype)).to(backend.device)
    rng = np.random.default_rng(4)
    layout = getattr(torch, memory_format)
    x = tensor(backend, rng.normal(0, 3, (2, 3, 4, 5)), dtype).contiguous(memory_format=layout)
    upstream = tensor(backend, rng.normal(0, 1, (2, 3, 4, 5)), dtype)
    x.requires_grad_(True)
    layer(x).backward(upstream.contiguous(memory_format=layout))
    alpha = layer.alpha.detach()
    torch.testing.assert_close(x.grad, upstream * unielu.elu_derivative(x.detach(), alpha))
    expected = (upstream * torch.where(x > 0, 0.0, torch.expm1(x.detach()))).sum()
    torch.testing.assert_close(layer.alpha.grad, expected)


@pytest.mark.parametrize("channel_dim", [1, -1])
def test_learned_alpha_per_channel(backend, torch, ELU, channel_dim):
    layer = ELU(1.0, learn_alpha=True, num_parameters=3, channel_dim=channel_dim)
    layer = layer.to(backend.device).double()
    with torch.no_grad():
        layer.alpha.copy_(torch.tensor([0.5, 1.0, 2.0]))
    shape = (2, 3, 4) if channel_dim == 1 else (2, 4, 3)
    x = tensor(backend, np.linspace(-5, 2, 24).reshape(shape), "float64", grad=True)
    y = layer(x)
    alpha = layer.alpha.detach().reshape((3, 1) if channel_dim == 1 else (3,))
    torch.testing.assert_close(y, torch.where(x > 0, x, alpha * torch.expm1(x)))
    y.sum().backward()
    dims = (0, 2) if channel_dim == 1 else (0, 1)
    expected = torch.where(x > 0, 0.0, torch.expm1(x)).sum(dims)
    torch.testing.assert_close(layer.alpha.grad, expected)
    gradcheck_input = x.detach()[:1].requires_grad_(True)
    assert torch.autograd.gradcheck(layer, (gradcheck_input,))


def test_per_channel_alpha_must_match_the_input(backend, torch, ELU):
    layer = ELU(learn_alpha=True, num_parameters=3).to(backend.device)
    with pytest.raises(ValueError, match=r"dimension 1 \(channel_dim\) has size 3.*\(2, 4\)"):
        layer(tensor(backend, np.zeros((2, 4))))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"alpha": -1.0}, ValueError, "'alpha' must be finite and >= 0"),
        ({"alpha": float("inf")}, ValueError, "'alpha' must be finite and >= 0"),
        ({"alpha": "1"}, TypeError, "'alpha' must be a real number"),
        ({"alpha": np.ones(2)}, TypeError, "learn_alpha=True"),
        ({"num_parameters": 3}, ValueError, "'num_parameters' must be 1, or"),
        ({"num_parameters": 0, "learn_alpha": True}, ValueError, "'num_parameters'"),
        ({"num_parameters": 2.0, "learn_alpha": True}, TypeError, "'num_parameters' must be"),
    ],
)
def test_bad_arguments(ELU, kwargs, error, match):
    with pytest.raises(error, match=match):
        ELU(**kwargs)


def test_imports_torch_only(backend):
    code = (
        "import sys, unielu.layers; a = {'torch', 'tensorflow', 'jax', 'keras', 'flax'}; "
        "print(sorted(a & set(sys.modules))); import unielu.layers.torch; "
        "print(sorted(a & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["[]", "['torch']"]
