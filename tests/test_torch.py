"""Contract lines of the PyTorch backend alone: gradcheck, torch.compile, default dtype."""

from __future__ import annotations

import functools

import pytest
from models import run_fresh

import unielu

pytestmark = pytest.mark.only("torch", reason="PyTorch's own machinery")


@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.7])
def test_gradcheck_and_gradgradcheck(backend, alpha):
    torch = backend.torch
    x = torch.tensor(
        [-30.0, -2.0, -0.5, -1e-3, 1e-3, 0.7, 3.0], dtype=torch.float64, device=backend.device
    ).requires_grad_(True)
    f = functools.partial(unielu.elu, alpha=alpha)
    assert torch.autograd.gradcheck(f, (x,))
    assert torch.autograd.gradgradcheck(f, (x,))


def test_gradient_through_compile_fullgraph(backend):
    torch = backend.torch
    torch._dynamo.reset()
    x = torch.tensor(
        [-30.0, -1e-30, -0.0, 0.0, 2.0, 1e30], device=backend.device, requires_grad=True
    )
    y = torch.compile(lambda v: unielu.elu(v, 1.7), fullgraph=True)(x)
    (g,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(g, unielu.elu_derivative(x.detach(), 1.7))


def test_first_call_inside_a_fullgraph_compile(backend):
    # A fresh process that imports unielu before torch, so that nothing has loaded
    # the backend: the dispatch's first lookup runs inside the compiled function.
    out = run_fresh(
        f"""
        import unielu, torch
        x = torch.tensor([-30.0, -1e-30, -0.0, 2.0], device={str(backend.device)!r})
        for func in (unielu.elu, unielu.elu_derivative):
            unielu._dispatch._CACHE.clear()
            torch._dynamo.reset()
            y = torch.compile(lambda v: func(v, 1.7), fullgraph=True)(x)
            assert torch.equal(y, func(x, 1.7)), (func, y, func(x, 1.7))
        print(sorted(unielu._dispatch._CACHE, key=str))
        """
    )
    assert "torch.Tensor" in out


@pytest.mark.parametrize("func", ["elu", "elu_derivative"])
def test_integers_promote_to_the_default_dtype(backend, func):
    # Integers and bool follow torch.get_default_dtype(), not a fixed float32.
    torch = backend.torch
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        x = torch.tensor([-1, 0, 2], device=backend.device)
        assert getattr(unielu, func)(x).dtype == torch.float64
    finally:
        torch.set_default_dtype(before)


@pytest.mark.parametrize("alpha", [1.0, 1.7])
def test_compiled_elu_fuses_as_f_elu_does(backend, alpha):
    # A convolution's bias, the ELU, and a layout change into the next layer (as
    # Keras on PyTorch gives it): Inductor fuses F.elu into one loop with its
    # neighbours. A pointwise body of too many operations it would write to memory
    # of its own first, and copy in a second loop: as many kernels and buffers as
    # F.elu's, or the compiled model pays passes over memory that F.elu's does not.
    # On the CPU whatever the session's device: the budget is that of Inductor's
    # C++ code (50 operations); its GPU code allows 30 (docs/backends/torch.rst).
    torch = backend.torch
    from torch._inductor.utils import run_and_get_code

    x = torch.randn(2, 8, 8, 16, device="cpu")
    bias = torch.randn(16, device="cpu")

    def code(elu):
        torch._dynamo.reset()
        f = torch.compile(lambda v, b: elu(v + b, alpha).permute(0, 3, 1, 2).contiguous())
        _, (source, *_) = run_and_get_code(f, x, bias)
        return source.count("async_compile."), source.count("empty_strided")

    assert code(unielu.elu) == code(torch.nn.functional.elu)
