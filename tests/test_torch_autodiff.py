"""PyTorch derivatives beyond plain autograd: forward mode (torch.func.jvp, jacfwd,
hessian, forward_ad dual tensors, forward over reverse), gradcheck with forward AD,
and tensor alpha: its checks, its gradients (against the mpmath reference), their
reduction to alpha's shape, and torch.compile."""

from __future__ import annotations

import functools

import mpmath
import numpy as np
import pytest
from reference import grid, numpy_dtype, ulp

import unielu

pytestmark = [
    pytest.mark.only("torch", reason="torch.func, forward_ad and tensor alpha are PyTorch's"),
    # make_dual loads PyTorch's own jvp decompositions through torch.jit.script, once.
    pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning"),
]

FUNCS = ("elu", "elu_derivative")
DTYPES = ("float16", "bfloat16", "float32", "float64")
ALPHAS = (0.0, 1.0, 1.7)
#: NaN, infinities, signed zeros, tiny and large negatives (alpha*exp(x) is subnormal
#: but not 0 at -100 in float32), values near 0 and positives.
SPECIAL = [np.nan, np.inf, -np.inf, -0.0, 0.0, -1e-30, -1e-3, -0.5, -17.0, -30.0, -100.0]
SPECIAL += [1e-3, 0.7, 3.0, 100.0]


@pytest.fixture
def torch(backend):
    return backend.torch


def assert_same(got, expected, label="", second=None):
    """Same values as elu_derivative, NaN where it is NaN (the formula is the same).

    ``second`` (the dtype name) for second derivatives: where the value is
    subnormal they may differ by one spacing, since autograd differentiates
    elu_derivative's (alpha * exp(x/2)) * exp(x/2) by the product rule.
    """
    got, expected = got.detach().cpu().double(), expected.detach().cpu().double()
    same = (got == expected) | (got.isnan() & expected.isnan())
    if second is not None:
        info = np.finfo(second)
        spacing = float(info.smallest_subnormal)
        same |= (expected.abs() < float(info.smallest_normal)) & ((got - expected).abs() <= spacing)
    assert bool(same.all()), (
        f"{label}: got {got[~same].tolist()} expected {expected[~same].tolist()}"
    )


# -- forward mode ----------------------------------------------------------------

ROUTES = [
    "torch.func.jvp",
    "torch.func.jvp (requires_grad)",
    "forward_ad dual tensor",
    "forward_ad dual tensor (requires_grad)",
    "torch.func.jacfwd diagonal",
]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_mode_tangent_is_elu_derivative(backend, torch, dtype, alpha, route):
    x = backend.asarray(SPECIAL, dtype)
    tangent = backend.forward_mode(x, alpha)[route]
    expected = unielu.elu_derivative(x, alpha)
    assert tangent.dtype == x.dtype
    assert_same(tangent, expected, route)


@pytest.mark.parametrize("route", ROUTES)
def test_forward_mode_contract_values(backend, torch, route):
    # The values the contract names, independently of elu_derivative.
    x = backend.asarray([np.nan, 0.0, -0.0, -100.0, 2.0], "float32")
    t = backend.forward_mode(x, 1.7)[route].cpu()
    assert t[0].isnan(), "NaN at NaN (PyTorch's own rule gives 1)"
    assert t[1] == t[2] == torch.tensor(1.7, dtype=torch.float32), "alpha at 0"
    assert 0 < t[3] < 1e-40, "alpha*exp(-100) is subnormal in float32, not 0"
    assert t[4] == 1


def second_derivative(torch, x, alpha):
    """alpha*exp(x) for x <= 0, 0 for x > 0 (NaN at NaN)."""
    return torch.where(x > 0, 0.0, unielu.elu_derivative(x, alpha))


@pytest.mark.parametrize("requires_grad", [False, True], ids=["plain", "requires_grad"])
@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_hessian_diagonal(backend, torch, dtype, alpha, requires_grad):
    x = backend.asarray(SPECIAL, dtype).requires_grad_(requires_grad)
    h = torch.func.hessian(lambda v: unielu.elu(v, alpha).sum())(x)
    assert_same(h.diagonal(), second_derivative(torch, x.detach(), alpha), "hessian", dtype)
    off = h - torch.diag_embed(h.diagonal())
    assert bool((off[~off.isnan()] == 0).all())


@pytest.mark.parametrize(
    "route", ["torch.func.jvp of torch.func.grad", "dual tensor through autograd.grad"]
)
@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_forward_over_reverse(backend, torch, dtype, alpha, route):
    x = backend.asarray(SPECIAL, dtype)
    ones = torch.ones_like(x)
    if route == "torch.func.jvp of torch.func.grad":
        grad = torch.func.grad(lambda v: unielu.elu(v, alpha).sum())
        first, second = torch.func.jvp(grad, (x,), (ones,))
    else:
        fwad = torch.autograd.forward_ad
        with fwad.dual_level():
            dual = fwad.make_dual(x.clone().requires_grad_(True), ones)
            (g,) = torch.autograd.grad(unielu.elu(dual, alpha).sum(), dual, create_graph=True)
            first, second = fwad.unpack_dual(g)
    assert_same(first, unielu.elu_derivative(x, alpha), "first")
    assert_same(second, second_derivative(torch, x, alpha), "second", dtype)


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("func", FUNCS)
def test_gradcheck_with_forward_ad(backend, torch, func, alpha):
    x = backend.asarray([-30.0, -2.0, -0.5, -1e-3, 1e-3, 0.7, 3.0], "float64")
    f = functools.partial(getattr(unielu, func), alpha=alpha)
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(f, (x,), check_forward_ad=True, check_batched_grad=True)
    assert torch.autograd.gradgradcheck(f, (x,), check_fwd_over_rev=True)


@pytest.mark.parametrize("alpha_shape", [(), (7,), (1,)], ids=["0-d", "per element", "(1,)"])
@pytest.mark.parametrize("func", FUNCS)
def test_gradcheck_with_tensor_alpha(backend, torch, func, alpha_shape):
    x = backend.asarray([-30.0, -2.0, -0.5, -1e-3, 1e-3, 0.7, 3.0], "float64")
    n = int(np.prod(alpha_shape))
    alpha = backend.asarray(1.3 + 0.1 * np.arange(n).reshape(alpha_shape), "float64")
    inputs = (x.requires_grad_(True), alpha.requires_grad_(True))
    f = getattr(unielu, func)
    assert torch.autograd.gradcheck(f, inputs, check_forward_ad=True, check_batched_grad=True)
    assert torch.autograd.gradgradcheck(f, inputs, check_fwd_over_rev=True)


# -- tensor alpha ------------------------------------------------------------------


@functools.cache
def exact_alpha_gradient(func, dtype):
    """d func / d alpha on grid(dtype): expm1(x) (elu) or exp(x) (elu_derivative) for
    x <= 0, and 0 for x > 0, as 256-bit numbers."""
    exact = mpmath.expm1 if func == "elu" else mpmath.exp
    return tuple(mpmath.mpf(0) if v > 0 else exact(mpmath.mpf(v)) for v in grid(dtype).tolist())


def alpha_gradient_ulp(got, func, dtype):
    errors = []
    for y, ref in zip(got.tolist(), exact_alpha_gradient(func, dtype), strict=True):
        errors.append(
            float(abs(mpmath.mpf(y) - ref) / ulp(ref, dtype)) if np.isfinite(y) else np.inf
        )
    return np.array(errors)


ALPHA_ROUTES = ["autograd backward", "torch.func.grad"]


@pytest.mark.parametrize("route", ALPHA_ROUTES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("func", FUNCS)
def test_alpha_gradient_accuracy(backend, torch, func, dtype, route):
    # One alpha per element, so each gradient element is one exact value.
    x_values = grid(dtype)
    x = backend.asarray(x_values, dtype)
    alpha = backend.asarray(np.full(x_values.shape, 1.7), dtype)
    pair = backend.alpha_gradients(x, alpha)[route]
    got = pair[FUNCS.index(func)]
    assert got.shape == alpha.shape and got.dtype == alpha.dtype
    errors = alpha_gradient_ulp(backend.to_numpy(got), func, dtype)
    worst = int(np.argmax(errors))
    assert errors.max() <= backend.ulp, f"{errors[worst]:.2f} ULP at x={x_values[worst]!r}"


@pytest.mark.parametrize("route", ALPHA_ROUTES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("func", FUNCS)
def test_per_channel_alpha_gradient_is_reduced_to_its_shape(backend, torch, func, dtype, route):
    rng = np.random.default_rng(3)
    x_values = rng.normal(scale=3, size=(2, 3, 4, 5))
    x = backend.asarray(x_values, dtype)
    alpha = backend.asarray([[[0.5]], [[1.0]], [[2.0]]], dtype)  # (3, 1, 1): one per channel
    got = backend.alpha_gradients(x, alpha)[route][FUNCS.index(func)]
    assert got.shape == (3, 1, 1) and got.dtype == alpha.dtype
    factor = np.expm1(x_values) if func == "elu" else np.exp(x_values)
    expected = np.where(x_values > 0, 0.0, factor).sum(axis=(0, 2, 3)).reshape(3, 1, 1)
    np.testing.assert_allclose(
        backend.to_numpy(got), expected, rtol=1e-5 if dtype == "float32" else 1e-12
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("func", FUNCS)
def test_tensor_alpha_values_match_scalar_alpha(backend, torch, func, dtype):
    x = backend.asarray(np.tile(SPECIAL, (3, 1)), dtype)
    alphas = [0.0, 0.5, 1.7]
    alpha = backend.asarray(np.array(alphas).reshape(3, 1), dtype)
    y = getattr(unielu, func)(x, alpha)
    assert y.dtype == x.dtype and y.shape == x.shape
    eps = float(backend.torch.finfo(x.dtype).eps)
    for row, a in enumerate(alphas):
        expected = getattr(unielu, func)(x[row], float(np.asarray(a, numpy_dtype(dtype))))
        # The same formula: at most a rounding apart (FMA contraction on a GPU).
        backend.torch.testing.assert_close(y[row], expected, rtol=2 * eps, atol=0, equal_nan=True)
        zeros = expected == 0
        assert bool((y[row][zeros].signbit() == expected[zeros].signbit()).all()), "sign of 0"


@pytest.mark.parametrize("alpha_dtype", ["float16", "float64", "int32", "uint8"])
@pytest.mark.parametrize("func", FUNCS)
def test_alpha_dtype_does_not_change_the_result_dtype(backend, torch, func, alpha_dtype):
    x = backend.asarray([-2.0, -0.5, 0.0, 1.5], "float32")
    alpha = backend.asarray(2, alpha_dtype)
    y = getattr(unielu, func)(x, alpha)
    assert y.dtype == torch.float32
    assert_same(y, getattr(unielu, func)(x, 2.0))


@pytest.mark.parametrize("func", FUNCS)
def test_mixed_second_derivative_and_forward_mode_in_alpha(backend, torch, func):
    x = backend.asarray([-30.0, -2.0, -1e-30, -0.0, 0.0, 0.5, 3.0], "float64")
    alpha = backend.asarray(np.full(7, 1.3), "float64")
    f = getattr(unielu, func)
    exact = torch.where(x > 0, 0.0, torch.exp(x))  # d^2 elu / dx dalpha, d elu' / dalpha
    # Reverse over reverse: d/dx of d sum(elu)/d alpha.
    xg, ag = x.clone().requires_grad_(True), alpha.clone().requires_grad_(True)
    (g_alpha,) = torch.autograd.grad(f(xg, ag).sum(), ag, create_graph=True)
    (mixed,) = torch.autograd.grad(g_alpha.sum(), xg)
    # Forward mode along alpha.
    _, tangent = torch.func.jvp(lambda a: f(x, a), (alpha,), (torch.ones_like(alpha),))
    # d/dx of expm1(x) and of exp(x) are both exp(x), for x <= 0.
    torch.testing.assert_close(mixed, exact, rtol=1e-15, atol=0)
    expected_tangent = torch.where(x > 0, 0.0, torch.expm1(x)) if func == "elu" else exact
    torch.testing.assert_close(tangent, expected_tangent, rtol=1e-15, atol=0)


@pytest.mark.parametrize("alpha_shape", ["per element", "per row"])
@pytest.mark.parametrize("func", FUNCS)
def test_tensor_alpha_under_torch_compile(backend, torch, func, alpha_shape):
    torch._dynamo.reset()
    f = getattr(unielu, func)
    row = [-1e-30, -1e-10, -0.0, 0.0, -3.0, 2.0, -100.0]
    x = backend.asarray([row, row], "float32")
    per_row = np.array([[1.5], [0.5]])
    alpha = backend.asarray(
        per_row if alpha_shape == "per row" else per_row + 0 * x.cpu().numpy(), "float32"
    )
    compiled = torch.compile(lambda v, a: f(v, a), fullgraph=True)

    def run(fn):
        xg, ag = x.clone().requires_grad_(True), alpha.clone().requires_grad_(True)
        y = fn(xg, ag)
        return (y, *torch.autograd.grad(y.sum(), (xg, ag)))

    eager, got = run(f), run(compiled)
    for label, e, g in zip(["value", "d/dx", "d/dalpha"], eager, got, strict=True):
        torch.testing.assert_close(g, e, rtol=2**-22, atol=0, equal_nan=True, msg=label)
        assert g.shape == e.shape and g.dtype == e.dtype
    if alpha_shape == "per element":
        # expm1 (elu) stays accurate in the compiled alpha gradient: not 0 for tiny x,
        # and the x gradient alpha*exp(-100) is not flushed to 0.
        d_alpha, d_x = got[2].cpu(), got[1].cpu()
        if func == "elu":
            assert d_alpha[0, 0] == pytest.approx(-1e-30) and d_alpha[0, 1] == pytest.approx(-1e-10)
            assert d_x[0, 6] == pytest.approx(1.5 * np.exp(-100.0), rel=1e-3)
        else:
            assert d_alpha[0, 6] == pytest.approx(np.exp(-100.0), rel=1e-3)


REFUSED_ALPHAS = {
    "NumPy array": (lambda backend: np.ones(3), TypeError),
    "bool tensor": (lambda backend: backend.asarray([True], "bool"), TypeError),
    "complex tensor": (
        lambda backend: backend.torch.ones(1, dtype=backend.torch.complex64),
        TypeError,
    ),
    "does not broadcast": (lambda backend: backend.asarray(np.ones(2), "float32"), ValueError),
    "would change x's shape": (
        lambda backend: backend.asarray(np.ones((2, 3)), "float32"),
        ValueError,
    ),
    "other device (meta)": (lambda backend: backend.torch.ones(3, device="meta"), TypeError),
}


@pytest.mark.parametrize("label", list(REFUSED_ALPHAS))
@pytest.mark.parametrize("func", FUNCS)
def test_bad_tensor_alpha_is_refused(backend, torch, func, label):
    make, error = REFUSED_ALPHAS[label]
    x = backend.asarray([-1.0, 0.0, 2.0], "float32")
    with pytest.raises(error, match="'alpha'"):
        getattr(unielu, func)(x, make(backend))
