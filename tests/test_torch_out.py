"""PyTorch ``out=``: the write, in place, and every refusal (autograd, device, overlap).

Each refusal must name 'out' and leave ``x`` and ``out`` as they were.
"""

from __future__ import annotations

import numpy as np
import pytest

import unielu

pytestmark = [
    pytest.mark.only("torch", reason="PyTorch's out= rules: autograd, devices, views"),
    # make_dual loads PyTorch's own jvp decompositions through torch.jit.script, once.
    pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning"),
]

FUNCS = ("elu", "elu_derivative")
DTYPES = ("float16", "bfloat16", "float32", "float64")
ALPHAS = (0.0, 1.7)
VALUES = [np.nan, np.inf, -np.inf, -0.0, 0.0, -1e-30, -3.0, -100.0, 0.5, 2.0]


@pytest.fixture
def torch(backend):
    return backend.torch


def same_bits(a, b):
    """Equal values, NaN where NaN, and the same sign of zeros."""
    a, b = a.detach().cpu().double(), b.detach().cpu().double()
    return bool(((a == b) | (a.isnan() & b.isnan())).all() and (a.signbit() == b.signbit()).all())


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("func", FUNCS)
def test_out_gets_the_out_of_place_result(backend, torch, func, dtype, alpha):
    x = backend.asarray(VALUES, dtype)
    expected = getattr(unielu, func)(x, alpha)
    out = torch.full_like(x, 42.0)
    result = getattr(unielu, func)(x, alpha, out=out)
    assert result is out
    assert same_bits(out, expected)


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("func", FUNCS)
def test_in_place_gives_the_same_values(backend, torch, func, dtype, alpha):
    x = backend.asarray(VALUES, dtype)
    expected = getattr(unielu, func)(x, alpha)
    result = getattr(unielu, func)(x, alpha, out=x)
    assert result is x
    assert same_bits(x, expected)


@pytest.mark.parametrize("func", FUNCS)
def test_in_place_on_a_strided_view(backend, torch, func):
    base = backend.asarray(np.linspace(-3, 3, 24).reshape(4, 6), "float32")
    view = base.t()[::2]
    expected = getattr(unielu, func)(view.clone(), 1.3)
    getattr(unielu, func)(view, 1.3, out=view)
    assert same_bits(view, expected)


@pytest.mark.parametrize("func", FUNCS)
def test_integer_input_writes_the_default_dtype(backend, torch, func):
    x = backend.asarray([-2, 0, 3], "int32")
    out = torch.empty(3, dtype=torch.get_default_dtype(), device=x.device)
    assert getattr(unielu, func)(x, 1.5, out=out) is out
    assert same_bits(out, getattr(unielu, func)(x, 1.5))


@pytest.mark.parametrize("func", FUNCS)
def test_tensor_alpha_with_out(backend, torch, func):
    x = backend.asarray(np.linspace(-3, 3, 12).reshape(3, 4), "float32")
    alpha = backend.asarray([[0.5], [1.0], [2.0]], "float32")
    out = torch.empty_like(x)
    assert getattr(unielu, func)(x, alpha, out=out) is out
    assert same_bits(out, getattr(unielu, func)(x, alpha))


def _refusals(backend, torch):
    """label -> (x, out, expected error): each out must be refused."""
    x = backend.asarray([-1.0, 0.5, 2.0, -3.0], "float32")
    base = backend.asarray(np.linspace(-1, 1, 5), "float32")
    with torch.inference_mode():
        inference = torch.empty_like(x)
    return {
        "NumPy array": (x, np.empty(4, np.float32), TypeError),
        "list": (x, [0.0] * 4, TypeError),
        "float64 for float32 x": (x, torch.empty_like(x, dtype=torch.float64), TypeError),
        "int32 for int32 x": (
            backend.asarray([1, 2], "int32"),
            backend.asarray([0, 0], "int32"),
            TypeError,
        ),
        "float16 for int x (result is the default dtype)": (
            backend.asarray([1, 2], "int64"),
            backend.asarray([0, 0], "float16"),
            TypeError,
        ),
        "other device (meta)": (x, torch.empty(4, device="meta"), TypeError),
        "wrong shape": (x, torch.empty(2, 2, device=x.device), ValueError),
        "one element too many": (x, torch.empty(5, device=x.device), ValueError),
        "partial overlap": (base[:4], base[1:], ValueError),
        "same memory, other strides": (base[:4].view(2, 2), base[:4].view(2, 2).t(), ValueError),
        "x's memory as another dtype": (
            backend.asarray([1, 2], "int32"),
            None,  # filled below: x's bytes seen as float32
            ValueError,
        ),
        "expanded (elements share memory)": (
            x,
            torch.zeros(1, device=x.device).expand(4),
            ValueError,
        ),
        "inference tensor outside inference_mode": (x, inference, ValueError),
    }


REFUSALS = [
    "NumPy array",
    "list",
    "float64 for float32 x",
    "int32 for int32 x",
    "float16 for int x (result is the default dtype)",
    "other device (meta)",
    "wrong shape",
    "one element too many",
    "partial overlap",
    "same memory, other strides",
    "x's memory as another dtype",
    "expanded (elements share memory)",
    "inference tensor outside inference_mode",
]


def snapshot(t):
    if hasattr(t, "detach") and t.device.type != "meta":
        return t.detach().clone()
    return t


def assert_untouched(before, after):
    if hasattr(after, "detach") and after.device.type != "meta":
        assert same_bits(before, after), "an input was modified by a refused call"


def refuse(func, x, out, error, **kwargs):
    before_x, before_out = snapshot(x), snapshot(out)
    with pytest.raises(error, match="'out'") as info:
        getattr(unielu, func)(x, out=out, **kwargs)
    assert_untouched(before_x, x)
    assert_untouched(before_out, out)
    return str(info.value)


@pytest.mark.parametrize("label", REFUSALS)
@pytest.mark.parametrize("func", FUNCS)
def test_bad_out_is_refused_before_anything_is_written(backend, torch, func, label):
    x, out, error = _refusals(backend, torch)[label]
    if out is None:
        out = x.view(torch.float32)
    message = refuse(func, x, out, error)
    assert "accepted" in message and "got" in message


# -- autograd ------------------------------------------------------------------


def _autograd_cases(backend, torch):
    """label -> (x, out, alpha): calls autograd cannot record, so out= is refused."""

    def data():
        return backend.asarray([-1.0, 0.5, 2.0, -3.0], "float32")

    leaf = data().requires_grad_(True)
    big_leaf = backend.asarray(np.zeros(8), "float32").requires_grad_(True)
    return {
        "x requires grad": (data().requires_grad_(True), torch.empty(4, device=leaf.device), 1.0),
        "in place on a leaf that requires grad": (leaf, leaf, 1.0),
        "out requires grad": (data(), data().requires_grad_(True), 1.0),
        "out a view of a leaf": (data(), big_leaf[:4], 1.0),
        "alpha requires grad": (
            data(),
            torch.empty(4, device=leaf.device),
            backend.asarray(1.5, "float32").requires_grad_(True),
        ),
    }


AUTOGRAD = [
    "x requires grad",
    "in place on a leaf that requires grad",
    "out requires grad",
    "out a view of a leaf",
    "alpha requires grad",
]


@pytest.mark.parametrize("label", AUTOGRAD)
@pytest.mark.parametrize("func", FUNCS)
def test_out_is_refused_where_autograd_would_record(backend, torch, func, label):
    x, out, alpha = _autograd_cases(backend, torch)[label]
    message = refuse(func, x, out, ValueError, alpha=alpha)
    assert "requires grad" in message and "no_grad" in message


@pytest.mark.parametrize("label", AUTOGRAD)
@pytest.mark.parametrize("func", FUNCS)
def test_the_same_calls_work_under_no_grad(backend, torch, func, label):
    x, out, alpha = _autograd_cases(backend, torch)[label]
    with torch.no_grad():
        expected = getattr(unielu, func)(x.detach().clone(), alpha)
        assert getattr(unielu, func)(x, alpha, out=out) is out
    assert same_bits(out, expected)


@pytest.mark.parametrize("func", FUNCS)
def test_out_is_refused_for_a_dual_tensor(backend, torch, func):
    fwad = torch.autograd.forward_ad
    x = backend.asarray([-1.0, 0.5, 2.0], "float32")
    out = torch.empty_like(x)
    with fwad.dual_level():
        dual = fwad.make_dual(x, torch.ones_like(x))
        message = refuse(func, dual, out, ValueError)
        # A plain x inside dual_level has no tangent to lose: out= works.
        assert getattr(unielu, func)(x, 1.0, out=out) is out
    assert "forward-mode" in message


@pytest.mark.parametrize("transform", ["vmap", "grad", "jvp"])
@pytest.mark.parametrize("func", FUNCS)
def test_out_is_refused_inside_torch_func_transforms(backend, torch, func, transform):
    x = backend.asarray([[-1.0, 0.5], [2.0, -3.0]], "float32")
    out = torch.empty(2, device=x.device)

    def f(v):
        return getattr(unielu, func)(v, 1.0, out=out).sum()

    with pytest.raises(ValueError, match=r"'out'.*torch\.func"):
        if transform == "vmap":
            torch.func.vmap(f)(x)
        elif transform == "grad":
            torch.func.grad(f)(x[0])
        else:
            torch.func.jvp(f, (x[0],), (torch.ones(2, device=x.device),))


@pytest.mark.parametrize("func", FUNCS)
def test_out_under_torch_compile(backend, torch, func):
    torch._dynamo.reset()
    fn = getattr(unielu, func)
    x = backend.asarray([-1e-30, -0.0, 0.0, -3.0, 2.0, np.nan], "float32")
    expected = fn(x, 1.5)
    out = torch.empty_like(x)
    compiled = torch.compile(lambda v, o: fn(v, 1.5, out=o), fullgraph=True)
    compiled(x, out)
    assert same_bits(out, expected)
    in_place = torch.compile(lambda v: fn(v, 1.5, out=v), fullgraph=True)
    y = x.clone()
    in_place(y)
    assert same_bits(y, expected)
